package app

import (
	"context"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/slhf-dev/slhf/config"
	"github.com/slhf-dev/slhf/internal/testkit"
	"github.com/slhf-dev/slhf/sinks"
)

// TestEmbeddedRun drives the whole main job on the embedded broker over
// the bundled real data, with malformed messages and a replayed
// (duplicate) message injected, and checks the numbers.
func TestEmbeddedRun(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end run")
	}
	cfg := testConfig(t)
	bad, want := testkit.BadFeedbackCorpus(t, "../..")

	// Replay one valid message a second time: every event in it is a
	// duplicate and the whole message must be dead-lettered as such.
	bundle, err := LoadBundle(cfg.Embedded.HoldoutShare, 0, uint64(cfg.Learner.Seed))
	if err != nil {
		t.Fatal(err)
	}
	inject := testkit.AppendReplay(t, bad, want, bundle.Feedback[:cfg.Embedded.RowsPerMessage])

	var dlq int
	var dlqReasons = map[string]int{}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	sum, err := RunBundled(ctx, cfg, EmbeddedOptions{
		Options: Options{Logger: testLogger(t)},
		Inject:  inject,
		AfterRun: func(cfg config.Config) error {
			for _, m := range testkit.ReadTopic(t, cfg.Kafka.Brokers, cfg.Topics.DeadLetter) {
				dlq++
				dlqReasons[testkit.Header(m, sinks.HeaderReason)]++
				if testkit.Header(m, sinks.HeaderSourceTopic) != cfg.Topics.Feedback ||
					testkit.Header(m, sinks.HeaderSourceOffset) == "" {
					t.Errorf("dead letter without its source: headers %v", m.Headers)
				}
			}
			return nil
		},
	})
	if err != nil {
		t.Fatalf("RunEmbedded: %v", err)
	}
	t.Logf("summary: %+v", sum)

	valid := len(bundle.Feedback)
	if sum.LearnedEvents != valid {
		t.Errorf("learned %d events, want every valid one exactly once: %d", sum.LearnedEvents, valid)
	}
	if sum.DuplicateEvents != cfg.Embedded.RowsPerMessage {
		t.Errorf("duplicates dropped = %d, want %d", sum.DuplicateEvents, cfg.Embedded.RowsPerMessage)
	}
	if fmt.Sprint(sum.DeadLettered) != fmt.Sprint(want) {
		t.Errorf("dead-lettered by reason:\n got %v\nwant %v", sum.DeadLettered, want)
	}
	if fmt.Sprint(dlqReasons) != fmt.Sprint(want) {
		t.Errorf("dead-letter topic by reason header:\n got %v\nwant %v", dlqReasons, want)
	}
	if sum.Refined != len(bundle.Responses) || sum.Responses != len(bundle.Responses) {
		t.Errorf("refined %d of %d responses sent (%d in bundle)",
			sum.Refined, sum.Responses, len(bundle.Responses))
	}
	if sum.Checkpoints < 2 || sum.PrefAccuracyN < valid*9/10 {
		t.Errorf("checkpoints %d, judged %d of %d", sum.Checkpoints, sum.PrefAccuracyN, valid)
	}
	if sum.RefinedWinRateN == 0 || sum.RandomWinRateN == 0 {
		t.Errorf("win rates measured on nothing: %+v", sum)
	}
	// The JSON-lines sink holds every refined record too.
	lines := countLines(t, cfg.Output.JSONL)
	if lines != len(bundle.Responses) {
		t.Errorf("refined.jsonl has %d lines, want %d", lines, len(bundle.Responses))
	}
}

func countLines(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return len(slices.DeleteFunc(splitLines(b), func(l []byte) bool { return len(l) == 0 }))
}

func splitLines(b []byte) [][]byte {
	var out [][]byte
	start := 0
	for i, c := range b {
		if c == '\n' {
			out = append(out, b[start:i])
			start = i + 1
		}
	}
	return append(out, b[start:])
}
