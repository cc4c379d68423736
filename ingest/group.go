package ingest

import (
	"context"
	"fmt"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/segmentio/kafka-go"
)

// GroupReader reads one topic as a member of a consumer group, so that
// several refine workers split its partitions. Offsets are committed
// explicitly, after the output of a message is durable: delivery is
// at-least-once, and a rebalance may hand a message to two workers
// (kafka-go #1398), which the stable request_id key lets consumers
// deduplicate.
//
// Fetch and Commit may be called from different goroutines.
type GroupReader struct {
	kr  *kafka.Reader
	lag *prometheus.GaugeVec
}

// NewGroupReader joins group for cfg.Topic. Commits are synchronous
// (CommitInterval 0 is what makes kafka-go's CommitMessages wait).
func NewGroupReader(cfg ReaderConfig, group string) *GroupReader {
	cfg.fill()
	kr := kafka.NewReader(kafka.ReaderConfig{
		Brokers:        cfg.Brokers,
		Dialer:         cfg.Dialer,
		GroupID:        group,
		Topic:          cfg.Topic,
		MinBytes:       1,
		MaxBytes:       cfg.MaxBytes,
		MaxWait:        cfg.MaxWait,
		CommitInterval: 0,
		StartOffset:    kafka.FirstOffset,
		ErrorLogger:    errorLogger{logger: cfg.Logger, health: cfg.Health, topic: cfg.Topic},
	})
	return &GroupReader{kr: kr, lag: lagGauge(cfg.Registerer)}
}

// Fetch returns the next message without committing it.
func (g *GroupReader) Fetch(ctx context.Context) (Message, error) {
	km, err := g.kr.FetchMessage(ctx)
	if err != nil {
		return Message{}, fmt.Errorf("fetch %s: %w", g.kr.Config().Topic, err)
	}
	g.lag.WithLabelValues(km.Topic, strconv.Itoa(km.Partition)).
		Set(float64(km.HighWaterMark - km.Offset - 1))
	return fromKafka(km), nil
}

// Commit marks msgs as processed. Only the highest offset per partition
// matters to Kafka.
func (g *GroupReader) Commit(ctx context.Context, msgs ...Message) error {
	kms := make([]kafka.Message, len(msgs))
	for i, m := range msgs {
		kms[i] = kafka.Message{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset}
	}
	if err := g.kr.CommitMessages(ctx, kms...); err != nil {
		return fmt.Errorf("commit %s: %w", g.kr.Config().Topic, err)
	}
	return nil
}

// Close leaves the group. It is safe to call more than once.
func (g *GroupReader) Close() error { return g.kr.Close() }

// CommitOffsets records next offsets for group without joining it, as a
// standalone consumer does (generation -1). The learner calls it after
// each checkpoint so that lag tools see its progress; the checkpoint, not
// this commit, is what it resumes from.
func CommitOffsets(ctx context.Context, transport kafka.RoundTripper, brokers []string,
	group, topic string, next map[int]int64) error {
	if len(next) == 0 {
		return nil
	}
	commits := make([]kafka.OffsetCommit, 0, len(next))
	for p, off := range next {
		commits = append(commits, kafka.OffsetCommit{Partition: p, Offset: off})
	}
	c := &kafka.Client{Addr: kafka.TCP(brokers...), Transport: transport}
	resp, err := c.OffsetCommit(ctx, &kafka.OffsetCommitRequest{
		Addr:         kafka.TCP(brokers...),
		GroupID:      group,
		GenerationID: -1,
		Topics:       map[string][]kafka.OffsetCommit{topic: commits},
	})
	if err != nil {
		return fmt.Errorf("commit offsets of %s: %w", topic, err)
	}
	for _, ps := range resp.Topics {
		for _, p := range ps {
			if p.Error != nil {
				return fmt.Errorf("commit offset %s/%d: %w", topic, p.Partition, p.Error)
			}
		}
	}
	return nil
}
