package sinks

import (
	"context"
	"fmt"

	"github.com/slhf-dev/slhf/schemas"
)

// Headers of a refined-topic message.
const (
	HeaderSchema = "slhf.schema" // "refined.v1"
)

// RefinedTopic writes refined.v1 rows to Kafka through a [KafkaWriter],
// one message per row keyed by its request_id: the key is the record's
// identity, so partitioning, log compaction and consumer-side
// deduplication all work on it, and a retried row lands on the same
// partition under the same key. A one-row Arrow stream is mostly schema
// bytes (about 1.5 KiB here); that is the price of the keyed contract.
// Safe for concurrent use.
type RefinedTopic struct {
	w *KafkaWriter
}

// NewRefinedTopic returns a refined sink that owns w: Close closes it.
func NewRefinedTopic(w *KafkaWriter) *RefinedTopic { return &RefinedTopic{w: w} }

// WriteRefined encodes rows and writes them, waiting for the
// acknowledgements; see [KafkaWriter.Write].
func (t *RefinedTopic) WriteRefined(ctx context.Context, rows []schemas.Refined) error {
	msgs := make([]Message, 0, len(rows))
	for i := range rows {
		bodies, err := schemas.EncodeRefined(rows[i:i+1], t.w.opts.maxBytes)
		if err != nil {
			return fmt.Errorf("refined topic: encode %s: %w", rows[i].RequestID, err)
		}
		msgs = append(msgs, Message{Key: []byte(rows[i].RequestID), Value: bodies[0],
			Headers: []Header{{HeaderSchema, []byte(schemas.RefinedName + ".v1")}}})
	}
	if err := t.w.Write(ctx, msgs...); err != nil {
		return fmt.Errorf("refined topic: %w", err)
	}
	return nil
}

// Close closes the underlying writer.
func (t *RefinedTopic) Close() error { return t.w.Close() }
