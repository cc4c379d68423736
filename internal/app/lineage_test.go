package app

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/slhf-dev/slhf/internal/testkit"
	"github.com/slhf-dev/slhf/stream"
)

// TestChangedConfigRefusesOldModel checks that a checkpoint written under
// one learner configuration is not silently continued under another: the
// run refuses, naming the fix, unless a new lineage is asked for.
func TestChangedConfigRefusesOldModel(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the service three times")
	}
	cfg := singlePartition(t, startBroker(t))
	if err := produceAfterTopics(context.Background(), cfg, feedbackMessages(t, cfg, 64)); err != nil {
		t.Fatal(err)
	}
	first := learnUntilDrained(t, cfg)

	changed := cfg
	changed.Learner.Hidden = cfg.Learner.Hidden * 2
	if changed.Fingerprint() == cfg.Fingerprint() {
		t.Fatal("a different hidden width must change the fingerprint")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	end := map[int]int64{0: first.Offsets[0]}
	_, err := Run(ctx, changed, Options{Logger: testLogger(t), LearnEnd: end})
	if !errors.Is(err, stream.ErrFingerprint) {
		t.Fatalf("run with a changed config: err = %v, want ErrFingerprint", err)
	}

	changed.Checkpoint.NewLineage = true
	rep, err := Run(ctx, changed, Options{Logger: testLogger(t), LearnEnd: end})
	if err != nil {
		t.Fatalf("new lineage: %v", err)
	}
	if rep.Resumed || rep.Learn.Learned != 64 {
		t.Fatalf("new lineage resumed=%v learned=%d, want a fresh model over all 64 events",
			rep.Resumed, rep.Learn.Learned)
	}
	ckp := testkit.LatestCheckpoint(t, cfg.Checkpoint.Dir)
	if ckp.Fingerprint != changed.Fingerprint() || ckp.Step <= first.ModelVersion {
		t.Fatalf("newest checkpoint: fingerprint %s step %d; want %s after step %d",
			ckp.Fingerprint, ckp.Step, changed.Fingerprint(), first.ModelVersion)
	}
}
