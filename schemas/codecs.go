package schemas

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// The append functions below rely on the column order of the fieldDef
// tables: fixed columns first, embedding columns last.

var preferenceCodec = codec[Preference]{
	name:   PreferenceName,
	schema: PreferenceSchema,
	check: func(c checker, p *Preference, dim *int) *fieldErr {
		return c.checkPreference(p, dim)
	},
	size: func(p *Preference, dim int) int {
		n := len(p.EventID) + len(p.Prompt) + len(p.ResponseA) + len(p.ResponseB) +
			len(p.PromptID) + len(p.ModelA) + len(p.ModelB) + len(p.RoleA) +
			len(p.RoleB) + len(p.Annotator)
		return n + 10*4 + 8 + 4*4 + 8 + 3*4*dim + 4
	},
	append: appendPreference,
}

func appendPreference(b *array.RecordBuilder, p *Preference) {
	text(b, 0, p.EventID)
	stamp(b, 1, p)
	text(b, 2, p.Prompt)
	text(b, 3, p.ResponseA)
	text(b, 4, p.ResponseB)
	b.Field(5).(*array.Float32Builder).Append(p.Preference)
	optText(b, 6, p.PromptID)
	optText(b, 7, p.ModelA)
	optText(b, 8, p.ModelB)
	optText(b, 9, string(p.RoleA))
	optText(b, 10, string(p.RoleB))
	optFloat(b, 11, p.ProbA)
	optFloat(b, 12, p.ProbB)
	if ib := b.Field(13).(*array.Int64Builder); p.PolicyVersion != nil {
		ib.Append(*p.PolicyVersion)
	} else {
		ib.AppendNull()
	}
	optFloat(b, 14, p.Weight)
	optText(b, 15, p.Annotator)
	if len(b.Fields()) > 16 {
		embedding(b, 16, p.PromptEmbedding)
		embedding(b, 17, p.EmbeddingA)
		embedding(b, 18, p.EmbeddingB)
	}
}

var responseCodec = codec[Response]{
	name:   ResponseName,
	schema: ResponseSchema,
	check: func(c checker, r *Response, dim *int) *fieldErr {
		return c.checkResponse(r, dim)
	},
	size: func(r *Response, dim int) int {
		n := len(r.RequestID) + len(r.Prompt) + len(r.Response) + len(r.Model)
		for _, s := range r.Candidates {
			n += len(s) + 4
		}
		return n + 5*4 + 8 + 2*4*dim + 4
	},
	append: appendResponse,
}

func appendResponse(b *array.RecordBuilder, r *Response) {
	text(b, 0, r.RequestID)
	stamp(b, 1, r)
	text(b, 2, r.Prompt)
	text(b, 3, r.Response)
	lb := b.Field(4).(*array.ListBuilder)
	if r.Candidates == nil {
		lb.AppendNull()
	} else {
		lb.Append(true)
		vb := lb.ValueBuilder().(*array.StringBuilder)
		for _, s := range r.Candidates {
			vb.Append(s)
		}
	}
	optText(b, 5, r.Model)
	if len(b.Fields()) > 6 {
		embedding(b, 6, r.PromptEmbedding)
		embedding(b, 7, r.ResponseEmbedding)
	}
}

var refinedCodec = codec[Refined]{
	name:   RefinedName,
	schema: func(int) *arrow.Schema { return RefinedSchema() },
	check: func(c checker, r *Refined, _ *int) *fieldErr {
		return c.checkRefined(r)
	},
	size: func(r *Refined, _ int) int {
		n := len(r.RequestID) + len(r.Prompt) + len(r.Original) + len(r.Refined) +
			len(r.Reason)
		return n + 5*4 + 8 + 4 + 1 + 4 + 3*8
	},
	append: appendRefined,
}

func appendRefined(b *array.RecordBuilder, r *Refined) {
	text(b, 0, r.RequestID)
	stamp(b, 1, r)
	text(b, 2, r.Prompt)
	text(b, 3, r.Original)
	text(b, 4, r.Refined)
	b.Field(5).(*array.Int32Builder).Append(r.Rounds)
	b.Field(6).(*array.BooleanBuilder).Append(r.Changed)
	b.Field(7).(*array.Float32Builder).Append(r.FollowerProb)
	b.Field(8).(*array.Int64Builder).Append(r.ModelVersion)
	b.Field(9).(*array.Int64Builder).Append(r.LatencyUS)
	text(b, 10, r.Reason)
}

func text(b *array.RecordBuilder, i int, s string) {
	b.Field(i).(*array.StringBuilder).Append(s)
}

// optText writes the empty string as null: optional text is absent or
// non-empty.
func optText(b *array.RecordBuilder, i int, s string) {
	sb := b.Field(i).(*array.StringBuilder)
	if s == "" {
		sb.AppendNull()
		return
	}
	sb.Append(s)
}

func optFloat(b *array.RecordBuilder, i int, v *float32) {
	fb := b.Field(i).(*array.Float32Builder)
	if v == nil {
		fb.AppendNull()
		return
	}
	fb.Append(*v)
}

// stamp appends the row's ts, truncated to milliseconds.
func stamp[T Preference | Response | Refined](b *array.RecordBuilder, i int, row *T) {
	var ms int64
	switch r := any(row).(type) {
	case *Preference:
		ms = r.TS.UnixMilli()
	case *Response:
		ms = r.TS.UnixMilli()
	case *Refined:
		ms = r.TS.UnixMilli()
	}
	b.Field(i).(*array.TimestampBuilder).Append(arrow.Timestamp(ms))
}

func embedding(b *array.RecordBuilder, i int, v []float32) {
	lb := b.Field(i).(*array.FixedSizeListBuilder)
	if v == nil {
		lb.AppendNull()
		return
	}
	lb.Append(true)
	lb.ValueBuilder().(*array.Float32Builder).AppendValues(v, nil)
}
