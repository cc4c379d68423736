package schemas

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/prometheus/client_golang/prometheus"
)

// Decoder turns Kafka message values into records. It is the only code
// between untrusted bytes and the rest of the service, so it trusts
// nothing: it checks the size, reads the stream with Arrow's own length
// limits and a per-message allocation budget, compares the schema (kind,
// version, column names and types) before touching a column, runs Arrow's
// full validation on every record batch, validates every row, and turns
// any panic into a rejection. A message is accepted whole or rejected whole.
//
// Every rejection is a *DecodeError carrying a [Reason] and, when a row is
// at fault, the index of the first failing row.
//
// The zero Decoder is ready to use with DefaultLimits, the default Arrow
// allocator, no logging and no metrics. A Decoder is immutable after
// NewDecoder and safe for concurrent use.
type Decoder struct {
	lim Limits
	mem memory.Allocator
	log *slog.Logger
	m   *decoderMetrics
}

// DecoderOption configures NewDecoder.
type DecoderOption func(*Decoder)

// WithLimits sets the decoder's limits; zero fields take their defaults.
func WithLimits(l Limits) DecoderOption { return func(d *Decoder) { d.lim = l } }

// WithAllocator makes the decoder draw Arrow buffers from mem (default
// memory.DefaultAllocator), through a per-message BudgetAllocator. Every
// buffer is released before a Decode method returns, on success and on
// failure alike; the decoded rows hold no Arrow memory.
func WithAllocator(mem memory.Allocator) DecoderOption {
	return func(d *Decoder) { d.mem = mem }
}

// WithLogger makes the decoder log rejections at debug level; nil (the
// default) discards.
func WithLogger(l *slog.Logger) DecoderOption { return func(d *Decoder) { d.log = l } }

// WithRegisterer registers the decoder's metrics on r (nil, the default,
// registers nothing): slhf_schemas_decoded_messages_total{kind},
// slhf_schemas_decoded_rows_total{kind} and
// slhf_schemas_rejected_messages_total{kind,reason}. Decoders sharing a
// Registerer share these counters. It panics if r holds a different
// collector under one of these names, a programmer error.
func WithRegisterer(r prometheus.Registerer) DecoderOption {
	return func(d *Decoder) { d.m = newDecoderMetrics(r) }
}

// NewDecoder returns a Decoder configured by opts.
func NewDecoder(opts ...DecoderOption) *Decoder {
	d := &Decoder{}
	for _, o := range opts {
		o(d)
	}
	d.lim = d.lim.withDefaults()
	return d
}

// Limits returns the limits the decoder enforces.
func (d *Decoder) Limits() Limits { return d.lim.withDefaults() }

// DecodePreferences decodes a preference.v1 message. On success every row
// passed validation; the strings of one column of one record batch share
// one backing allocation, as do its embeddings. The rows are owned by the
// caller. On failure the error is a *DecodeError and the rows are nil.
func (d *Decoder) DecodePreferences(msg []byte) ([]Preference, error) {
	return decode(d, msg, preferenceReader)
}

// DecodeResponses decodes a response.v1 message, as [Decoder.DecodePreferences].
func (d *Decoder) DecodeResponses(msg []byte) ([]Response, error) {
	return decode(d, msg, responseReader)
}

// DecodeRefined decodes a refined.v1 message, as [Decoder.DecodePreferences].
func (d *Decoder) DecodeRefined(msg []byte) ([]Refined, error) {
	return decode(d, msg, refinedReader)
}

// rowReader holds what the generic decoder needs to know about one kind.
type rowReader[T any] struct {
	name string
	defs []fieldDef
	// read appends the rows of b to out; base is the message-wide index of
	// b's first row. It stops at the first invalid row.
	read func(b *batch, ch checker, out []T, base int) ([]T, *DecodeError)
}

func decode[T any](d *Decoder, msg []byte, rr rowReader[T]) ([]T, error) {
	lim := d.lim
	if lim.MaxRows == 0 {
		lim = lim.withDefaults()
	}
	rows, de := decodeChecked(d.mem, &lim, msg, rr)
	d.observe(rr.name, len(rows), de)
	if de != nil {
		return nil, de
	}
	return rows, nil
}

// decodeChecked runs the decode under a budget and turns panics into
// rejections.
func decodeChecked[T any](mem memory.Allocator, lim *Limits, msg []byte,
	rr rowReader[T]) (rows []T, de *DecodeError) {
	switch {
	case len(msg) == 0:
		return nil, reject(ReasonEmptyMessage, "", nil)
	case len(msg) > lim.MaxMessageBytes:
		return nil, reject(ReasonOversizedMessage, "",
			fmt.Errorf("%d bytes > %d", len(msg), lim.MaxMessageBytes))
	}
	budget := NewBudgetAllocator(mem, lim.budget(len(msg)))
	defer func() {
		if p := recover(); p != nil {
			rows, de = nil, classifyPanic(p, budget)
		}
		// Arrow leaks buffers when a read fails halfway (a panic inside
		// its loader, such as our budget's); the reader is released by now.
		budget.FreeAll()
	}()
	rows, de = readStream(budget, lim, msg, rr)
	if de != nil && budget.Exceeded() {
		de = reject(ReasonOversizedAllocation, "", ErrAllocationBudget)
	}
	return rows, de
}

