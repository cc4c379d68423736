// Package stream runs slhf's stages: the learn stage, which turns
// feedback messages into StackelbergGDA steps and checkpoints, and the
// refine stage, which rewrites responses with the latest Follower
// snapshot. It owns micro-batching, bounded queues, per-partition
// ordering, offset bookkeeping and graceful shutdown; it never decodes
// bytes (ingest does) and never does the mathematics (learner does).
package stream

import (
	"sync/atomic"

	"github.com/slhf-dev/slhf/learner"
)

// Snapshots hands the newest model snapshot from the learn stage to the
// refine stage. The swap is atomic: a reader holds either the old or the
// new snapshot, never a mix. Safe for concurrent use; the zero value holds
// no snapshot.
type Snapshots struct {
	cur     atomic.Pointer[learner.Snapshot]
	changed chan struct{} // closed and replaced on every Store
	ready   atomic.Bool
}

// NewSnapshots returns an empty holder.
func NewSnapshots() *Snapshots {
	return &Snapshots{changed: make(chan struct{})}
}

// Load returns the current snapshot, or nil before the first Store.
func (s *Snapshots) Load() *learner.Snapshot { return s.cur.Load() }

// Store publishes snap to every later Load.
func (s *Snapshots) Store(snap *learner.Snapshot) {
	s.cur.Store(snap)
	if s.ready.CompareAndSwap(false, true) {
		close(s.changed)
	}
}

// Ready is closed once the first snapshot is stored.
func (s *Snapshots) Ready() <-chan struct{} { return s.changed }
