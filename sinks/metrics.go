package sinks

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// sinkMetrics are shared by every sink registered on one registerer; each
// sink fills its own "sink" label.
type sinkMetrics struct {
	written *prometheus.CounterVec
	errors  *prometheus.CounterVec
	seconds *prometheus.HistogramVec
}

func newSinkMetrics(reg prometheus.Registerer) (*sinkMetrics, error) {
	m := &sinkMetrics{
		written: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slhf_sink_written_total",
			Help: "Records or messages a sink wrote successfully.",
		}, []string{"sink"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slhf_sink_write_errors_total",
			Help: "Write calls of a sink that returned an error.",
		}, []string{"sink"}),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "slhf_sink_write_seconds",
			Help:    "Duration of one write call of a sink, retries included.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 9),
		}, []string{"sink"}),
	}
	var err error
	if m.written, err = register(reg, m.written); err != nil {
		return nil, err
	}
	if m.errors, err = register(reg, m.errors); err != nil {
		return nil, err
	}
	if m.seconds, err = register(reg, m.seconds); err != nil {
		return nil, err
	}
	return m, nil
}

// register registers c on reg (nil means none) and returns the collector
// to use: c itself, or the identical one a sibling sink registered first.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if reg == nil {
		return c, nil
	}
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, err
}

// sinkObserver is one sink's view of sinkMetrics.
type sinkObserver struct {
	written prometheus.Counter
	errors  prometheus.Counter
	seconds prometheus.Observer
}

func (m *sinkMetrics) forSink(name string) sinkObserver {
	return sinkObserver{
		written: m.written.WithLabelValues(name),
		errors:  m.errors.WithLabelValues(name),
		seconds: m.seconds.WithLabelValues(name),
	}
}
