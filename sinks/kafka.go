package sinks

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/slhf-dev/slhf/internal/kafkax"
)

// Defaults of [KafkaWriter], each chosen against a trap measured with
// kafka-go v0.4.51 (see the option that changes it).
const (
	// DefaultMaxMessageBytes is the largest record batch a writer sends:
	// 1 MiB, just under the broker's default message.max.bytes (1048588).
	DefaultMaxMessageBytes = 1 << 20
	// DefaultBatchTimeout is how long a partial batch waits for more
	// messages. kafka-go's own default of 1 s made every synchronous
	// write take a full second.
	DefaultBatchTimeout = 5 * time.Millisecond
	// DefaultMaxAttempts bounds the tries of one message, first included.
	DefaultMaxAttempts = 5
	// DefaultBackoffMin and DefaultBackoffMax bound the exponential wait
	// between attempts.
	DefaultBackoffMin = 100 * time.Millisecond
	DefaultBackoffMax = 2 * time.Second
	// DefaultCloseTimeout bounds [KafkaWriter.Close].
	DefaultCloseTimeout = 10 * time.Second
)

// recordBatchOverhead is the size of a Kafka v2 record batch header, which
// the broker counts against max.message.bytes together with the records.
const recordBatchOverhead = 61

// Errors returned by the sinks.
var (
	// ErrMessageTooLarge is wrapped by a [*MessageTooLargeError] when a
	// message cannot fit the configured maximum; nothing of the call was
	// sent.
	ErrMessageTooLarge = errors.New("message too large")
	// ErrClosed is returned by writes on a closed sink.
	ErrClosed = errors.New("sink closed")
	// ErrCloseTimeout is returned by [KafkaWriter.Close] when in-flight
	// writes did not finish within the close timeout (kafka-go #1307).
	ErrCloseTimeout = errors.New("close timed out")
)

// MessageTooLargeError reports the first message of a write that exceeds
// the writer's maximum. Errors.Is(err, ErrMessageTooLarge) holds.
type MessageTooLargeError struct {
	Topic string
	Index int // position of the message in the write call
	Size  int // upper bound of its size on the wire, in bytes
	Limit int // the writer's maximum, in bytes
}

// Error states the message, its size and the limit.
func (e *MessageTooLargeError) Error() string {
	return fmt.Sprintf("message %d to topic %q is %d bytes, limit %d: %v",
		e.Index, e.Topic, e.Size, e.Limit, ErrMessageTooLarge)
}

// Unwrap returns [ErrMessageTooLarge].
func (e *MessageTooLargeError) Unwrap() error { return ErrMessageTooLarge }

// Message is one Kafka message to write. The writer does not retain it
// after Write returns, except that a timed-out write may still be sending
// Key, Value and header values, so callers must not modify them then.
type Message struct {
	// Topic overrides the writer's topic when not empty.
	Topic   string
	Key     []byte // nil is a null key
	Value   []byte
	Headers []Header
}

// Header is one Kafka record header.
type Header struct {
	Key   string
	Value []byte
}

// KafkaOption configures [NewKafkaWriter].
type KafkaOption func(*kafkaOptions)

type kafkaOptions struct {
	name                   string
	maxBytes               int
	batchTimeout           time.Duration
	attempts               int
	backoffMin, backoffMax time.Duration
	closeTimeout           time.Duration
	compression            kafka.Compression
	logger                 *slog.Logger
	reg                    prometheus.Registerer
}

// WithName sets the sink label of the writer's metrics; default the topic.
func WithName(name string) KafkaOption { return func(o *kafkaOptions) { o.name = name } }

// WithMaxMessageBytes sets the largest record batch, in bytes, that the
// writer sends; it must not exceed the topic's max.message.bytes, or the
// broker rejects what the pre-check let through. Default
// [DefaultMaxMessageBytes].
func WithMaxMessageBytes(n int) KafkaOption {
	return func(o *kafkaOptions) { o.maxBytes = n }
}

// WithBatchTimeout sets how long a partial batch waits before it is sent;
// a synchronous Write waits that long at most once. Default
// [DefaultBatchTimeout].
func WithBatchTimeout(d time.Duration) KafkaOption {
	return func(o *kafkaOptions) { o.batchTimeout = d }
}

