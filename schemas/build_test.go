package schemas

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// This file builds Arrow streams by hand, bypassing the encoders'
// validation, to make the bad messages of the corpus.

// filler appends one value of field f for row r to b; it returns false to
// fall back to the default value.
type filler func(f arrow.Field, b array.Builder, r int) bool

// stream writes one IPC stream of schema s holding one record batch per
// entry of batches (its row count), filled by fill then by defaultFill.
func stream(tb testing.TB, s *arrow.Schema, fill filler, batches ...int) []byte {
	tb.Helper()
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(s))
	row := 0
	for _, n := range batches {
		rec := buildBatch(s, fill, row, n)
		err := w.Write(rec)
		rec.Release()
		if err != nil {
			tb.Fatalf("write batch: %v", err)
		}
		row += n
	}
	if err := w.Close(); err != nil {
		tb.Fatalf("close writer: %v", err)
	}
	return buf.Bytes()
}

func buildBatch(s *arrow.Schema, fill filler, first, n int) arrow.RecordBatch {
	b := array.NewRecordBuilder(memory.DefaultAllocator, s)
	defer b.Release()
	for r := first; r < first+n; r++ {
		for i, f := range s.Fields() {
			if fill == nil || !fill(f, b.Field(i), r) {
				defaultFill(f, b.Field(i), r)
			}
		}
	}
	return b.NewRecordBatch()
}

// defaultFill appends a valid value for any column of our schemas, and a
// plausible one for foreign types.
func defaultFill(f arrow.Field, b array.Builder, r int) {
	switch b := b.(type) {
	case *array.StringBuilder:
		b.Append(defaultText(f.Name, r))
	case *array.TimestampBuilder:
		ms := baseTS.UnixMilli() + int64(r)
		if f.Type.(*arrow.TimestampType).Unit == arrow.Second {
			ms /= 1000
		}
		b.Append(arrow.Timestamp(ms))
	case *array.Float32Builder:
		b.Append(0.5)
	case *array.Float64Builder:
		b.Append(0.5)
	case *array.Int64Builder:
		b.Append(int64(r))
	case *array.Int32Builder:
		b.Append(1)
	case *array.BooleanBuilder:
		b.Append(true)
	case *array.ListBuilder:
		b.Append(true)
		vb := b.ValueBuilder().(*array.StringBuilder)
		vb.Append("candidate one")
		vb.Append("candidate two")
	case *array.FixedSizeListBuilder:
		b.Append(true)
		n := int(f.Type.(*arrow.FixedSizeListType).Len())
		for i := 0; i < n; i++ {
			appendNumber(b.ValueBuilder(), float64(r)+float64(i)/10)
		}
	default:
		panic(fmt.Sprintf("defaultFill: no default for %s %T", f.Name, b))
	}
}

func defaultText(name string, r int) string {
	switch {
	case strings.HasPrefix(name, "role"):
		return "external"
	case name == "reason":
		return "kept"
	}
	return fmt.Sprintf("%s %d", name, r)
}

func appendNumber(b array.Builder, v float64) {
	switch b := b.(type) {
	case *array.Float32Builder:
		b.Append(float32(v))
	case *array.Float64Builder:
		b.Append(v)
	}
}

// with returns a filler that sets column name of row r with set.
func with(name string, row int, set func(b array.Builder)) filler {
	return func(f arrow.Field, b array.Builder, r int) bool {
		if f.Name != name || r != row {
			return false
		}
		set(b)
		return true
	}
}

func setNull(b array.Builder) { b.AppendNull() }
func setText(s string) func(array.Builder) {
	return func(b array.Builder) { b.(*array.StringBuilder).Append(s) }
}
func setF32(v float32) func(array.Builder) {
	return func(b array.Builder) { b.(*array.Float32Builder).Append(v) }
}
func setI64(v int64) func(array.Builder) {
	return func(b array.Builder) { b.(*array.Int64Builder).Append(v) }
}
func setI32(v int32) func(array.Builder) {
	return func(b array.Builder) { b.(*array.Int32Builder).Append(v) }
}
func setTS(ms int64) func(array.Builder) {
	return func(b array.Builder) { b.(*array.TimestampBuilder).Append(arrow.Timestamp(ms)) }
}

// setEmb appends one embedding with the given values (must match D).
func setEmb(vals ...float32) func(array.Builder) {
	return func(b array.Builder) {
		lb := b.(*array.FixedSizeListBuilder)
		lb.Append(true)
		lb.ValueBuilder().(*array.Float32Builder).AppendValues(vals, nil)
	}
}

func setList(items ...string) func(array.Builder) {
	return func(b array.Builder) {
		lb := b.(*array.ListBuilder)
		lb.Append(true)
		for _, s := range items {
			lb.ValueBuilder().(*array.StringBuilder).Append(s)
		}
	}
}

// reshape returns s with its fields transformed by edit (which may drop a
// field by returning false) and extra fields appended; metadata is kept
// unless md is given.
func reshape(s *arrow.Schema, edit func(*arrow.Field) bool, md *arrow.Metadata,
	extra ...arrow.Field) *arrow.Schema {
	var fields []arrow.Field
	for _, f := range s.Fields() {
		if edit == nil || edit(&f) {
			fields = append(fields, f)
		}
	}
	fields = append(fields, extra...)
	if md == nil {
		m := s.Metadata()
		md = &m
	}
	return arrow.NewSchema(fields, md)
}

// retype changes the type of one field.
func retype(name string, dt arrow.DataType) func(*arrow.Field) bool {
	return func(f *arrow.Field) bool {
		if f.Name == name {
			f.Type = dt
		}
		return true
	}
}

// nullable declares one field nullable.
func nullable(name string) func(*arrow.Field) bool {
	return func(f *arrow.Field) bool {
		if f.Name == name {
			f.Nullable = true
		}
		return true
	}
}

func drop(name string) func(*arrow.Field) bool {
	return func(f *arrow.Field) bool { return f.Name != name }
}

func meta(kv ...string) *arrow.Metadata {
	var k, v []string
	for i := 0; i+1 < len(kv); i += 2 {
		k, v = append(k, kv[i]), append(v, kv[i+1])
	}
	m := arrow.NewMetadata(k, v)
	return &m
}
