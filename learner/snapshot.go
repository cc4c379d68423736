package learner

import (
	"math"

	"github.com/slhf-dev/slhf/learner/gda"
	"github.com/slhf-dev/slhf/schemas"
)

// Snapshot is an immutable copy of a Model's weights and encoder settings
// at one version. It is safe for concurrent use by any number of
// goroutines, and nothing it does changes the Model it came from.
type Snapshot struct {
	version  int64
	feat     featurizer
	maxCands int
	leader   mlpShape
	follower mlpShape
	theta    []float64
	phi      []float64
	pref     *prefModel
}

// Snapshot copies the current weights. The copy costs O(parameters) and
// allocates; take one per published version, not per request.
func (m *Model) Snapshot() *Snapshot {
	return &Snapshot{
		version: m.steps, feat: m.feat, maxCands: m.cfg.MaxCandidates,
		leader: m.leader, follower: m.follower,
		theta: append([]float64(nil), m.theta...),
		phi:   append([]float64(nil), m.phi...),
		pref:  m.pref.clone(),
	}
}

// Version returns the GDA step count of the weights.
func (s *Snapshot) Version() int64 { return s.version }

// Refinement is the outcome of Snapshot.Refine.
type Refinement struct {
	Text    string  // the refined response (the original when unchanged)
	Index   int     // index of Text in the refinement set; 0 is the original
	Rounds  int     // refinement rounds run
	Changed bool    // Text differs from the original
	Prob    float32 // ω(Text | previous) at the last round
	Reason  string  // why it stopped; see the Reason constants
}

// Reasons a refinement stops.
const (
	// ReasonKept: the Follower's best move was to keep the current text.
	ReasonKept = string(gda.StopKept)
	// ReasonMaxRounds: the round budget ran out.
	ReasonMaxRounds = string(gda.StopMaxRounds)
	// ReasonNoCandidates: the refinement set held only the response.
	ReasonNoCandidates = "no_candidates"
	// ReasonNoFeatures: the response itself could not be encoded (column
	// encoder without a response embedding).
	ReasonNoFeatures = "no_features"
)

// Refine runs the Follower greedily on r: the refinement set is
// R = {r.Response} ∪ r.Candidates, deduplicated and capped at the model's
// MaxCandidates, and each round moves to the y' maximising ω_φ(y' | x, y)
// (gda.Chain without a random source) until the Follower keeps its text
// or maxRounds rounds ran; under a cycle the chain walks it until the
// budget is spent. Under Config.FollowerPayoffInput, t_φ also reads the
// snapshot's own p(y ≻ y' | x) of each pair. Candidates that cannot be
// encoded (no embedding under the column encoder) are left out.
func (s *Snapshot) Refine(r schemas.Response, maxRounds int) Refinement {
	out := Refinement{Text: r.Response, Reason: ReasonNoCandidates}
	set, ok := s.refinementSet(r)
	if !ok {
		out.Reason = ReasonNoFeatures
		return out
	}
	if len(set.texts) < 2 {
		return out
	}
	w := s.newWalker(set)
	path, stop := gda.Chain(w.next, 0, maxRounds, nil, nil)
	last := path[len(path)-1]
	out.Text, out.Index, out.Changed = set.texts[last], last, last != 0
	out.Rounds = len(path) - 1
	out.Prob = float32(w.probOf(path, stop))
	out.Reason = string(stop) // gda's reasons are spelt like ours
	if stop == gda.StopKept {
		out.Rounds++ // the round that chose to keep counts
	}
	return out
}

// refinementSet is R with the features of its members.
type refinementSet struct {
	texts []string
	z     [][]float64
}

func (s *Snapshot) refinementSet(r schemas.Response) (refinementSet, bool) {
	var set refinementSet
	info, err := s.feat.prompt(r.Prompt, r.PromptEmbedding)
	if err != nil {
		return set, false
	}
	add := func(text string, emb []float32) bool {
		for _, t := range set.texts {
			if t == text {
				return true
			}
		}
		z := make([]float64, s.feat.width())
		if s.feat.response(z, &info, text, emb) != nil {
			return false
		}
		set.texts, set.z = append(set.texts, text), append(set.z, z)
		return true
	}
	if !add(r.Response, r.ResponseEmbedding) {
		return set, false
	}
	for _, c := range r.Candidates {
		if len(set.texts) == s.maxCands {
			break
		}
		add(c, nil)
	}
	return set, true
}

// walker evaluates ω_φ(· | x, y_cur) over R on demand and remembers each
// row it computed.
type walker struct {
	s    *Snapshot
	set  refinementSet
	x    []float64 // n × follower width
	pass *mlpPass
	proj []float64 // preference-model scratch (4K), for the payoff columns
	rows map[int][]float64
}

func (s *Snapshot) newWalker(set refinementSet) *walker {
	n := len(set.texts)
	return &walker{s: s, set: set, x: make([]float64, n*s.follower.in),
		pass: newMLPPass(s.follower, n), proj: make([]float64, 4*s.pref.k),
		rows: make(map[int][]float64)}
}

// next implements gda.FollowerFunc.
func (w *walker) next(cur int, dst []float64) []float64 {
	n, fw := len(w.set.texts), w.s.follower.in
	for j := range n {
		row := w.x[j*fw : (j+1)*fw]
		follower(row, w.set.z[cur], w.set.z[j], j == cur)
		if w.s.feat.payoff {
			s := w.s.pref.logit(w.set.z[cur], w.set.z[j], w.proj)
			payoffColumns(row[fw-numPayoffColumns:], s)
		}
	}
	dst = resize(dst, n)
	w.pass.forward(w.s.phi, w.x, n, dst)
	softmax(dst)
	w.rows[cur] = append([]float64(nil), dst...)
	return dst
}

// probOf is ω(last | previous) for the final move of path, or
// ω(last | last) when the chain stopped by keeping its text; 0 when no
// round ran.
func (w *walker) probOf(path []int, stop gda.StopReason) float64 {
	last, from := path[len(path)-1], path[len(path)-1]
	if stop != gda.StopKept {
		if len(path) < 2 {
			return 0
		}
		from = path[len(path)-2]
	}
	return w.rows[from][last]
}

// Prefer returns the preference model's p(a ≻ b | prompt). Under the
// column encoder, which needs embeddings the texts alone do not carry, it
// returns NaN.
func (s *Snapshot) Prefer(prompt, a, b string) float64 {
	info, err := s.feat.prompt(prompt, nil)
	if err != nil {
		return math.NaN()
	}
	za, zb := make([]float64, s.feat.width()), make([]float64, s.feat.width())
	if s.feat.response(za, &info, a, nil) != nil || s.feat.response(zb, &info, b, nil) != nil {
		return math.NaN()
	}
	return sigmoid(s.pref.logit(za, zb, make([]float64, 4*s.pref.k)))
}

// softmax replaces v by softmax(v), shifted by max(v) for stability.
func softmax(v []float64) {
	mx := math.Inf(-1)
	for _, x := range v {
		mx = math.Max(mx, x)
	}
	var sum float64
	for i, x := range v {
		v[i] = math.Exp(x - mx)
		sum += v[i]
	}
	for i := range v {
		v[i] /= sum
	}
}
