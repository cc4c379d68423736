// Package testkit holds helpers shared by the service's tests: reading a
// topic back from a broker, looking up record headers, the malformed
// feedback corpus with the dead-letter reasons it must produce, and the
// newest checkpoint of a directory.
//
// It is imported only from _test.go files. Every helper that can fail
// takes a testing.TB and reports through its Fatalf, so a caller that
// wants more context in failures (the integration tests name the broker
// log) passes a TB whose Fatalf adds it.
package testkit

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/slhf-dev/slhf/config"
	"github.com/slhf-dev/slhf/ingest"
	"github.com/slhf-dev/slhf/schemas"
	"github.com/slhf-dev/slhf/sinks"
)

// BrokerWait is how long a helper waits on the broker for one call: long
// enough for a broker another test is restarting to come back.
const BrokerWait = 60 * time.Second

// readMaxBytes is the largest fetch ReadTopic asks for, above the 1 MiB
// messages (and dead letters of them) the tests write.
const readMaxBytes = 8 << 20

// UnderTempDir points every file cfg makes the service write (checkpoints,
// ingest state, the refined JSON-lines sink) into a new temp dir of tb,
// removed when the test ends, and turns off cfg's metrics listener, so
// that tests share no files and no port.
func UnderTempDir(tb testing.TB, cfg *config.Config) {
	tb.Helper()
	dir := tb.TempDir()
	cfg.Checkpoint.Dir = filepath.Join(dir, "checkpoints")
	cfg.Ingest.StateDir = filepath.Join(dir, "ingest")
	cfg.Output.JSONL = filepath.Join(dir, "refined.jsonl")
	cfg.Metrics.Listen = ""
}

// EndOffsets returns the next offset of every partition of topic, keyed
// by partition. It fails tb if the broker does not answer within
// BrokerWait.
func EndOffsets(tb testing.TB, brokers []string, topic string) map[int]int64 {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), BrokerWait)
	defer cancel()
	ends, err := ingest.EndOffsets(ctx, ingest.ReaderConfig{Brokers: brokers, Topic: topic})
	if err != nil {
		tb.Fatalf("end offsets of %s: %v", topic, err)
	}
	return ends
}

// ReadTopic returns every message of topic: each partition in turn, from
// its first offset up to the end it has when ReadTopic is called. It
// fails tb if a read does not complete within BrokerWait.
func ReadTopic(tb testing.TB, brokers []string, topic string) []kafka.Message {
	tb.Helper()
	ends := EndOffsets(tb, brokers, topic)
	ctx, cancel := context.WithTimeout(context.Background(), BrokerWait)
	defer cancel()
	var out []kafka.Message
	for p, end := range ends {
		if end > 0 {
			out = append(out, readPartition(ctx, tb, brokers, topic, p, end)...)
		}
	}
	return out
}

// readPartition reads partition p of topic from its first offset to end,
// which must be above zero.
func readPartition(ctx context.Context, tb testing.TB, brokers []string, topic string,
	p int, end int64) []kafka.Message {
	tb.Helper()
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers: brokers, Topic: topic, Partition: p,
		MaxWait: 500 * time.Millisecond, MaxBytes: readMaxBytes,
	})
	defer r.Close()
	r.SetOffset(kafka.FirstOffset)
	var out []kafka.Message
	for {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			tb.Fatalf("read %s/%d: %v", topic, p, err)
		}
		out = append(out, m)
		if m.Offset+1 >= end {
			return out
		}
	}
}

// Header returns the value of m's header key, or "" if m has none. If
// the key repeats, the last one wins: a dead letter carries the
// original message's headers first and the service's own after them.
func Header(m kafka.Message, key string) string {
	v := ""
	for _, h := range m.Headers {
		if h.Key == key {
			v = string(h.Value)
		}
	}
	return v
}

// BadFeedbackCorpus reads the malformed preference messages of the
// schemas corpus under repoRoot (schemas/testdata/bad/preference) and
// the poison files (schemas/testdata/poison), and returns their bytes
// with the count of dead letters expected per reason.
//
// A corpus file is named "<reason>--<what>.arrow" and must be refused for
// that reason. Files whose reason depends on the decoder limits the
// corpus was generated with are left out (the service has its own
// limits), and so is invalid_embedding--dim-65.arrow; every poison file
// is expected as corrupt_ipc, since the decoder's guard refuses them. It
// fails tb if the corpus is missing (fewer than 20 bad files or no poison
// file) or a file cannot be read.
func BadFeedbackCorpus(tb testing.TB, repoRoot string) (values [][]byte, want map[string]int) {
	tb.Helper()
	testdata := filepath.Join(repoRoot, "schemas", "testdata")
	files, _ := filepath.Glob(filepath.Join(testdata, "bad", "preference", "*.arrow"))
	poison, _ := filepath.Glob(filepath.Join(testdata, "poison", "*.arrow"))
	if len(files) < 20 || len(poison) == 0 {
		tb.Fatalf("schemas corpus missing: %d bad files, %d poison files", len(files), len(poison))
	}
	want = map[string]int{}
	add := func(path, reason string) {
		b, err := os.ReadFile(path)
		if err != nil {
			tb.Fatal(err)
		}
		values = append(values, b)
		want[reason]++
	}
	for _, f := range files {
		reason, _, _ := strings.Cut(filepath.Base(f), "--")
		if !limitFree(reason) || filepath.Base(f) == "invalid_embedding--dim-65.arrow" {
			continue
		}
		add(f, reason)
	}
	for _, f := range poison {
		add(f, string(schemas.ReasonCorruptIPC))
	}
	return values, want
}

// AppendReplay encodes rows, events the run also reads elsewhere on the
// feedback topic, as one message of at most 1 MiB, appends it to values
// and counts it in want as one duplicate_event dead letter: every event
// in it is a duplicate, so the whole message is dead-lettered. It fails
// tb if rows do not fit one message.
func AppendReplay(tb testing.TB, values [][]byte, want map[string]int,
	rows []schemas.Preference) [][]byte {
	tb.Helper()
	dup, err := schemas.EncodePreferences(rows, 1<<20)
	if err != nil || len(dup) != 1 {
		tb.Fatalf("encode duplicate message: %v (%d messages)", err, len(dup))
	}
	want[string(schemas.ReasonDuplicateEvent)]++
	return append(values, dup[0])
}

// limitFree reports whether a corpus reason is independent of the
// decoder limits the corpus was generated with.
func limitFree(reason string) bool {
	switch reason {
	case "oversized_message", "oversized_text", "too_many_rows", "oversized_allocation":
		return false
	}
	return true
}

// LatestCheckpoint loads the newest checkpoint in dir through the
// checkpoint store, as the service does. Opening the store removes
// leftover temp files, so call it only once no service writes to dir. It
// fails tb on any error, [sinks.ErrNoCheckpoint] included.
func LatestCheckpoint(tb testing.TB, dir string) *sinks.Checkpoint {
	tb.Helper()
	store, err := sinks.OpenCheckpointStore(dir, 10, nil, nil)
	if err != nil {
		tb.Fatal(err)
	}
	c, err := store.LoadLatest()
	if err != nil {
		tb.Fatalf("load checkpoint from %s: %v", dir, err)
	}
	return c
}