// WithRetry sets the attempts per message (first included; 1 disables
// retries) and the exponential backoff between them. Defaults
// [DefaultMaxAttempts], [DefaultBackoffMin], [DefaultBackoffMax].
func WithRetry(attempts int, backoffMin, backoffMax time.Duration) KafkaOption {
	return func(o *kafkaOptions) {
		o.attempts, o.backoffMin, o.backoffMax = attempts, backoffMin, backoffMax
	}
}

// WithCloseTimeout bounds Close. Default [DefaultCloseTimeout].
func WithCloseTimeout(d time.Duration) KafkaOption {
	return func(o *kafkaOptions) { o.closeTimeout = d }
}

// WithCompression compresses record batches. Default none: Arrow IPC
// bodies of text compress well, but the size pre-check then overestimates.
func WithCompression(c kafka.Compression) KafkaOption {
	return func(o *kafkaOptions) { o.compression = c }
}

// WithLogger sets the logger; nil (the default) discards.
func WithLogger(l *slog.Logger) KafkaOption { return func(o *kafkaOptions) { o.logger = l } }

// WithRegisterer registers the writer's metrics on reg; nil (the default)
// registers nothing. Writers sharing a registerer share the metric
// families, told apart by their sink label.
func WithRegisterer(reg prometheus.Registerer) KafkaOption {
	return func(o *kafkaOptions) { o.reg = reg }
}

