package schemas

import (
	"math"
	"time"
)

// Default limits; see [Limits].
const (
	DefaultMaxMessageBytes  = 1 << 20
	DefaultMaxRows          = 16384
	DefaultMaxTextBytes     = 256 << 10
	DefaultMaxEmbeddingDim  = 8192
	DefaultMaxCandidates    = 64
	DefaultAllocationFactor = 64
	DefaultMinAllocation    = 8 << 20
)

// Limits bound what one message may contain and cost. A zero field takes
// its default from [DefaultLimits]; there is no way to disable a limit.
type Limits struct {
	// MaxMessageBytes is the largest accepted message, in bytes.
	// Default 1 MiB, Kafka's default message.max.bytes.
	MaxMessageBytes int
	// MaxRows is the most rows one message may hold. Default 16,384.
	MaxRows int
	// MaxTextBytes is the longest accepted text value, in bytes of UTF-8,
	// per field and per candidate. Default 256 KiB.
	MaxTextBytes int
	// MaxEmbeddingDim is the largest embedding dimension D. Default 8,192.
	MaxEmbeddingDim int
	// MaxCandidates is the longest candidates list. Default 64.
	MaxCandidates int
	// AllocationFactor and MinAllocation set the per-message allocation
	// budget: max(AllocationFactor × message bytes, MinAllocation) bytes
	// requested from the Arrow allocator, counted cumulatively. Defaults
	// 64 and 8 MiB. A compressed message that inflates beyond the budget is
	// rejected too.
	AllocationFactor int
	MinAllocation    int
	// MinTS and MaxTS bound ts: MinTS <= ts < MaxTS. Defaults
	// 2000-01-01T00:00:00Z and 2100-01-01T00:00:00Z; they catch zero and
	// garbage clocks.
	MinTS, MaxTS time.Time
}

// DefaultLimits returns the limits a zero Limits stands for.
func DefaultLimits() Limits {
	return Limits{
		MaxMessageBytes:  DefaultMaxMessageBytes,
		MaxRows:          DefaultMaxRows,
		MaxTextBytes:     DefaultMaxTextBytes,
		MaxEmbeddingDim:  DefaultMaxEmbeddingDim,
		MaxCandidates:    DefaultMaxCandidates,
		AllocationFactor: DefaultAllocationFactor,
		MinAllocation:    DefaultMinAllocation,
		MinTS:            time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC),
		MaxTS:            time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC),
	}
}

// withDefaults fills the zero fields of l from DefaultLimits.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	fill := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	fill(&l.MaxMessageBytes, d.MaxMessageBytes)
	fill(&l.MaxRows, d.MaxRows)
	fill(&l.MaxTextBytes, d.MaxTextBytes)
	fill(&l.MaxEmbeddingDim, d.MaxEmbeddingDim)
	fill(&l.MaxCandidates, d.MaxCandidates)
	fill(&l.AllocationFactor, d.AllocationFactor)
	fill(&l.MinAllocation, d.MinAllocation)
	if l.MinTS.IsZero() {
		l.MinTS = d.MinTS
	}
	if l.MaxTS.IsZero() {
		l.MaxTS = d.MaxTS
	}
	return l
}

// budget returns the allocation budget of a message of n bytes.
func (l *Limits) budget(n int) int64 {
	return max(int64(l.AllocationFactor)*int64(n), int64(l.MinAllocation))
}

// fieldErr is a row-level rejection before the row index is known.
type fieldErr struct {
	reason Reason
	field  string
}

// checker validates decoded rows against Limits. Required-field nullness and
// UTF-8 are checked at the column level by the decoder; everything else
// about a row is checked here, for the decoder and the encoders alike.
type checker struct{ lim *Limits }

func (c checker) key(field, v string) *fieldErr {
	if v == "" {
		return &fieldErr{ReasonEmptyEventID, field}
	}
	return c.optText(field, v)
}

func (c checker) text(field, v string) *fieldErr {
	if v == "" {
		return &fieldErr{ReasonEmptyText, field}
	}
	return c.optText(field, v)
}

func (c checker) optText(field, v string) *fieldErr {
	if len(v) > c.lim.MaxTextBytes {
		return &fieldErr{ReasonOversizedText, field}
	}
	return nil
}

func (c checker) ts(t time.Time) *fieldErr {
	if t.Before(c.lim.MinTS) || !t.Before(c.lim.MaxTS) {
		return &fieldErr{ReasonInvalidTimestamp, "ts"}
	}
	return nil
}

func (c checker) preference(p float32) *fieldErr {
	switch {
	case p != p:
		return &fieldErr{ReasonNaNPreference, "preference"}
	case p < 0 || p > 1:
		return &fieldErr{ReasonPreferenceOutOfRange, "preference"}
	}
	return nil
}

// prob accepts nil or a value in [0, 1]; NaN fails both comparisons.
func (c checker) prob(field string, p *float32) *fieldErr {
	if p != nil && !(*p >= 0 && *p <= 1) {
		return &fieldErr{ReasonInvalidValue, field}
	}
	return nil
}

