package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ReasonDecoder is the dead-letter reason for a decode error that carries
// no reason of its own.
const ReasonDecoder = "decode_error"

// DecodeFunc turns one message value into rows, or fails with an error
// from which a ReasonFunc can name the reason.
type DecodeFunc[T any] func(value []byte) ([]T, error)

// ReasonFunc names the reason of a decode error, e.g. "nan_preference".
type ReasonFunc func(err error) string

// Gate admits messages into the service: it decodes them, and sends every
// one it cannot admit to the Rejecter with a named reason. A Gate never
// panics on bad bytes and never holds a message back: every message ends
// either admitted or rejected.
//
// A Gate is used by one goroutine at a time.
type Gate[T any] struct {
	decode  DecodeFunc[T]
	reason  ReasonFunc
	reject  Rejecter
	guard   *PoisonGuard // nil disables the crash-loop guard
	logger  *slog.Logger
	metrics *gateMetrics
}

// GateOption configures a [Gate].
type GateOption func(*gateOptions)

type gateOptions struct {
	guard  *PoisonGuard
	logger *slog.Logger
	reg    prometheus.Registerer
}

// WithPoisonGuard makes the gate consult and maintain g around every
// decode. Default: no guard.
func WithPoisonGuard(g *PoisonGuard) GateOption {
	return func(o *gateOptions) { o.guard = g }
}

// WithLogger sets the logger. Default: discard.
func WithLogger(l *slog.Logger) GateOption {
	return func(o *gateOptions) { o.logger = l }
}

// WithRegisterer registers the gate's metrics on reg. Default: none.
func WithRegisterer(reg prometheus.Registerer) GateOption {
	return func(o *gateOptions) { o.reg = reg }
}

// NewGate returns a gate decoding with decode, naming reasons with reason
// and rejecting to reject.
func NewGate[T any](decode DecodeFunc[T], reason ReasonFunc, reject Rejecter,
	opts ...GateOption) *Gate[T] {
	var o gateOptions
	for _, opt := range opts {
		opt(&o)
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	return &Gate[T]{
		decode: decode, reason: reason, reject: reject, guard: o.guard,
		logger: o.logger, metrics: newGateMetrics(o.reg),
	}
}

// Admit decodes m. It returns the rows and true when m is admitted, nil
// and false when m was rejected (and the rejection is durable). An error
// means the rejection itself failed: the caller must not move past m.
func (g *Gate[T]) Admit(ctx context.Context, m Message) ([]T, bool, error) {
	g.metrics.consumed.WithLabelValues(m.Topic).Inc()
	if g.guard != nil && g.guard.Poisoned(m.Topic, m.Partition, m.Offset) {
		crashes := g.guard.Crashes(m.Topic, m.Partition, m.Offset)
		g.logger.Warn("skipping poison message", "topic", m.Topic,
			"partition", m.Partition, "offset", m.Offset, "crashes", crashes)
		err := fmt.Errorf("process died %d times while decoding this message", crashes)
		if rerr := g.Reject(ctx, m, ReasonPoison, err); rerr != nil {
			return nil, false, rerr
		}
		return nil, false, g.guard.End(m.Topic, m.Partition, m.Offset)
	}
	rows, err := g.decodeGuarded(m)
	if err == nil {
		return rows, true, nil
	}
	if rerr := g.Reject(ctx, m, g.reasonOf(err), err); rerr != nil {
		return nil, false, rerr
	}
	return nil, false, nil
}

func (g *Gate[T]) decodeGuarded(m Message) (rows []T, err error) {
	if g.guard != nil {
		if err := g.guard.Begin(m.Topic, m.Partition, m.Offset); err != nil {
			return nil, err
		}
		defer func() {
			if endErr := g.guard.End(m.Topic, m.Partition, m.Offset); endErr != nil {
				g.logger.Error("clear in-flight mark", "err", endErr)
			}
		}()
	}
	start := time.Now()
	defer func() {
		// The decoder recovers its own panics; this is the last line, so
		// that no bad byte ever takes the process down.
		if r := recover(); r != nil {
			rows, err = nil, fmt.Errorf("decode panicked: %v", r)
		}
		g.metrics.decode.WithLabelValues(m.Topic).Observe(time.Since(start).Seconds())
	}()
	return g.decode(m.Value)
}

func (g *Gate[T]) reasonOf(err error) string {
	if r := g.reason(err); r != "" {
		return r
	}
	return ReasonDecoder
}

// Reject sends m to the rejecter with reason and counts it. Callers use it
// for row-level reasons found after decoding, such as duplicates.
func (g *Gate[T]) Reject(ctx context.Context, m Message, reason string, err error) error {
	if err == nil {
		err = errors.New(reason)
	}
	if rerr := g.reject.Reject(ctx, Rejection{Msg: m, Reason: reason, Err: err}); rerr != nil {
		return fmt.Errorf("dead-letter message %s/%d@%d: %w", m.Topic, m.Partition, m.Offset, rerr)
	}
	g.metrics.rejected.WithLabelValues(reason).Inc()
	g.logger.Debug("message dead-lettered", "topic", m.Topic, "partition", m.Partition,
		"offset", m.Offset, "reason", reason, "err", err)
	return nil
}

type gateMetrics struct {
	consumed *prometheus.CounterVec
	rejected *prometheus.CounterVec
	decode   *prometheus.HistogramVec
}

func newGateMetrics(reg prometheus.Registerer) *gateMetrics {
	m := &gateMetrics{
		consumed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slhf_ingest_consumed_total",
			Help: "Kafka messages read, by topic.",
		}, []string{"topic"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slhf_ingest_dead_lettered_total",
			Help: "Messages sent to the dead-letter topic, by reason.",
		}, []string{"reason"}),
		decode: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "slhf_ingest_decode_seconds",
			Help:    "Time to decode and validate one message, by topic.",
			Buckets: prometheus.ExponentialBuckets(20e-6, 4, 10),
		}, []string{"topic"}),
	}
	if reg != nil {
		// Several gates (feedback, responses) share one registry and so
		// one set of series, told apart by their labels.
		m.consumed = registerOrReuse(reg, m.consumed)
		m.rejected = registerOrReuse(reg, m.rejected)
		m.decode = registerOrReuse(reg, m.decode)
	}
	return m
}

// registerOrReuse registers c, or returns the equal collector registered
// before it.
func registerOrReuse[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if prev, ok := are.ExistingCollector.(C); ok {
				return prev
			}
		}
		panic(fmt.Sprintf("ingest: register metrics: %v", err))
	}
	return c
}
