package sinks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// Header keys a dead-lettered message carries, after its original headers.
const (
	HeaderReason          = "slhf.reason"           // the named reason, e.g. "bad_preference"
	HeaderError           = "slhf.error"            // the error text, at most 1 KiB
	HeaderSourceTopic     = "slhf.source.topic"     // where the message was read
	HeaderSourcePartition = "slhf.source.partition" // decimal
	HeaderSourceOffset    = "slhf.source.offset"    // decimal
	// HeaderValueDropped is set, to the original value's size in bytes,
	// when the value had to be dropped to fit the dead-letter topic.
	HeaderValueDropped = "slhf.value.dropped"
	// HeaderExtrasDropped is set, to the bytes of key and headers removed,
	// when even without its value the record did not fit: then the
	// original key and headers are dropped too. The source position
	// headers still say where the whole message is.
	HeaderExtrasDropped = "slhf.extras.dropped"
	// OriginalHeaderPrefix is put before an original header whose key
	// starts with "slhf.", so that a producer cannot spoof ours.
	OriginalHeaderPrefix = "original."
)

// maxErrorText bounds the slhf.error header, in bytes.
const maxErrorText = 1024

// DeadLetterRecord is a message the service refused, with why and where
// it came from.
type DeadLetterRecord struct {
	// Reason is a short named reason, a bounded set suitable as a metric
	// label; empty becomes "unknown".
	Reason string
	// Err is the error that made the message invalid; nil is allowed.
	Err error
	// Topic, Partition and Offset locate the message in its source; with
	// them the dead letter has a stable identity for deduplication.
	Topic     string
	Partition int32
	Offset    int64
	// Key, Value and Headers are the original message, kept unchanged.
	Key, Value []byte
	Headers    []Header
}

// DeadLetterer sends refused messages to a place where people can inspect
// and replay them. DeadLetter returns nil only once the record is stored
// durably; on error the caller must not advance past the source offset.
// Implementations must be safe for concurrent use.
type DeadLetterer interface {
	DeadLetter(ctx context.Context, r DeadLetterRecord) error
}

// DeadLetterWriter is the [DeadLetterer] that writes to a Kafka
// dead-letter topic. A message keeps its key, value and headers; the
// slhf.* headers above are appended after the original ones, so a
// consumer taking the last header of a key sees ours. A value too large
// for the dead-letter topic is dropped, and [HeaderValueDropped] says so,
// rather than losing the whole record. Safe for concurrent use.
type DeadLetterWriter struct {
	w       *KafkaWriter
	logger  *slog.Logger
	written *prometheus.CounterVec
}

// NewDeadLetterWriter returns a dead-letter writer that owns w: Close
// closes it. logger nil discards; reg nil registers no metrics.
func NewDeadLetterWriter(w *KafkaWriter, logger *slog.Logger,
	reg prometheus.Registerer) (*DeadLetterWriter, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	written, err := register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "slhf_sink_dead_letter_written_total",
		Help: "Messages written to the dead-letter topic, by reason.",
	}, []string{"reason"}))
	if err != nil {
		return nil, fmt.Errorf("dead letter: register metrics: %w", err)
	}
	return &DeadLetterWriter{w: w, logger: logger, written: written}, nil
}

// DeadLetter writes r to the dead-letter topic and waits for the
// acknowledgement.
func (d *DeadLetterWriter) DeadLetter(ctx context.Context, r DeadLetterRecord) error {
	reason := r.Reason
	if reason == "" {
		reason = "unknown"
	}
	m := deadLetterMessage(r, reason)
	err := d.w.Write(ctx, m)
	if errors.Is(err, ErrMessageTooLarge) {
		d.logger.Warn("dead letter too large, dropping its value", "reason", reason,
			"topic", r.Topic, "partition", r.Partition, "offset", r.Offset,
			"bytes", len(r.Value))
		m.Headers = append(m.Headers, Header{HeaderValueDropped,
			[]byte(strconv.Itoa(len(r.Value)))})
		m.Value = nil
		err = d.w.Write(ctx, m)
	}
	if errors.Is(err, ErrMessageTooLarge) {
		// The original key or headers alone are near the limit. Keep
		// only our bounded headers, which fit any sane topic, so that
		// the partition never stalls on this message.
		extra := len(r.Key)
		for _, h := range r.Headers {
			extra += len(h.Key) + len(h.Value)
		}
		d.logger.Warn("dead letter still too large, dropping its key and headers",
			"reason", reason, "topic", r.Topic, "partition", r.Partition,
			"offset", r.Offset, "bytes", extra)
		m.Key = nil
		m.Headers = append(m.Headers[len(r.Headers):],
			Header{HeaderExtrasDropped, []byte(strconv.Itoa(extra))})
		err = d.w.Write(ctx, m)
	}
	if err != nil {
		return fmt.Errorf("dead letter %s/%d@%d: %w", r.Topic, r.Partition, r.Offset, err)
	}
	d.written.WithLabelValues(reason).Inc()
	return nil
}

func deadLetterMessage(r DeadLetterRecord, reason string) Message {
	text := ""
	if r.Err != nil {
		text = r.Err.Error()
	}
	if len(text) > maxErrorText {
		text = text[:maxErrorText]
	}
	h := make([]Header, 0, len(r.Headers)+5)
	for _, oh := range r.Headers {
		if strings.HasPrefix(oh.Key, "slhf.") {
			oh.Key = OriginalHeaderPrefix + oh.Key
		}
		h = append(h, oh)
	}
	h = append(h,
		Header{HeaderReason, []byte(reason)},
		Header{HeaderError, []byte(text)},
		Header{HeaderSourceTopic, []byte(r.Topic)},
		Header{HeaderSourcePartition, []byte(strconv.FormatInt(int64(r.Partition), 10))},
		Header{HeaderSourceOffset, []byte(strconv.FormatInt(r.Offset, 10))},
	)
	return Message{Key: r.Key, Value: r.Value, Headers: h}
}

// Close closes the underlying writer; see [KafkaWriter.Close].
func (d *DeadLetterWriter) Close() error { return d.w.Close() }
