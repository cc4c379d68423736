package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slhf-dev/slhf/schemas"
)

func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	var out strings.Builder
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

// TestReplayToFile turns the bundled PandaLM file into one Arrow stream
// and decodes it back.
func TestReplayToFile(t *testing.T) {
	hermetic(t)
	out := filepath.Join(t.TempDir(), "pandalm.arrows")
	msg, err := run(t, "replay", "--format", "pandalm",
		"--path", "../../data/pandalm/testset-v1.json", "--out", out)
	if err != nil {
		t.Fatalf("replay: %v\n%s", err, msg)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	lim := schemas.DefaultLimits()
	lim.MaxMessageBytes, lim.MaxRows = len(b)+1, 1<<20
	rows, err := schemas.NewDecoder(schemas.WithLimits(lim)).DecodePreferences(b)
	if err != nil {
		t.Fatalf("decode replayed file: %v", err)
	}
	// 54 of PandaLM's 999 pairs have an empty response, which
	// preference.v1 refuses: they are skipped and said so.
	if len(rows) != 945 || !strings.Contains(msg, "945 rows") ||
		!strings.Contains(msg, "skipped 54 source rows: empty_text") {
		t.Fatalf("replayed %d rows (%q), want 945 of PandaLM's 999", len(rows), msg)
	}
}

func TestReplayNeedsATarget(t *testing.T) {
	hermetic(t)
	_, err := run(t, "replay", "--format", "pandalm", "--path", "x")
	if err == nil {
		t.Fatal("replay without --topic or --out succeeded")
	}
	_, err = run(t, "replay", "--format", "nope", "--path", "x", "--out", "y")
	if err == nil || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("unknown format: err = %v", err)
	}
}

func TestRefineWithoutCheckpoint(t *testing.T) {
	hermetic(t)
	dir := t.TempDir()
	_, err := run(t, "refine", "--checkpoint-dir", dir, "--in", "whatever")
	if err == nil || !strings.Contains(err.Error(), "checkpoint") {
		t.Fatalf("refine with no checkpoint: err = %v", err)
	}
}
