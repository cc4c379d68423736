package app

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/slhf-dev/slhf/config"
	"github.com/slhf-dev/slhf/ingest"
)

// testConfig is the default configuration with every file under t's temp
// dir, fast batching and no metrics listener.
func testConfig(t *testing.T) config.Config {
	t.Helper()
	cfg := config.Default()
	dir := t.TempDir()
	cfg.Checkpoint.Dir = filepath.Join(dir, "checkpoints")
	cfg.Ingest.StateDir = filepath.Join(dir, "ingest")
	cfg.Output.JSONL = filepath.Join(dir, "refined.jsonl")
	cfg.Metrics.Listen = ""
	cfg.Stream.BatchWait = 50 * time.Millisecond
	cfg.Embedded.RowsPerMessage = 32
	cfg.Stream.BatchEvents = 32
	return cfg
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.DiscardHandler)
}

// readTopic returns every message of topic, reading each partition from
// its first offset to its end.
func readTopic(t *testing.T, cfg config.Config, topic string) []kafka.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rc := ingest.ReaderConfig{Brokers: cfg.Kafka.Brokers, Topic: topic}
	ends, err := ingest.EndOffsets(ctx, rc)
	if err != nil {
		t.Fatalf("end offsets of %s: %v", topic, err)
	}
	var out []kafka.Message
	for p, end := range ends {
		if end == 0 {
			continue
		}
		r := kafka.NewReader(kafka.ReaderConfig{
			Brokers: cfg.Kafka.Brokers, Topic: topic, Partition: p,
			MaxWait: 500 * time.Millisecond,
		})
		r.SetOffset(kafka.FirstOffset)
		for {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				r.Close()
				t.Fatalf("read %s/%d: %v", topic, p, err)
			}
			out = append(out, m)
			if m.Offset+1 >= end {
				break
			}
		}
		r.Close()
	}
	return out
}

func header(m kafka.Message, key string) string {
	for _, h := range m.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// reasonFromName reads the expected reason out of a corpus file name,
// "<reason>--<what>.arrow".
func reasonFromName(name string) string {
	reason, _, _ := strings.Cut(filepath.Base(name), "--")
	return reason
}
