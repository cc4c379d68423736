package schemas

import (
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// layout maps the fieldDefs of a kind onto the columns of a stream's
// schema; it is computed once per message, before any column is touched.
type layout struct {
	defs []fieldDef
	col  []int // col[i]: column index of defs[i], or -1 when absent
	dim  int   // embedding dimension, 0 when no embedding column
}

// bindSchema compares a stream's schema with the kind's definition: kind
// and version metadata, then every column's name and type, then the
// presence of required columns.
func bindSchema(s *arrow.Schema, name string, defs []fieldDef,
	lim *Limits) (*layout, *DecodeError) {
	if de := checkMetadata(s.Metadata(), name); de != nil {
		return nil, de
	}
	l := &layout{defs: defs, col: make([]int, len(defs))}
	for i := range l.col {
		l.col[i] = -1
	}
	for ci, f := range s.Fields() {
		if de := l.bindField(ci, f, lim); de != nil {
			return nil, de
		}
	}
	for i, d := range defs {
		if d.required && l.col[i] < 0 {
			return nil, reject(ReasonMissingField, d.name, nil)
		}
	}
	return l, nil
}

func checkMetadata(md arrow.Metadata, name string) *DecodeError {
	kind, ok := metaValue(md, MetaSchemaName)
	if !ok || kind != name {
		return reject(ReasonWrongSchema, "",
			fmt.Errorf("schema %q, want %q", kind, name))
	}
	if v, _ := metaValue(md, MetaSchemaVersion); v != Version {
		return reject(ReasonUnknownVersion, "",
			fmt.Errorf("%s version %q, want %q", name, v, Version))
	}
	return nil
}

func metaValue(md arrow.Metadata, key string) (string, bool) {
	i := md.FindKey(key)
	if i < 0 {
		return "", false
	}
	return md.Values()[i], true
}

// bindField records where the column f, at index ci, lives.
func (l *layout) bindField(ci int, f arrow.Field, lim *Limits) *DecodeError {
	di := -1
	for i, d := range l.defs {
		if d.name == f.Name {
			di = i
		}
	}
	switch {
	case di < 0:
		return reject(ReasonWrongSchema, f.Name, fmt.Errorf("unknown column"))
	case l.col[di] >= 0:
		return reject(ReasonWrongSchema, f.Name, fmt.Errorf("duplicate column"))
	case !typeMatches(l.defs[di].kind, f.Type):
		return reject(ReasonWrongType, f.Name, fmt.Errorf("type %s", f.Type))
	}
	if l.defs[di].kind == kindEmbedding {
		d := int(f.Type.(*arrow.FixedSizeListType).Len())
		if d <= 0 || d > lim.MaxEmbeddingDim || (l.dim != 0 && d != l.dim) {
			return reject(ReasonInvalidEmbedding, f.Name, fmt.Errorf("dimension %d", d))
		}
		l.dim = d
	}
	l.col[di] = ci
	return nil
}

// typeMatches reports whether dt is the Arrow type of kind k. Nullability
// is not compared: a producer may declare a required column nullable (the
// pyarrow default) as long as it holds no nulls. Types are otherwise exact:
// large_utf8, string_view and dictionary-encoded text are wrong types.
func typeMatches(k colKind, dt arrow.DataType) bool {
	switch k {
	case kindTimestamp:
		ts, ok := dt.(*arrow.TimestampType)
		return ok && ts.Unit == arrow.Millisecond && isUTC(ts.TimeZone)
	case kindTextList:
		lt, ok := dt.(*arrow.ListType)
		return ok && lt.Elem().ID() == arrow.STRING
	case kindEmbedding:
		ft, ok := dt.(*arrow.FixedSizeListType)
		return ok && ft.Elem().ID() == arrow.FLOAT32
	}
	return arrow.TypeEqual(dt, arrowType(k, 0))
}

func isUTC(tz string) bool {
	switch tz {
	case "UTC", "Etc/UTC", "Z", "+00:00":
		return true
	}
	return false
}

// batch is one record batch bound to a layout. firstBad holds the
// earliest row-indexed failure found by the column-level checks.
type batch struct {
	rec      arrow.RecordBatch
	l        *layout
	firstBad *DecodeError
}

// column returns the array of defs[i], or nil when the column is absent.
func (b *batch) column(i int) arrow.Array {
	if b.l.col[i] < 0 {
		return nil
	}
	return b.rec.Column(b.l.col[i])
}

// fail keeps the earliest of the failures found so far.
func (b *batch) fail(row int, r Reason, field string) {
	if b.firstBad == nil || row < b.firstBad.Row {
		b.firstBad = &DecodeError{Reason: r, Row: row, Field: field}
	}
}

// limit returns how many rows can be decoded before the first column-level
// failure.
func (b *batch) limit() int {
	if b.firstBad != nil {
		return b.firstBad.Row
	}
	return int(b.rec.NumRows())
}

// checkRequired records the first null of every required column.
func (b *batch) checkRequired() {
	for i, d := range b.l.defs {
		a := b.column(i)
		if !d.required || a == nil || a.NullN() == 0 {
			continue
		}
		for r := 0; r < a.Len(); r++ {
			if a.IsNull(r) {
				b.fail(r, ReasonMissingField, d.name)
				break
			}
		}
	}
}

// textCol reads a utf8 column, already checked by Arrow's full validation
// (offsets and UTF-8). Its values are copied once into a single string; the
// strings it returns share that backing memory.
type textCol struct {
	a    *array.String
	data string
	offs []int32
}

func (b *batch) text(i int) textCol {
	a, _ := b.column(i).(*array.String)
	if a == nil {
		return textCol{}
	}
	return textCol{a: a, offs: a.ValueOffsets(), data: string(a.ValueBytes())}
}

// at returns row r, or "" when absent or null.
func (c *textCol) at(r int) string {
	if c.a == nil || c.a.IsNull(r) {
		return ""
	}
	base := c.offs[0]
	return c.data[c.offs[r]-base : c.offs[r+1]-base]
}

type tsCol struct{ v []arrow.Timestamp }

func (b *batch) ts(i int) tsCol {
	return tsCol{v: b.column(i).(*array.Timestamp).TimestampValues()}
}

func (c tsCol) at(r int) time.Time { return time.UnixMilli(int64(c.v[r])).UTC() }

type f32Col struct{ a *array.Float32 }

func (b *batch) f32(i int) f32Col {
	a, _ := b.column(i).(*array.Float32)
	return f32Col{a}
}

func (c f32Col) at(r int) float32 { return c.a.Value(r) }

// opt returns a pointer to row r, or nil when absent or null.
func (c f32Col) opt(r int) *float32 {
	if c.a == nil || c.a.IsNull(r) {
		return nil
	}
	v := c.a.Value(r)
	return &v
}

type i64Col struct{ a *array.Int64 }

func (b *batch) i64(i int) i64Col {
	a, _ := b.column(i).(*array.Int64)
	return i64Col{a}
}

func (c i64Col) opt(r int) *int64 {
	if c.a == nil || c.a.IsNull(r) {
		return nil
	}
	v := c.a.Value(r)
	return &v
}

// embCol reads a fixed_size_list<float32> column; its rows share one
// copied []float32.
type embCol struct {
	a    *array.FixedSizeList
	vals []float32
	dim  int
}

func (b *batch) emb(i int) embCol {
	a, _ := b.column(i).(*array.FixedSizeList)
	if a == nil {
		return embCol{}
	}
	child := a.ListValues().(*array.Float32)
	c := embCol{a: a, dim: b.l.dim}
	c.vals = append([]float32(nil), child.Float32Values()...)
	if child.NullN() > 0 {
		b.failNullItems(a, child, b.l.defs[i].name, ReasonInvalidEmbedding)
	}
	return c
}

// failNullItems finds the first non-null list row holding a null item.
func (b *batch) failNullItems(a array.ListLike, child arrow.Array, field string, r Reason) {
	for row := 0; row < a.Len(); row++ {
		if a.IsNull(row) {
			continue
		}
		s, e := a.ValueOffsets(row)
		for j := s; j < e; j++ {
			if child.IsNull(int(j)) {
				b.fail(row, r, field)
				return
			}
		}
	}
}

// at returns row r's embedding, or nil when absent or null. The slice's
// capacity is capped so appending to it cannot overwrite the next row.
func (c *embCol) at(r int) []float32 {
	if c.a == nil || c.a.IsNull(r) {
		return nil
	}
	s, e := c.a.ValueOffsets(r) // relative to the child array, like vals
	return c.vals[s:e:e]
}

// listCol reads a list<utf8> column.
type listCol struct {
	a     *array.List
	items textCol
}

func (b *batch) list(i int) listCol {
	a, _ := b.column(i).(*array.List)
	if a == nil {
		return listCol{}
	}
	child := a.ListValues().(*array.String)
	items := textCol{a: child, offs: child.ValueOffsets(), data: string(child.ValueBytes())}
	if child.NullN() > 0 {
		b.failNullItems(a, child, b.l.defs[i].name, ReasonMissingField)
	}
	return listCol{a: a, items: items}
}

// utf8Row tells a UTF-8 failure of Arrow's full validation from corrupt
// layout: when col (utf8 or list<utf8>) has sound offsets, it returns the
// first non-null row holding invalid UTF-8.
func utf8Row(col arrow.Array) (int, bool) {
	switch a := col.(type) {
	case *array.String:
		if !soundOffsets(a) {
			return 0, false
		}
		for r := 0; r < a.Len(); r++ {
			if a.IsValid(r) && !utf8.ValidString(a.Value(r)) {
				return r, true
			}
		}
	case *array.List:
		child, ok := a.ListValues().(*array.String)
		if !ok || !soundOffsets(child) || !monotone(a.Offsets(), child.Len()) {
			return 0, false
		}
		for r := 0; r < a.Len(); r++ {
			if a.IsNull(r) {
				continue
			}
			s, e := a.ValueOffsets(r)
			for j := int(s); j < int(e); j++ {
				if child.IsValid(j) && !utf8.ValidString(child.Value(j)) {
					return r, true
				}
			}
		}
	}
	return 0, false
}

func soundOffsets(a *array.String) bool {
	bufs := a.Data().Buffers()
	if len(bufs) != 3 {
		return false
	}
	n := 0
	if bufs[2] != nil {
		n = bufs[2].Len()
	}
	return monotone(a.ValueOffsets(), n)
}

// monotone reports whether offs is non-decreasing within [0, limit].
func monotone(offs []int32, limit int) bool {
	for i, o := range offs {
		if o < 0 || int(o) > limit || (i > 0 && o < offs[i-1]) {
			return false
		}
	}
	return len(offs) > 0
}

// at returns row r's items, or nil when absent or null.
func (c *listCol) at(r int) []string {
	if c.a == nil || c.a.IsNull(r) {
		return nil
	}
	s, e := c.a.ValueOffsets(r)
	out := make([]string, 0, e-s)
	for j := s; j < e; j++ {
		out = append(out, c.items.at(int(j)))
	}
	return out
}
