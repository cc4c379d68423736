package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
)

// ReaderConfig says what a reader reads and how.
type ReaderConfig struct {
	Brokers []string
	Dialer  *kafka.Dialer // nil means kafka.DefaultDialer
	Topic   string
	// MaxWait is how long a fetch waits for data. kafka-go also uses it as
	// a socket deadline, so values under 500ms cause spurious timeouts.
	MaxWait time.Duration
	// MaxBytes bounds one fetch response (default 16 MiB).
	MaxBytes int
	// RetryBackoff and RetryMaxDelay bound the exponential backoff while
	// the cluster cannot be reached (defaults 250ms and 10s).
	RetryBackoff  time.Duration
	RetryMaxDelay time.Duration
	Logger        *slog.Logger
	Registerer    prometheus.Registerer
	// Health, if set, is told about every success and failure.
	Health *Health
}

func (c *ReaderConfig) fill() {
	if c.Dialer == nil {
		c.Dialer = kafka.DefaultDialer
	}
	if c.MaxWait < 500*time.Millisecond {
		c.MaxWait = 500 * time.Millisecond
	}
	if c.MaxBytes == 0 {
		c.MaxBytes = 16 << 20
	}
	if c.RetryBackoff == 0 {
		c.RetryBackoff = 250 * time.Millisecond
	}
	if c.RetryMaxDelay == 0 {
		c.RetryMaxDelay = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Health == nil {
		c.Health = &Health{}
	}
}

// Health tracks whether the cluster answers. It is safe for concurrent use.
type Health struct {
	lastOK  atomic.Int64 // unix nanoseconds
	lastErr atomic.Int64
	errs    atomic.Int64
}

// OK records a successful round trip.
func (h *Health) OK() { h.lastOK.Store(time.Now().UnixNano()) }

// Failed records a failed round trip.
func (h *Health) Failed() {
	h.lastErr.Store(time.Now().UnixNano())
	h.errs.Add(1)
}

// Healthy reports whether the last event was a success, or no failure was
// seen in the last grace period.
func (h *Health) Healthy(grace time.Duration) bool {
	ok, bad := h.lastOK.Load(), h.lastErr.Load()
	return bad == 0 || ok > bad || time.Since(time.Unix(0, bad)) > grace
}

// Errors is the number of failures recorded.
func (h *Health) Errors() int64 { return h.errs.Load() }

// errorLogger forwards kafka-go's internal errors to slog and to Health,
// so that a lost broker shows in readiness, metrics and logs.
type errorLogger struct {
	logger *slog.Logger
	health *Health
	topic  string
}

func (l errorLogger) Printf(format string, args ...any) {
	l.health.Failed()
	l.logger.Warn("kafka reader error", "topic", l.topic, "err", fmt.Sprintf(format, args...))
}

// Partitions returns the partition ids of topic, retrying with backoff
// until the topic exists or ctx ends.
func Partitions(ctx context.Context, cfg ReaderConfig) ([]int, error) {
	cfg.fill()
	var ids []int
	err := retry(ctx, cfg, "list partitions", func(ctx context.Context) error {
		ps, err := lookupPartitions(ctx, cfg)
		if err != nil {
			return err
		}
		ids = ids[:0]
		for _, p := range ps {
			ids = append(ids, p.ID)
		}
		if len(ids) == 0 {
			return fmt.Errorf("topic %q has no partitions", cfg.Topic)
		}
		return nil
	})
	return ids, err
}

func lookupPartitions(ctx context.Context, cfg ReaderConfig) ([]kafka.Partition, error) {
	var errs []error
	for _, b := range cfg.Brokers {
		ps, err := cfg.Dialer.LookupPartitions(ctx, "tcp", b, cfg.Topic)
		if err == nil {
			return ps, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

// EndOffsets returns the high watermark (the next offset to be written) of
// every partition of the topic.
func EndOffsets(ctx context.Context, cfg ReaderConfig) (map[int]int64, error) {
	cfg.fill()
	ids, err := Partitions(ctx, cfg)
	if err != nil {
		return nil, err
	}
	ends := make(map[int]int64, len(ids))
	for _, id := range ids {
		err := retry(ctx, cfg, "read end offset", func(ctx context.Context) error {
			end, err := lastOffset(ctx, cfg, id)
			ends[id] = end
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	return ends, nil
}

func lastOffset(ctx context.Context, cfg ReaderConfig, partition int) (int64, error) {
	var errs []error
	for _, b := range cfg.Brokers {
		conn, err := cfg.Dialer.DialLeader(ctx, "tcp", b, cfg.Topic, partition)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		end, err := conn.ReadLastOffset()
		conn.Close()
		if err == nil {
			return end, nil
		}
		errs = append(errs, err)
	}
	return 0, errors.Join(errs...)
}

// retry calls fn until it succeeds or ctx ends, backing off exponentially
// and recording each failure in the reader's health.
func retry(ctx context.Context, cfg ReaderConfig, what string, fn func(context.Context) error) error {
	err := cfg.backoff().Retry(ctx, func(attempt int, err error, delay time.Duration) {
		cfg.Health.Failed()
		cfg.Logger.Warn("kafka call failed, retrying", "op", what, "topic", cfg.Topic,
			"attempt", attempt, "delay", delay, "err", err)
	}, func() error { return fn(ctx) })
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	cfg.Health.OK()
	return nil
}

func (c *ReaderConfig) backoff() Backoff {
	return Backoff{Initial: c.RetryBackoff, Max: c.RetryMaxDelay}
}

// PartitionReader reads every partition of one topic from explicit start
// offsets, without a consumer group. The learner uses it: its checkpoint,
// not the group, owns the offsets, which is what makes "each event changes
// the model exactly once" hold across crashes. Reading without a group
// also sidesteps kafka-go's rebalance bugs (stale messages after a
// rebalance, #1398; commits of a lost partition, #1308).
type PartitionReader struct {
	cfg ReaderConfig
	lag *prometheus.GaugeVec
}

// NewPartitionReader returns a reader for cfg.Topic.
func NewPartitionReader(cfg ReaderConfig) *PartitionReader {
	cfg.fill()
	return &PartitionReader{cfg: cfg, lag: lagGauge(cfg.Registerer)}
}

// lagGauge returns the consumer-lag gauge, shared by every reader on reg.
func lagGauge(reg prometheus.Registerer) *prometheus.GaugeVec {
	lag := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "slhf_ingest_consumer_lag",
		Help: "Messages between the last one read and the end of the partition.",
	}, []string{"topic", "partition"})
	if reg != nil {
		lag = registerOrReuse(reg, lag)
	}
	return lag
}

// Run reads every partition concurrently and sends messages to out, in
// offset order within each partition, blocking when out is full. A
// partition starts at start[p], or at its first offset when absent. When
// end is non-nil, a partition stops once its next offset reaches end[p],
// and Run returns nil once all have; otherwise Run returns when ctx ends.
// Run owns its goroutines and waits for them before returning.
func (r *PartitionReader) Run(ctx context.Context, start, end map[int]int64,
	out chan<- Message) error {
	ids, err := Partitions(ctx, r.cfg)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	errs := make([]error, len(ids))
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = r.readPartition(ctx, id, start, end, out)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}

func (r *PartitionReader) readPartition(ctx context.Context, id int, start, end map[int]int64,
	out chan<- Message) error {
	next, ok := start[id]
	if !ok {
		next = kafka.FirstOffset
	}
	stop, bounded := end[id]
	if end != nil && !bounded {
		return nil // a partition created after the run began is not ours
	}
	if bounded {
		if next < 0 {
			// No checkpointed position: start at the partition's first
			// offset. A partition that is empty, or emptied by retention,
			// has first == end and nothing to read up to stop.
			first, err := r.firstOffset(ctx, id)
			if err != nil {
				return err
			}
			if first >= stop {
				return nil
			}
		}
		if next >= stop {
			return nil
		}
	}
	kr := kafka.NewReader(kafka.ReaderConfig{
		Brokers:     r.cfg.Brokers,
		Dialer:      r.cfg.Dialer,
		Topic:       r.cfg.Topic,
		Partition:   id,
		MinBytes:    1,
		MaxBytes:    r.cfg.MaxBytes,
		MaxWait:     r.cfg.MaxWait,
		ErrorLogger: errorLogger{logger: r.cfg.Logger, health: r.cfg.Health, topic: r.cfg.Topic},
	})
	defer kr.Close()
	if err := kr.SetOffset(next); err != nil {
		return fmt.Errorf("seek %s/%d to %d: %w", r.cfg.Topic, id, next, err)
	}
	lag := r.lag.WithLabelValues(r.cfg.Topic, strconv.Itoa(id))
	for {
		km, err := r.read(ctx, kr, id)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		lag.Set(float64(km.HighWaterMark - km.Offset - 1))
		select {
		case out <- fromKafka(km):
		case <-ctx.Done():
			return nil
		}
		if bounded && km.Offset+1 >= stop {
			return nil
		}
	}
}

// firstOffset returns the oldest offset still in the partition.
func (r *PartitionReader) firstOffset(ctx context.Context, id int) (int64, error) {
	var first int64
	err := retry(ctx, r.cfg, "read first offset", func(ctx context.Context) error {
		var errs []error
		for _, b := range r.cfg.Brokers {
			conn, err := r.cfg.Dialer.DialLeader(ctx, "tcp", b, r.cfg.Topic, id)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			first, err = conn.ReadFirstOffset()
			conn.Close()
			if err == nil {
				return nil
			}
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	})
	return first, err
}

// read returns the partition's next message. kafka-go retries a lost
// connection a few times (about 0.7s) and then returns the error; the
// cluster may be away for longer (a broker restart takes seconds), so
// read waits with backoff and asks again: the reader resumes at its
// offset. Only an offset out of range is final: retention has deleted
// messages the checkpoint has not seen, which needs an operator.
func (r *PartitionReader) read(ctx context.Context, kr *kafka.Reader, id int) (kafka.Message, error) {
	var km kafka.Message
	err := r.cfg.backoff().Retry(ctx, func(attempt int, err error, delay time.Duration) {
		r.cfg.Health.Failed()
		r.cfg.Logger.Warn("read failed, retrying", "topic", r.cfg.Topic, "partition", id,
			"attempt", attempt, "delay", delay, "err", err)
	}, func() error {
		var err error
		if km, err = kr.ReadMessage(ctx); errors.Is(err, kafka.OffsetOutOfRange) {
			return errors.Join(err, ErrPermanent)
		}
		return err
	})
	if err != nil {
		return km, fmt.Errorf("read %s/%d: %w", r.cfg.Topic, id, err)
	}
	r.cfg.Health.OK()
	return km, nil
}

func fromKafka(km kafka.Message) Message {
	hs := make([]Header, len(km.Headers))
	for i, h := range km.Headers {
		hs[i] = Header{Key: h.Key, Value: h.Value}
	}
	return Message{
		Topic: km.Topic, Partition: km.Partition, Offset: km.Offset,
		Key: km.Key, Value: km.Value, Headers: hs, Time: km.Time,
	}
}