func (c checker) nonNegative(field string, v int64) *fieldErr {
	if v < 0 {
		return &fieldErr{ReasonInvalidValue, field}
	}
	return nil
}

func (c checker) role(field string, r Role) *fieldErr {
	switch r {
	case "", RoleLeader, RoleFollower, RoleExternal:
		return nil
	}
	return &fieldErr{ReasonInvalidValue, field}
}

// embedding accepts nil or finite values of the message's dimension dim
// (dim 0: the first embedding seen sets it).
func (c checker) embedding(field string, v []float32, dim *int) *fieldErr {
	if v == nil {
		return nil
	}
	if len(v) == 0 || len(v) > c.lim.MaxEmbeddingDim || (*dim != 0 && len(v) != *dim) {
		return &fieldErr{ReasonInvalidEmbedding, field}
	}
	*dim = len(v)
	for _, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return &fieldErr{ReasonInvalidEmbedding, field}
		}
	}
	return nil
}

// firstErr returns the first non-nil error.
func firstErr(errs ...*fieldErr) *fieldErr {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

func (c checker) checkPreference(p *Preference, dim *int) *fieldErr {
	if e := firstErr(
		c.key("event_id", p.EventID), c.ts(p.TS), c.text("prompt", p.Prompt),
		c.text("response_a", p.ResponseA), c.text("response_b", p.ResponseB),
		c.preference(p.Preference),
		c.optText("prompt_id", p.PromptID), c.optText("model_a", p.ModelA),
		c.optText("model_b", p.ModelB), c.role("role_a", p.RoleA), c.role("role_b", p.RoleB),
		c.prob("prob_a", p.ProbA), c.prob("prob_b", p.ProbB),
		c.optText("annotator", p.Annotator),
	); e != nil {
		return e
	}
	if p.PolicyVersion != nil && *p.PolicyVersion < 0 {
		return &fieldErr{ReasonInvalidValue, "policy_version"}
	}
	if w := p.Weight; w != nil && !(*w >= 0 && *w <= math.MaxFloat32) {
		return &fieldErr{ReasonInvalidValue, "weight"}
	}
	return firstErr(
		c.embedding("prompt_embedding", p.PromptEmbedding, dim),
		c.embedding("embedding_a", p.EmbeddingA, dim),
		c.embedding("embedding_b", p.EmbeddingB, dim),
	)
}

func (c checker) checkResponse(r *Response, dim *int) *fieldErr {
	if e := firstErr(
		c.key("request_id", r.RequestID), c.ts(r.TS), c.text("prompt", r.Prompt),
		c.text("response", r.Response), c.optText("model", r.Model),
	); e != nil {
		return e
	}
	if len(r.Candidates) > c.lim.MaxCandidates {
		return &fieldErr{ReasonTooManyCandidates, "candidates"}
	}
	for _, s := range r.Candidates {
		if e := c.text("candidates", s); e != nil {
			return e
		}
	}
	return firstErr(
		c.embedding("prompt_embedding", r.PromptEmbedding, dim),
		c.embedding("response_embedding", r.ResponseEmbedding, dim),
	)
}

func (c checker) checkRefined(r *Refined) *fieldErr {
	fp := r.FollowerProb
	return firstErr(
		c.key("request_id", r.RequestID), c.ts(r.TS), c.text("prompt", r.Prompt),
		c.text("original", r.Original), c.text("refined", r.Refined),
		c.nonNegative("rounds", int64(r.Rounds)), c.prob("follower_prob", &fp),
		c.nonNegative("model_version", r.ModelVersion),
		c.nonNegative("latency_us", r.LatencyUS), c.text("reason", r.Reason),
	)
}

// FilterPreferences returns the rows of a public dataset or any other
// source that the decoder would accept under lim (zero fields take their
// defaults), and how many it dropped per reason. Importers use it so that
// one bad source row is counted, not fatal to a whole replay. rows is not
// modified; the result shares its elements.
func FilterPreferences(rows []Preference, lim Limits) ([]Preference, map[Reason]int) {
	return filter(rows, lim, checker.checkPreference)
}

// FilterResponses is [FilterPreferences] for response.v1 rows.
func FilterResponses(rows []Response, lim Limits) ([]Response, map[Reason]int) {
	return filter(rows, lim, checker.checkResponse)
}

func filter[T any](rows []T, lim Limits, check func(checker, *T, *int) *fieldErr) ([]T,
	map[Reason]int) {
	lim = lim.withDefaults()
	c := checker{lim: &lim}
	dim := 0 // unknown until the first embedding
	out := make([]T, 0, len(rows))
	dropped := map[Reason]int{}
	for i := range rows {
		if e := check(c, &rows[i], &dim); e != nil {
			dropped[e.reason]++
			continue
		}
		out = append(out, rows[i])
	}
	return out, dropped
}
