package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/ipc"

	"github.com/slhf-dev/slhf/config"
	"github.com/slhf-dev/slhf/ingest"
	"github.com/slhf-dev/slhf/internal/testkit"
	"github.com/slhf-dev/slhf/schemas"
)

// unguardedDecode reads the message with Arrow's IPC reader directly, as
// a decoder without our header guard would, before the strict decoder
// sees it. On a poison message the reader asks make() for hundreds of GB
// and the runtime dies with "fatal error: out of memory", which recover
// cannot catch.
func unguardedDecode(dec *schemas.Decoder) ingest.DecodeFunc[schemas.Preference] {
	return func(b []byte) ([]schemas.Preference, error) {
		if r, err := ipc.NewReader(bytes.NewReader(b)); err == nil {
			for r.Next() {
			}
			r.Release()
		}
		return dec.DecodePreferences(b)
	}
}

const childEnv = "SLHF_TEST_POISON_CHILD_CONFIG"

// TestPoisonChild is the learner process of TestCrashLoopGuard; it only
// runs when that test starts it.
func TestPoisonChild(t *testing.T) {
	raw := os.Getenv(childEnv)
	if raw == "" {
		t.Skip("started by TestCrashLoopGuard only")
	}
	var cfg config.Config
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	end, err := ingest.EndOffsets(ctx, ingest.ReaderConfig{
		Brokers: cfg.Kafka.Brokers, Topic: cfg.Topics.Feedback,
	})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(ctx, cfg, Options{
		LearnEnd:          end,
		DecodePreferences: unguardedDecode(schemas.NewDecoder()),
	})
	if err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(rep)
	fmt.Printf("REPORT %s\n", out)
}

// TestCrashLoopGuard feeds the learner a message that really kills its
// (unguarded) decoder. The process dies; restarted, it resumes from its
// checkpoint and dies on the same message again; the third start finds
// the message in flight during the last two crashes, dead-letters it
// undecoded, and learns everything else exactly once.
func TestCrashLoopGuard(t *testing.T) {
	if testing.Short() {
		t.Skip("starts learner processes that die of out-of-memory")
	}
	poison, err := os.ReadFile("../../schemas/testdata/poison/survey-case0029-byte495-0xfd.arrow")
	if err != nil {
		t.Fatal(err)
	}
	cfg := singlePartition(t, startBroker(t))
	cfg.Ingest.PoisonCrashes = 2
	cfg.Checkpoint.EverySteps = 1
	good := feedbackMessages(t, cfg, 160) // 10 messages of 16
	values := append(append(append([][]byte{}, good[:6]...), poison), good[6:]...)
	if err := produceAfterTopics(context.Background(), cfg, values); err != nil {
		t.Fatal(err)
	}
	cfgJSON, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}

	deaths := 0
	var rep Report
	for start := 1; start <= 4; start++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestPoisonChild$", "-test.v")
		cmd.Env = append(os.Environ(), childEnv+"="+string(cfgJSON))
		out, err := cmd.CombinedOutput()
		if err != nil {
			if !strings.Contains(string(out), "out of memory") {
				t.Fatalf("start %d failed, but not of out-of-memory: %v\n%s", start, err, tail(out))
			}
			deaths++
			continue
		}
		line := reportLine(out)
		if err := json.Unmarshal([]byte(line), &rep); err != nil {
			t.Fatalf("start %d: no report: %v\n%s", start, err, tail(out))
		}
		break
	}
	if deaths != cfg.Ingest.PoisonCrashes {
		t.Fatalf("%d deaths before the guard stepped in, want %d", deaths, cfg.Ingest.PoisonCrashes)
	}
	if rep.DeadLettered[ingest.ReasonPoison] != 1 || len(rep.DeadLettered) != 1 {
		t.Errorf("dead-lettered %v, want exactly one %s", rep.DeadLettered, ingest.ReasonPoison)
	}
	// The six messages before the poison one were learned by the first
	// process and checkpointed; the survivor learned only the rest.
	if rep.Learn.Learned != 4*16 || !rep.Resumed {
		t.Errorf("survivor learned %d events (resumed %v), want 64 after resuming",
			rep.Learn.Learned, rep.Resumed)
	}
	ckp := testkit.LatestCheckpoint(t, cfg.Checkpoint.Dir)
	if got := ckp.Offsets[cfg.Topics.Feedback][0]; got != int64(len(values)) {
		t.Errorf("checkpoint offset %d, want %d (past every message)", got, len(values))
	}
	if _, err := os.Stat(filepath.Join(cfg.Ingest.StateDir, "crashes.json")); err != nil {
		t.Errorf("crash counts file: %v", err)
	}
}

func reportLine(out []byte) string {
	for _, l := range strings.Split(string(out), "\n") {
		if r, ok := strings.CutPrefix(l, "REPORT "); ok {
			return r
		}
	}
	return ""
}

func tail(b []byte) string {
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}
