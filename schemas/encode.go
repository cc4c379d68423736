package schemas

import (
	"bytes"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// DefaultEncodeMaxBytes is the message size limit the Encode functions use
// when given maxBytes <= 0: Kafka's default 1 MiB message.max.bytes minus
// 64 KiB of headroom for the record's key, headers and framing.
const DefaultEncodeMaxBytes = 1<<20 - 64<<10

// EncodeOption configures the Encode functions.
type EncodeOption func(*encodeConfig)

type encodeConfig struct {
	mem    memory.Allocator
	limits Limits
}

// WithEncodeAllocator makes the encoder build its Arrow buffers with mem.
// Every buffer is released before the Encode function returns. Default:
// memory.DefaultAllocator.
func WithEncodeAllocator(mem memory.Allocator) EncodeOption {
	return func(c *encodeConfig) { c.mem = mem }
}

// WithEncodeLimits makes the encoder refuse rows and messages that a
// Decoder with limits l would refuse. Default: DefaultLimits. Its
// MaxMessageBytes is not the split size: that is the maxBytes argument.
func WithEncodeLimits(l Limits) EncodeOption {
	return func(c *encodeConfig) { c.limits = l.withDefaults() }
}

// EncodePreferences encodes rows as preference.v1 messages. Each message
// is one Arrow IPC stream (schema, one record batch, end-of-stream marker)
// of at most maxBytes bytes (DefaultEncodeMaxBytes when maxBytes <= 0)
// and at most Limits.MaxRows rows; rows keep their order across messages,
// and no rows make no messages.
// Embedding columns are written when any row carries an embedding; all
// embeddings must then share one dimension.
//
// A row the Decoder would reject makes EncodePreferences fail with an error
// wrapping a *DecodeError naming the row; a row that alone does not fit in
// maxBytes fails with an error wrapping ErrRowTooLarge. The messages are
// owned by the caller. Safe for concurrent use if the allocator is.
func EncodePreferences(rows []Preference, maxBytes int, opts ...EncodeOption) ([][]byte, error) {
	return encode(preferenceCodec, rows, maxBytes, opts)
}

// EncodeResponses encodes rows as response.v1 messages, as
// [EncodePreferences] does.
func EncodeResponses(rows []Response, maxBytes int, opts ...EncodeOption) ([][]byte, error) {
	return encode(responseCodec, rows, maxBytes, opts)
}

// EncodeRefined encodes rows as refined.v1 messages, as
// [EncodePreferences] does.
func EncodeRefined(rows []Refined, maxBytes int, opts ...EncodeOption) ([][]byte, error) {
	return encode(refinedCodec, rows, maxBytes, opts)
}

// codec holds what the generic encoder needs to know about one kind.
type codec[T any] struct {
	name   string
	schema func(dim int) *arrow.Schema
	check  func(c checker, row *T, dim *int) *fieldErr
	// size estimates the row's share of an IPC body, in bytes.
	size   func(row *T, dim int) int
	append func(b *array.RecordBuilder, row *T)
}

// encoder is one Encode call's state.
type encoder[T any] struct {
	codec[T]
	cfg      encodeConfig
	maxBytes int
	schema   *arrow.Schema
	dim      int
	overhead int // bytes of schema, batch metadata and end marker
}

func encode[T any](c codec[T], rows []T, maxBytes int, opts []EncodeOption) ([][]byte, error) {
	e := encoder[T]{codec: c, maxBytes: maxBytes}
	e.cfg = encodeConfig{mem: memory.DefaultAllocator, limits: DefaultLimits()}
	for _, o := range opts {
		o(&e.cfg)
	}
	if e.maxBytes <= 0 {
		e.maxBytes = DefaultEncodeMaxBytes
	}
	if err := e.validate(rows); err != nil {
		return nil, fmt.Errorf("encode %s rows: %w", c.name, err)
	}
	e.schema = c.schema(e.dim)
	e.overhead = e.estimateOverhead()

	var out [][]byte
	for _, chunk := range e.pack(rows) {
		msgs, err := e.encodeFitting(chunk)
		if err != nil {
			return nil, fmt.Errorf("encode %s rows: %w", c.name, err)
		}
		out = append(out, msgs...)
	}
	return out, nil
}

// validate checks every row and fixes the embedding dimension.
func (e *encoder[T]) validate(rows []T) error {
	ch := checker{lim: &e.cfg.limits}
	for i := range rows {
		if fe := e.check(ch, &rows[i], &e.dim); fe != nil {
			return &DecodeError{Reason: fe.reason, Row: i, Field: fe.field}
		}
	}
	return nil
}

// estimateOverhead returns the bytes of a message holding no rows, plus
// room for the record batch's metadata and per-buffer padding.
func (e *encoder[T]) estimateOverhead() int {
	n := len(e.schema.Fields())
	return 1024 + 96*n
}

// pack splits rows into chunks whose estimated message size fits.
func (e *encoder[T]) pack(rows []T) [][]T {
	var chunks [][]T
	start, size := 0, e.overhead
	for i := range rows {
		s := e.size(&rows[i], e.dim)
		full := i > start && (size+s > e.maxBytes || i-start >= e.cfg.limits.MaxRows)
		if full {
			chunks = append(chunks, rows[start:i])
			start, size = i, e.overhead
		}
		size += s
	}
	if start < len(rows) {
		chunks = append(chunks, rows[start:])
	}
	return chunks
}

// encodeFitting encodes rows as one message, halving the chunk while the
// estimate was too optimistic.
func (e *encoder[T]) encodeFitting(rows []T) ([][]byte, error) {
	msg, err := e.encodeOne(rows)
	if err != nil {
		return nil, err
	}
	if len(msg) <= e.maxBytes {
		return [][]byte{msg}, nil
	}
	if len(rows) == 1 {
		return nil, fmt.Errorf("%w: %d bytes > %d", ErrRowTooLarge, len(msg), e.maxBytes)
	}
	half := len(rows) / 2
	first, err := e.encodeFitting(rows[:half])
	if err != nil {
		return nil, err
	}
	rest, err := e.encodeFitting(rows[half:])
	if err != nil {
		return nil, err
	}
	return append(first, rest...), nil
}

// encodeOne writes rows as one IPC stream with one record batch.
func (e *encoder[T]) encodeOne(rows []T) ([]byte, error) {
	b := array.NewRecordBuilder(e.cfg.mem, e.schema)
	defer b.Release()
	for i := range rows {
		e.append(b, &rows[i])
	}
	rec := b.NewRecordBatch()
	defer rec.Release()

	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(e.schema), ipc.WithAllocator(e.cfg.mem))
	if err := w.Write(rec); err != nil {
		w.Close()
		return nil, fmt.Errorf("write record batch: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("close ipc writer: %w", err)
	}
	return buf.Bytes(), nil
}
