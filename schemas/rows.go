package schemas

import "github.com/apache/arrow-go/v18/arrow/array"

// The row readers index columns by their position in the fieldDef tables.

var preferenceReader = rowReader[Preference]{
	name: PreferenceName,
	defs: preferenceFields,
	read: readPreferences,
}

func readPreferences(b *batch, ch checker, out []Preference, base int) ([]Preference,
	*DecodeError) {
	var (
		eventID, prompt, respA, respB = b.text(0), b.text(2), b.text(3), b.text(4)
		promptID, modelA, modelB      = b.text(6), b.text(7), b.text(8)
		roleA, roleB, annotator       = b.text(9), b.text(10), b.text(15)
		ts, pref                      = b.ts(1), b.f32(5)
		probA, probB, weight          = b.f32(11), b.f32(12), b.f32(14)
		policy                        = b.i64(13)
		promptEmb, embA, embB         = b.emb(16), b.emb(17), b.emb(18)
	)
	dim := b.l.dim
	n := b.limit()
	out = growRows(out, n)
	for r := 0; r < n; r++ {
		out = append(out, Preference{
			EventID: eventID.at(r), TS: ts.at(r), Prompt: prompt.at(r),
			ResponseA: respA.at(r), ResponseB: respB.at(r), Preference: pref.at(r),
			PromptID: promptID.at(r), ModelA: modelA.at(r), ModelB: modelB.at(r),
			RoleA: Role(roleA.at(r)), RoleB: Role(roleB.at(r)),
			ProbA: probA.opt(r), ProbB: probB.opt(r), PolicyVersion: policy.opt(r),
			Weight: weight.opt(r), Annotator: annotator.at(r),
			PromptEmbedding: promptEmb.at(r), EmbeddingA: embA.at(r), EmbeddingB: embB.at(r),
		})
		if fe := ch.checkPreference(&out[len(out)-1], &dim); fe != nil {
			return nil, rowErr(base+r, fe)
		}
	}
	return finish(b, out, base)
}

var responseReader = rowReader[Response]{
	name: ResponseName,
	defs: responseFields,
	read: readResponses,
}

func readResponses(b *batch, ch checker, out []Response, base int) ([]Response, *DecodeError) {
	var (
		requestID, prompt, resp, model = b.text(0), b.text(2), b.text(3), b.text(5)
		ts                             = b.ts(1)
		cands                          = b.list(4)
		promptEmb, respEmb             = b.emb(6), b.emb(7)
	)
	dim := b.l.dim
	n := b.limit()
	out = growRows(out, n)
	for r := 0; r < n; r++ {
		out = append(out, Response{
			RequestID: requestID.at(r), TS: ts.at(r), Prompt: prompt.at(r),
			Response: resp.at(r), Candidates: cands.at(r), Model: model.at(r),
			PromptEmbedding: promptEmb.at(r), ResponseEmbedding: respEmb.at(r),
		})
		if fe := ch.checkResponse(&out[len(out)-1], &dim); fe != nil {
			return nil, rowErr(base+r, fe)
		}
	}
	return finish(b, out, base)
}

var refinedReader = rowReader[Refined]{
	name: RefinedName,
	defs: refinedFields,
	read: readRefined,
}

func readRefined(b *batch, ch checker, out []Refined, base int) ([]Refined, *DecodeError) {
	var (
		requestID, prompt, orig = b.text(0), b.text(2), b.text(3)
		refined, reason         = b.text(4), b.text(10)
		ts                      = b.ts(1)
		rounds                  = b.column(5).(*array.Int32)
		changed                 = b.column(6).(*array.Boolean)
		prob                    = b.f32(7)
		version, latency        = b.i64(8), b.i64(9)
	)
	n := b.limit()
	out = growRows(out, n)
	for r := 0; r < n; r++ {
		out = append(out, Refined{
			RequestID: requestID.at(r), TS: ts.at(r), Prompt: prompt.at(r),
			Original: orig.at(r), Refined: refined.at(r), Rounds: rounds.Value(r),
			Changed: changed.Value(r), FollowerProb: prob.at(r),
			ModelVersion: version.a.Value(r), LatencyUS: latency.a.Value(r), Reason: reason.at(r),
		})
		if fe := ch.checkRefined(&out[len(out)-1]); fe != nil {
			return nil, rowErr(base+r, fe)
		}
	}
	return finish(b, out, base)
}

// growRows makes room for n more rows.
func growRows[T any](out []T, n int) []T {
	if cap(out)-len(out) < n {
		grown := make([]T, len(out), len(out)+n)
		copy(grown, out)
		return grown
	}
	return out
}
