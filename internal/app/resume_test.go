package app

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/slhf-dev/slhf/config"
	"github.com/slhf-dev/slhf/ingest"
	"github.com/slhf-dev/slhf/internal/testkit"
	"github.com/slhf-dev/slhf/schemas"
)

// startBroker starts an embedded broker for one test.
func startBroker(t *testing.T) []string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.Ports(0), kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

// feedbackMessages encodes the first n bundled feedback events in
// messages of cfg.Embedded.RowsPerMessage rows.
func feedbackMessages(t *testing.T, cfg config.Config, n int) [][]byte {
	t.Helper()
	b, err := LoadBundle(0, n, 7)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := EncodeChunks(b.Feedback, cfg.Embedded.RowsPerMessage, 1<<20,
		schemas.EncodePreferences)
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

// learnUntilDrained runs the learn stage until the feedback topic's
// current end.
func learnUntilDrained(t *testing.T, cfg config.Config) Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	end, err := ingest.EndOffsets(ctx, ingest.ReaderConfig{
		Brokers: cfg.Kafka.Brokers, Topic: cfg.Topics.Feedback,
	})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(ctx, cfg, Options{Logger: testLogger(t), LearnEnd: end})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return rep
}

// singlePartition is a config whose steps are exactly one message each,
// so that where a run stops cannot change what the model sees.
func singlePartition(t *testing.T, brokers []string) config.Config {
	cfg := testConfig(t)
	cfg.Kafka.Brokers = brokers
	cfg.Kafka.Partitions = 1
	cfg.Refine.Enabled = false
	cfg.Embedded.RowsPerMessage = 16
	cfg.Stream.BatchEvents = 16
	cfg.Checkpoint.EverySteps = 5
	return cfg
}

// TestResumeIsExactlyOnce stops and restarts the learner between
// messages and compares the final model with an uninterrupted run over
// the same single partition: every parameter must be bit-identical, which
// holds only if each event changed the model exactly once.
func TestResumeIsExactlyOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the service four times")
	}
	const events = 640
	ctx := context.Background()

	// Uninterrupted reference run.
	ref := singlePartition(t, startBroker(t))
	msgs := feedbackMessages(t, ref, events)
	if err := produceAfterTopics(ctx, ref, msgs); err != nil {
		t.Fatal(err)
	}
	repRef := learnUntilDrained(t, ref)
	if repRef.Learn.Learned != events {
		t.Fatalf("reference run learned %d of %d", repRef.Learn.Learned, events)
	}

	// The same messages in three slices, the service restarted between.
	cfg := singlePartition(t, startBroker(t))
	cuts := []int{0, len(msgs) / 3, 2 * len(msgs) / 3, len(msgs)}
	learned := 0
	for i := 0; i+1 < len(cuts); i++ {
		if err := produceAfterTopics(ctx, cfg, msgs[cuts[i]:cuts[i+1]]); err != nil {
			t.Fatal(err)
		}
		rep := learnUntilDrained(t, cfg)
		if (i > 0) != rep.Resumed {
			t.Fatalf("run %d: resumed = %v", i, rep.Resumed)
		}
		learned += rep.Learn.Learned
		if got, want := rep.Offsets[0], int64(cuts[i+1]); got != want {
			t.Fatalf("run %d ended at offset %d, want %d", i, got, want)
		}
	}
	if learned != events {
		t.Fatalf("restarted runs learned %d events in all, want %d", learned, events)
	}
	// A run with nothing new learns nothing.
	if rep := learnUntilDrained(t, cfg); rep.Learn.Learned != 0 || !rep.Resumed {
		t.Fatalf("idle restart learned %d (resumed %v)", rep.Learn.Learned, rep.Resumed)
	}

	a := testkit.LatestCheckpoint(t, ref.Checkpoint.Dir)
	b := testkit.LatestCheckpoint(t, cfg.Checkpoint.Dir)
	if a.Step != b.Step {
		t.Fatalf("steps differ: uninterrupted %d, restarted %d", a.Step, b.Step)
	}
	compareTensors(t, a.Tensors, b.Tensors)
	if a.Offsets[ref.Topics.Feedback][0] != int64(len(msgs)) ||
		b.Offsets[cfg.Topics.Feedback][0] != int64(len(msgs)) {
		t.Fatalf("checkpoint offsets %v and %v, want %d", a.Offsets, b.Offsets, len(msgs))
	}
}

func compareTensors(t *testing.T, a, b map[string][]float64) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%d tensors against %d", len(a), len(b))
	}
	for name, va := range a {
		vb, ok := b[name]
		if !ok || len(va) != len(vb) {
			t.Fatalf("tensor %s: shapes differ", name)
		}
		for i := range va {
			if math.Float64bits(va[i]) != math.Float64bits(vb[i]) {
				t.Fatalf("tensor %s[%d]: uninterrupted %v, restarted %v", name, i, va[i], vb[i])
			}
		}
	}
}

// produceAfterTopics creates the topics (as the service would) and
// produces values to the feedback topic.
func produceAfterTopics(ctx context.Context, cfg config.Config, values [][]byte) error {
	svc := &service{cfg: cfg, kc: kafkaConfig(cfg), health: &ingest.Health{}}
	if err := svc.connect(ctx); err != nil {
		return err
	}
	return Produce(ctx, cfg, cfg.Topics.Feedback, values)
}
