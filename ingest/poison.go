package ingest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/slhf-dev/slhf/schemas"
)

// ReasonPoison is the dead-letter reason of a message that was being
// decoded during the last crashes and is therefore not decoded again.
const ReasonPoison = string(schemas.ReasonPoisonMessage)

// PoisonGuard breaks crash loops. Some corrupt Arrow headers make the
// decoder allocate without bound and the Go runtime dies of out-of-memory,
// which recover cannot catch; since the learner resumes from its checkpoint
// offsets, such a message would kill it again on every restart.
//
// Before decoding, the guard writes the message's position to a marker
// file and clears it afterwards. The write is not fsynced: the page cache
// survives the death of the process (OOM, SIGKILL), which is the failure
// this guards against, and an fsync per message would cost milliseconds.
// On start, a marker still present names the message in flight when the
// process died; the guard counts consecutive deaths on the same message,
// and once the count reaches the limit, [PoisonGuard.Poisoned] reports it
// so the caller dead-letters it without decoding.
//
// Safe for concurrent use, but it tracks one message in flight at a time:
// callers decode sequentially, as the learner does.
type PoisonGuard struct {
	dir   string
	limit int

	mu      sync.Mutex // protects crashes and file writes
	crashes map[string]int
	file    *os.File
}

type poisonState struct {
	// Crashes counts consecutive deaths per message position.
	Crashes map[string]int `json:"crashes"`
}

// OpenPoisonGuard reads the state in dir (created if missing), folds a
// leftover in-flight marker into the crash counts, and returns a guard that
// calls a message poison after limit crashes with it in flight.
func OpenPoisonGuard(dir string, limit int) (*PoisonGuard, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("open poison guard: %w", err)
	}
	g := &PoisonGuard{dir: dir, limit: limit, crashes: map[string]int{}}
	if err := g.load(); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(g.markerPath(), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open poison marker: %w", err)
	}
	g.file = f
	return g, nil
}

func (g *PoisonGuard) markerPath() string { return filepath.Join(g.dir, "inflight") }
func (g *PoisonGuard) statePath() string  { return filepath.Join(g.dir, "crashes.json") }

func (g *PoisonGuard) load() error {
	b, err := os.ReadFile(g.statePath())
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("read crash counts: %w", err)
	}
	if len(b) > 0 {
		var st poisonState
		if err := json.Unmarshal(b, &st); err != nil {
			return fmt.Errorf("parse crash counts %s: %w", g.statePath(), err)
		}
		if st.Crashes != nil {
			g.crashes = st.Crashes
		}
	}
	marker, err := os.ReadFile(g.markerPath())
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("read poison marker: %w", err)
	}
	if key := string(trimZero(marker)); key != "" {
		g.crashes[key]++
		return g.saveLocked()
	}
	return nil
}

func trimZero(b []byte) []byte {
	for i, c := range b {
		if c == 0 || c == '\n' {
			return b[:i]
		}
	}
	return b
}

func (g *PoisonGuard) saveLocked() error {
	b, err := json.Marshal(poisonState{Crashes: g.crashes})
	if err != nil {
		return fmt.Errorf("encode crash counts: %w", err)
	}
	tmp := g.statePath() + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("write crash counts: %w", err)
	}
	if err := os.Rename(tmp, g.statePath()); err != nil {
		return fmt.Errorf("write crash counts: %w", err)
	}
	return nil
}

func positionKey(topic string, partition int, offset int64) string {
	return fmt.Sprintf("%s/%d/%d", topic, partition, offset)
}

// Poisoned reports whether the message at this position was in flight
// during the last limit crashes.
func (g *PoisonGuard) Poisoned(topic string, partition int, offset int64) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.crashes[positionKey(topic, partition, offset)] >= g.limit
}

// Crashes returns how many consecutive crashes happened with the message
// at this position in flight.
func (g *PoisonGuard) Crashes(topic string, partition int, offset int64) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.crashes[positionKey(topic, partition, offset)]
}

// Begin marks the message as in flight. Call [PoisonGuard.End] once its
// decoding returned, whatever the outcome.
func (g *PoisonGuard) Begin(topic string, partition int, offset int64) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	key := positionKey(topic, partition, offset) + "\n"
	// A fixed-size record overwritten in place keeps this to one pwrite.
	rec := make([]byte, 256)
	copy(rec, key)
	if _, err := g.file.WriteAt(rec, 0); err != nil {
		return fmt.Errorf("mark message in flight: %w", err)
	}
	return nil
}

// End clears the in-flight mark and forgets crashes of that message, which
// has now been decoded (or rejected) without killing the process.
func (g *PoisonGuard) End(topic string, partition int, offset int64) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, err := g.file.WriteAt(make([]byte, 256), 0); err != nil {
		return fmt.Errorf("clear in-flight mark: %w", err)
	}
	key := positionKey(topic, partition, offset)
	if _, ok := g.crashes[key]; ok {
		delete(g.crashes, key)
		return g.saveLocked()
	}
	return nil
}

// Close releases the marker file. It is idempotent.
func (g *PoisonGuard) Close() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.file == nil {
		return nil
	}
	err := g.file.Close()
	g.file = nil
	return err
}
