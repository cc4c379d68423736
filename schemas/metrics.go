package schemas

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

type decoderMetrics struct {
	messages *prometheus.CounterVec
	rows     *prometheus.CounterVec
	rejected *prometheus.CounterVec
}

func newDecoderMetrics(r prometheus.Registerer) *decoderMetrics {
	m := &decoderMetrics{
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slhf_schemas_decoded_messages_total",
			Help: "Messages decoded and accepted, by record kind.",
		}, []string{"kind"}),
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slhf_schemas_decoded_rows_total",
			Help: "Rows of accepted messages, by record kind.",
		}, []string{"kind"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slhf_schemas_rejected_messages_total",
			Help: "Messages rejected by the decoder, by record kind and reason.",
		}, []string{"kind", "reason"}),
	}
	if r == nil {
		return m
	}
	m.messages = register(r, m.messages)
	m.rows = register(r, m.rows)
	m.rejected = register(r, m.rejected)
	return m
}

// register registers c, or returns the identical collector registered
// before, so that several Decoders can share one Registerer.
func register(r prometheus.Registerer, c *prometheus.CounterVec) *prometheus.CounterVec {
	err := r.Register(c)
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if old, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
			return old
		}
	}
	if err != nil {
		panic("schemas: register decoder metrics: " + err.Error())
	}
	return c
}
