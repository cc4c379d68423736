package stream

import (
	"context"
	"testing"
	"time"

	"github.com/slhf-dev/slhf/learner"
	"github.com/slhf-dev/slhf/sinks"
)

// TestReloader checks that a refiner picks up a newer checkpoint of its
// lineage and refuses another lineage's.
func TestReloader(t *testing.T) {
	dir := t.TempDir()
	w, err := sinks.OpenCheckpointStore(dir, 3, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := learner.DefaultConfig()
	save := func(step int64, fingerprint string) {
		m, err := learner.New(cfg, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		tensors, meta := m.State()
		if _, err := w.Save(context.Background(), &sinks.Checkpoint{Step: step,
			Fingerprint: fingerprint, Tensors: tensors, Meta: meta,
			CreatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	r, err := sinks.OpenCheckpointReader(dir, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	snaps := NewSnapshots()
	rl := &Reloader{Store: r, Fingerprint: "fp", Snapshots: snaps, Poll: time.Hour,
		Build: func() (*learner.Model, error) { return learner.New(cfg, nil, nil) }}
	rl.setup(nil)

	rl.reload() // nothing yet
	if snaps.Load() != nil {
		t.Fatal("snapshot before any checkpoint")
	}
	save(5, "fp")
	rl.reload()
	if snaps.Load() == nil || rl.current != 5 {
		t.Fatalf("after a checkpoint: loaded %d", rl.current)
	}
	save(9, "other")
	rl.reload()
	if rl.current != 9 || snaps.Age() < 0 {
		t.Fatalf("another lineage must be skipped, not retried: current %d", rl.current)
	}
	select {
	case <-snaps.Ready():
	default:
		t.Fatal("Ready not closed after the first snapshot")
	}
}
