package app

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/slhf-dev/slhf/config"
	"github.com/slhf-dev/slhf/schemas"
	"github.com/slhf-dev/slhf/sinks"
)

// limitFree are corpus reasons that do not depend on the decoder limits
// the corpus was generated with, so the service, with its own limits,
// must reject those files for exactly the reason in their name.
func limitFree(reason string) bool {
	switch reason {
	case "oversized_message", "oversized_text", "too_many_rows", "oversized_allocation":
		return false
	}
	return true
}

// badCorpus returns the malformed preference messages of the schemas
// corpus and the poison files, with their expected reasons.
func badCorpus(t *testing.T) ([][]byte, map[string]int) {
	t.Helper()
	var values [][]byte
	want := map[string]int{}
	files, _ := filepath.Glob("../../schemas/testdata/bad/preference/*.arrow")
	poison, _ := filepath.Glob("../../schemas/testdata/poison/*.arrow")
	if len(files) < 20 || len(poison) == 0 {
		t.Fatalf("schemas corpus missing: %d bad files, %d poison files", len(files), len(poison))
	}
	for _, f := range files {
		reason := reasonFromName(f)
		if !limitFree(reason) || filepath.Base(f) == "invalid_embedding--dim-65.arrow" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		values = append(values, b)
		want[reason]++
	}
	for _, f := range poison {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		values = append(values, b)
		want[string(schemas.ReasonCorruptIPC)]++ // the decoder's guard refuses them
	}
	return values, want
}

// TestEmbeddedRun drives the whole main job on the embedded broker over
// the bundled real data, with malformed messages and a replayed
// (duplicate) message injected, and checks the numbers.
func TestEmbeddedRun(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end run")
	}
	cfg := testConfig(t)
	bad, want := badCorpus(t)

	// Replay one valid message a second time: every event in it is a
	// duplicate and the whole message must be dead-lettered as such.
	bundle, err := LoadBundle(cfg.Embedded.HoldoutShare, 0, uint64(cfg.Learner.Seed))
	if err != nil {
		t.Fatal(err)
	}
	dup, err := schemas.EncodePreferences(bundle.Feedback[:cfg.Embedded.RowsPerMessage], 1<<20)
	if err != nil || len(dup) != 1 {
		t.Fatalf("encode duplicate message: %v (%d messages)", err, len(dup))
	}
	inject := append(bad, dup[0])
	want[string(schemas.ReasonDuplicateEvent)]++

	var dlq int
	var dlqReasons = map[string]int{}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	sum, err := RunBundled(ctx, cfg, EmbeddedOptions{
		Options: Options{Logger: testLogger(t)},
		Inject:  inject,
		AfterRun: func(cfg config.Config) error {
			for _, m := range readTopic(t, cfg, cfg.Topics.DeadLetter) {
				dlq++
				dlqReasons[header(m, sinks.HeaderReason)]++
				if header(m, sinks.HeaderSourceTopic) != cfg.Topics.Feedback ||
					header(m, sinks.HeaderSourceOffset) == "" {
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