func (o *kafkaOptions) fill(topic string) error {
	if o.name == "" {
		o.name = topic
	}
	if o.maxBytes == 0 {
		o.maxBytes = DefaultMaxMessageBytes
	}
	if o.batchTimeout == 0 {
		o.batchTimeout = DefaultBatchTimeout
	}
	if o.attempts == 0 {
		o.attempts, o.backoffMin, o.backoffMax =
			DefaultMaxAttempts, DefaultBackoffMin, DefaultBackoffMax
	}
	if o.closeTimeout == 0 {
		o.closeTimeout = DefaultCloseTimeout
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	return o.validate()
}

func (o *kafkaOptions) validate() error {
	switch {
	case o.maxBytes <= recordBatchOverhead:
		return fmt.Errorf("max message bytes %d too small", o.maxBytes)
	case o.attempts < 1 || o.backoffMin <= 0 || o.backoffMax < o.backoffMin:
		return fmt.Errorf("retry: attempts %d, backoff %v..%v: want attempts >= 1 and "+
			"0 < min <= max", o.attempts, o.backoffMin, o.backoffMax)
	case o.batchTimeout < 0 || o.closeTimeout < 0:
		return errors.New("negative timeout")
	}
	return nil
}

// KafkaWriter writes messages to Kafka synchronously: Write returns nil
// only after every message was acknowledged by all in-sync replicas.
//
// Guard rails over a bare kafka.Writer, each a measured trap:
//   - RequiredAcks is "all": kafka-go's default, none, returned no error
//     for a message the broker rejected;
//   - the batch timeout is 5 ms, not 1 s ([WithBatchTimeout]);
//   - the writer has its own transport ([kafkax.Config.Transport]);
//   - messages over the size limit fail before anything is sent, with
//     [ErrMessageTooLarge];
//   - retries are done here, not in kafka-go, so that they stop when the
//     context ends: kafka-go's retries ignore the caller's context;
//   - Close is bounded ([WithCloseTimeout]; kafka-go #1307).
//
// A Write whose context ended may still land (kafka-go #1427), and a
// retried message may land twice: consumers deduplicate on stable keys.
// Safe for concurrent use; Close is idempotent.
type KafkaWriter struct {
	topic string
	opts  kafkaOptions
	tr    *kafka.Transport
	kw    *kafka.Writer
	obs   sinkObserver

	done      chan struct{} // closed by Close; aborts backoff waits
	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

// NewKafkaWriter returns a writer to topic on the cluster c. The topic
// must exist (see [kafkax.EnsureTopics]); automatic creation is off.
// NewKafkaWriter opens no connection. The caller must Close the writer.
func NewKafkaWriter(c kafkax.Config, topic string, opts ...KafkaOption) (*KafkaWriter, error) {
	var o kafkaOptions
	for _, opt := range opts {
		opt(&o)
	}
	if err := o.fill(topic); err != nil {
		return nil, fmt.Errorf("kafka writer: %w", err)
	}
	tr, err := c.Transport()
	if err != nil {
		return nil, fmt.Errorf("kafka writer: %w", err)
	}
	m, err := newSinkMetrics(o.reg)
	if err != nil {
		return nil, fmt.Errorf("kafka writer: register metrics: %w", err)
	}
	w := &KafkaWriter{topic: topic, opts: o, tr: tr, obs: m.forSink(o.name),
		done: make(chan struct{})}
	w.kw = w.newKafkaWriter(c)
	return w, nil
}

func (w *KafkaWriter) newKafkaWriter(c kafkax.Config) *kafka.Writer {
	return &kafka.Writer{
		Addr:         c.Addr(),
		Balancer:     &kafka.Murmur2Balancer{}, // same partitions as Java clients
		MaxAttempts:  1,                        // retries are ours, bounded by ctx
		BatchBytes:   int64(w.opts.maxBytes - recordBatchOverhead),
		BatchTimeout: w.opts.batchTimeout,
		RequiredAcks: kafka.RequireAll,
		Compression:  w.opts.compression,
		Transport:    w.tr,
	}
}

// Topic returns the writer's default topic.
func (w *KafkaWriter) Topic() string { return w.topic }

// Write sends msgs and waits until all are acknowledged, retrying those
// that failed with a retriable error until the attempts are spent or ctx
// ends. The returned error wraps the first failure: a kafka.Error (for
// example kafka.MessageSizeTooLarge when the broker rejects the size), a
// [*MessageTooLargeError], ctx.Err(), or [ErrClosed]. On error some
// messages may have been written.
func (w *KafkaWriter) Write(ctx context.Context, msgs ...Message) error {
	if w.closed.Load() {
		return ErrClosed
	}
	if len(msgs) == 0 {
		return nil
	}
	start := time.Now()
	err := w.write(ctx, msgs)
	w.obs.seconds.Observe(time.Since(start).Seconds())
	if err != nil {
		w.obs.errors.Inc()
		return err
	}
	w.obs.written.Add(float64(len(msgs)))
	return nil
}

func (w *KafkaWriter) write(ctx context.Context, msgs []Message) error {
	km, err := w.convert(msgs)
	if err != nil {
		return err
	}
	backoff := w.opts.backoffMin
	for attempt := 1; ; attempt++ {
		failed, err := w.attempt(ctx, km)
		if err == nil {
			return nil
		}
		if !retriable(err) || attempt == w.opts.attempts {
			return fmt.Errorf("kafka write: %d of %d messages failed after %d attempts: %w",
				len(failed), len(km), attempt, err)
		}
		w.opts.logger.Warn("kafka write failed, retrying", "topic", w.topic,
			"attempt", attempt, "failed", len(failed), "backoff", backoff, "err", err)
		if err := w.sleep(ctx, backoff); err != nil {
			return fmt.Errorf("kafka write: %w", err)
		}
		km, backoff = failed, min(2*backoff, w.opts.backoffMax)
	}
}

// attempt writes km once and returns the messages that failed with the
// first error among them; the error is retriable only if every failure is.
func (w *KafkaWriter) attempt(ctx context.Context, km []kafka.Message) ([]kafka.Message, error) {
	err := w.kw.WriteMessages(ctx, km...)
	if errors.Is(err, io.ErrClosedPipe) {
		return km, ErrClosed
	}
	var werrs kafka.WriteErrors
	if !errors.As(err, &werrs) || len(werrs) != len(km) {
		return km, err
	}
	var failed []kafka.Message
	var first error
	allRetriable := true
	for i, e := range werrs {
		if e == nil {
			continue
		}
		failed = append(failed, km[i])
		first = cmpOr(first, e)
		allRetriable = allRetriable && retriable(e)
	}
	if !allRetriable {
		return failed, permanent{first}
	}
	return failed, first
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// permanent marks an error that must not be retried although it wraps
// one that could be.
type permanent struct{ error }

func (p permanent) Unwrap() error { return p.error }

// retriable reports whether a write failing with err may succeed later:
// a kafka error the protocol marks retriable (leader moved, not enough
// replicas, unknown topic while metadata propagates) or a broken
// connection. The caller's context ending is final.
func retriable(err error) bool {
	var p permanent
	switch {
	case err == nil, errors.As(err, &p), errors.Is(err, ErrClosed),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return false
	}
	var ke kafka.Error
	if errors.As(err, &ke) {
		return ke.Temporary()
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE)
}

func (w *KafkaWriter) sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-w.done:
		return ErrClosed
	case <-t.C:
		return nil
	}
}

// convert checks every message against the size limit and builds the
// kafka-go messages.
func (w *KafkaWriter) convert(msgs []Message) ([]kafka.Message, error) {
	km := make([]kafka.Message, len(msgs))
	for i, m := range msgs {
		topic := m.Topic
		if topic == "" {
			topic = w.topic
		}
		if n := recordBatchBytes(m); n > w.opts.maxBytes {
			return nil, &MessageTooLargeError{Topic: topic, Index: i, Size: n,
				Limit: w.opts.maxBytes}
		}
		km[i] = kafka.Message{Topic: topic, Key: m.Key, Value: m.Value}
		for _, h := range m.Headers {
			km[i].Headers = append(km[i].Headers, kafka.Header{Key: h.Key, Value: h.Value})
		}
	}
	return km, nil
}

// recordBatchBytes is an upper bound of the bytes counted against the
// limit when m travels alone, the larger of two counts:
//   - the broker's: the v2 record batch header plus one record (Kafka
//     protocol, "Record Batch" and "Record" layouts), with the timestamp
//     and offset deltas at their widest varints;
//   - kafka-go's: its per-message estimate (v1 message layout: 4-byte
//     lengths, CRC, 8-byte timestamp) plus the batch header, since the
//     writer's BatchBytes is the limit minus that header.
func recordBatchBytes(m Message) int {
	body := 1 + binary.MaxVarintLen64 + binary.MaxVarintLen32 // attributes, deltas
	body += bytesLen(m.Key) + bytesLen(m.Value)
	hdrs := varintLen(int64(len(m.Headers)))
	for _, h := range m.Headers {
		hdrs += varintLen(int64(len(h.Key))) + len(h.Key) + bytesLen(h.Value)
	}
	broker := recordBatchOverhead + varintLen(int64(body+hdrs)) + body + hdrs
	kafkaGo := recordBatchOverhead + 4 + 1 + 1 + 4 + len(m.Key) + 4 + len(m.Value) + 8 + hdrs
	return max(broker, kafkaGo)
}

// bytesLen is the size of a varint-length-prefixed byte field; nil is -1.
func bytesLen(b []byte) int {
	if b == nil {
		return varintLen(-1)
	}
	return varintLen(int64(len(b))) + len(b)
}

func varintLen(v int64) int {
	var buf [binary.MaxVarintLen64]byte
	return binary.PutVarint(buf[:], v)
}

// Close flushes pending batches and releases connections. It waits at
// most the close timeout; then it returns [ErrCloseTimeout] and leaves
// kafka-go's close running in the background (kafka-go #1307: Close can
// hang while a write is in flight). Close is idempotent: later calls
// return the first result. Writes after Close return [ErrClosed].
func (w *KafkaWriter) Close() error {
	w.closeOnce.Do(func() {
		w.closed.Store(true)
		close(w.done)
		w.closeErr = w.closeBounded()
	})
	return w.closeErr
}

func (w *KafkaWriter) closeBounded() error {
	res := make(chan error, 1)
	go func() {
		res <- w.kw.Close()
		w.tr.CloseIdleConnections()
	}()
	t := time.NewTimer(w.opts.closeTimeout)
	defer t.Stop()
	select {
	case err := <-res:
		if err != nil {
			return fmt.Errorf("close kafka writer: %w", err)
		}
		return nil
	case <-t.C:
		w.opts.logger.Error("kafka writer close timed out", "topic", w.topic,
			"timeout", w.opts.closeTimeout)
		return fmt.Errorf("close kafka writer for %q: %w", w.topic, ErrCloseTimeout)
	}
}
