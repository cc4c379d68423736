// Package stream runs slhf's stages: the learn stage, which turns
// feedback messages into StackelbergGDA steps and checkpoints, and the
// refine stage, which rewrites responses with the latest Follower
// snapshot. It owns micro-batching, bounded queues, per-partition
// ordering, offset bookkeeping and graceful shutdown; it never decodes
// bytes (ingest does) and never does the mathematics (learner does).
package stream

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/slhf-dev/slhf/learner"
)

// Snapshots hands the newest model snapshot to the refine stage. The swap
// is atomic: a reader holds either the old or the new snapshot, never a
// mix. Safe for concurrent use.
type Snapshots struct {
	cur   atomic.Pointer[published]
	once  sync.Once
	ready chan struct{} // closed by the first Store
}

type published struct {
	snap *learner.Snapshot
	at   time.Time // when the model was checkpointed
}

// NewSnapshots returns an empty holder.
func NewSnapshots() *Snapshots {
	return &Snapshots{ready: make(chan struct{})}
}

// Load returns the current snapshot, or nil before the first Store.
func (s *Snapshots) Load() *learner.Snapshot {
	if p := s.cur.Load(); p != nil {
		return p.snap
	}
	return nil
}

// Age is the time since the current snapshot was checkpointed, or -1
// before the first Store.
func (s *Snapshots) Age() time.Duration {
	if p := s.cur.Load(); p != nil {
		return time.Since(p.at)
	}
	return -1
}

// Store publishes snap, checkpointed at the given time, to every later
// Load.
func (s *Snapshots) Store(snap *learner.Snapshot, at time.Time) {
	s.cur.Store(&published{snap: snap, at: at})
	s.once.Do(func() { close(s.ready) })
}

// Ready is closed once the first snapshot is stored.
func (s *Snapshots) Ready() <-chan struct{} { return s.ready }