func classifyPanic(p any, budget *BudgetAllocator) *DecodeError {
	if budget.Exceeded() {
		return reject(ReasonOversizedAllocation, "", ErrAllocationBudget)
	}
	return reject(ReasonCorruptIPC, "", fmt.Errorf("panic while decoding: %v", p))
}

// readStream reads every record batch of msg and converts it to rows.
func readStream[T any](mem memory.Allocator, lim *Limits, msg []byte,
	rr rowReader[T]) ([]T, *DecodeError) {
	if err := guardStream(msg); err != nil {
		return nil, guardError(err)
	}
	src := &endReader{r: bytes.NewReader(msg)}
	// Arrow's own limits stop a corrupt length before it allocates; no
	// valid message part can be longer than the largest valid message.
	r, err := ipc.NewReader(src, ipc.WithAllocator(mem),
		ipc.WithMetadataSizeLimit(int64(lim.MaxMessageBytes)),
		ipc.WithBodySizeLimit(int64(lim.MaxMessageBytes)))
	if err != nil {
		return nil, classifyIPC(err, src)
	}
	defer r.Release()

	l, de := bindSchema(r.Schema(), rr.name, rr.defs, lim)
	if de != nil {
		return nil, de
	}
	var out []T
	ch := checker{lim: lim}
	for r.Next() {
		if out, de = readBatch(r.RecordBatch(), l, ch, out, rr); de != nil {
			return nil, de
		}
	}
	if de := endOfStream(r, src); de != nil {
		return nil, de
	}
	if len(out) == 0 {
		return nil, reject(ReasonEmptyMessage, "", errors.New("no rows"))
	}
	return out, nil
}

// readBatch validates one record batch and appends its rows.
func readBatch[T any](rec arrow.RecordBatch, l *layout, ch checker, out []T,
	rr rowReader[T]) ([]T, *DecodeError) {
	n, base := int(rec.NumRows()), len(out)
	if n < 0 {
		return nil, reject(ReasonCorruptIPC, "", fmt.Errorf("batch length %d", n))
	}
	if base+n > ch.lim.MaxRows {
		return nil, reject(ReasonTooManyRows, "",
			fmt.Errorf("more than %d rows", ch.lim.MaxRows))
	}
	for i, col := range rec.Columns() {
		if col.Len() != n {
			return nil, reject(ReasonCorruptIPC, rec.ColumnName(i),
				fmt.Errorf("column length %d, batch length %d", col.Len(), n))
		}
		if err := array.ValidateFull(col); err != nil {
			return nil, validationFailure(col, rec.ColumnName(i), base, err)
		}
	}
	b := &batch{rec: rec, l: l}
	b.checkRequired()
	return rr.read(b, ch, out, base)
}

// validationFailure names a failure of Arrow's full validation: invalid
// UTF-8 in well-formed text is bad data, anything else a corrupt stream.
func validationFailure(col arrow.Array, field string, base int, err error) *DecodeError {
	if row, ok := utf8Row(col); ok {
		return &DecodeError{Reason: ReasonInvalidUTF8, Row: base + row, Field: field}
	}
	return reject(ReasonCorruptIPC, field, err)
}

// endOfStream tells a clean end from a failed or truncated read.
func endOfStream(r *ipc.Reader, src *endReader) *DecodeError {
	if err := r.Err(); err != nil {
		return classifyIPC(err, src)
	}
	if src.sawEOF {
		// Arrow treats running out of bytes between messages as a normal
		// end; a stream we accept must carry its end-of-stream marker.
		return reject(ReasonTruncatedIPC, "", errors.New("no end-of-stream marker"))
	}
	if n := src.r.Len(); n > 0 {
		return reject(ReasonCorruptIPC, "", fmt.Errorf("%d bytes after end of stream", n))
	}
	return nil
}

func classifyIPC(err error, src *endReader) *DecodeError {
	if errors.Is(err, io.ErrUnexpectedEOF) || src.sawEOF {
		return reject(ReasonTruncatedIPC, "", err)
	}
	return reject(ReasonCorruptIPC, "", err)
}

// endReader remembers whether its reader ever reported io.EOF.
type endReader struct {
	r      *bytes.Reader
	sawEOF bool
}

func (e *endReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		e.sawEOF = true
	}
	return n, err
}

// rowErr turns a row-level check failure into a DecodeError.
func rowErr(row int, fe *fieldErr) *DecodeError {
	return &DecodeError{Reason: fe.reason, Row: row, Field: fe.field}
}

// finish reports the column-level failure that stopped the row loop.
func finish[T any](b *batch, out []T, base int) ([]T, *DecodeError) {
	if b.firstBad != nil {
		b.firstBad.Row += base
		return nil, b.firstBad
	}
	return out, nil
}

func (d *Decoder) observe(kind string, rows int, de *DecodeError) {
	if de != nil {
		if d.log != nil {
			d.log.Debug("reject message", "kind", kind, "reason", string(de.Reason),
				"row", de.Row, "field", de.Field, "err", de.Err)
		}
		if d.m != nil {
			d.m.rejected.WithLabelValues(kind, string(de.Reason)).Inc()
		}
		return
	}
	if d.m != nil {
		d.m.messages.WithLabelValues(kind).Inc()
		d.m.rows.WithLabelValues(kind).Add(float64(rows))
	}
}
