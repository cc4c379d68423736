package learner

import (
	"math"
	"math/rand/v2"

	"github.com/slhf-dev/slhf/learner/gda"
)

// prefModel is the preference model of DESIGN §4 over feature vectors z:
//
//	p(y ≻ y' | x) = σ(s),  s = w·(z − z') + Σ_k [(a_k·z)(b_k·z') − (b_k·z)(a_k·z')]
//
// with r(x, y) = w·z and a_k(x, y) = a_k·z, b_k(x, y) = b_k·z linear in z.
// Swapping z and z' negates s, so p(y ≻ y') + p(y' ≻ y) = 1 exactly. The
// bilinear part is antisymmetric and can hold cycles (three items on
// vectors (a_i, b_i) 120° apart give equal logits around a 3-cycle), which
// the Bradley–Terry part w cannot.
//
// It is trained by Adam (Kingma & Ba, 2015; gda.Adam) on the weighted logistic loss
// ℓ = −wt·[l log p + (1 − l) log(1 − p)] with soft labels l ∈ [0, 1].
// Not safe for concurrent use; clone it for readers.
type prefModel struct {
	f, k   int
	params []float64 // [w (f) | a (k×f) | b (k×f)]
	adam   *gda.Adam // β1 = 0.9, β2 = 0.999, ε = 1e-8
	decay  float64   // decoupled weight decay λ per step, see update
	proj   []float64 // scratch: a·z, b·z, a·z', b·z' (4k)
	grad   []float64 // scratch, len(params)
}

// newPrefModel initialises w to zero and a, b with N(0, 0.1²) entries: at
// a = b = 0 the bilinear part has zero gradient and would never move.
func newPrefModel(f, k int, lr, decay float64, rng *rand.Rand) *prefModel {
	m := &prefModel{f: f, k: k, params: make([]float64, f*(1+2*k)), decay: decay}
	for i := f; i < len(m.params); i++ {
		m.params[i] = 0.1 * rng.NormFloat64()
	}
	m.adam = gda.NewAdam(len(m.params), lr, 0.9, 0.999, 1e-8)
	m.proj = make([]float64, 4*k)
	m.grad = make([]float64, len(m.params))
	return m
}

// logit returns s(z, z') and leaves the projections a·z, b·z, a·z', b·z'
// in proj (4k long). It only reads m, so readers with their own proj may
// call it concurrently.
func (m *prefModel) logit(z, z2, proj []float64) float64 {
	f, k := m.f, m.k
	w := m.params[:f]
	s := dot(w, z) - dot(w, z2)
	for i := range k {
		a := m.params[f*(1+i) : f*(2+i)]
		b := m.params[f*(1+k+i) : f*(2+k+i)]
		az, bz, az2, bz2 := dot(a, z), dot(b, z), dot(a, z2), dot(b, z2)
		proj[4*i], proj[4*i+1], proj[4*i+2], proj[4*i+3] = az, bz, az2, bz2
		s += az*bz2 - bz*az2
	}
	return s
}

// prob returns p(y ≻ y' | x) for features z of y and z2 of y'.
// Not safe for concurrent use: it writes m.proj.
func (m *prefModel) prob(z, z2 []float64) float64 { return sigmoid(m.logit(z, z2, m.proj)) }

// update takes one Adam step on the loss of one event with label l and
// weight wt, and returns p as it was before the step. The step is AdamW's
// (Loshchilov & Hutter, "Decoupled Weight Decay Regularization", ICLR
// 2019): every weight first shrinks by the factor 1 − η·λ, then Adam moves
// it along the loss gradient alone, so the decay does not pass through
// Adam's per-weight scaling and pulls rarely seen n-gram weights back to
// zero as firmly as frequent ones.
func (m *prefModel) update(z, z2 []float64, l, wt float64) float64 {
	p := sigmoid(m.logit(z, z2, m.proj))
	m.gradient(z, z2, wt*(p-l))
	if m.decay > 0 {
		shrink := 1 - m.adam.LR*m.decay
		for i := range m.params {
			m.params[i] *= shrink
		}
	}
	m.adam.Descend(m.params, m.grad, 1)
	return p
}

// gradient writes ∂ℓ/∂params = g·∂s/∂params into m.grad, with g = ∂ℓ/∂s:
//
//	∂s/∂w   = z − z'
//	∂s/∂a_k = (b_k·z')·z − (b_k·z)·z'
//	∂s/∂b_k = (a_k·z)·z' − (a_k·z')·z
func (m *prefModel) gradient(z, z2 []float64, g float64) {
	f, k := m.f, m.k
	for j := range f {
		m.grad[j] = g * (z[j] - z2[j])
	}
	for i := range k {
		az, bz, az2, bz2 := m.proj[4*i], m.proj[4*i+1], m.proj[4*i+2], m.proj[4*i+3]
		ga := m.grad[f*(1+i) : f*(2+i)]
		gb := m.grad[f*(1+k+i) : f*(2+k+i)]
		for j := range f {
			ga[j] = g * (bz2*z[j] - bz*z2[j])
			gb[j] = g * (az*z2[j] - az2*z[j])
		}
	}
}

// clone returns a deep copy of the weights only, for read-only use.
func (m *prefModel) clone() *prefModel {
	c := &prefModel{f: m.f, k: m.k, params: append([]float64(nil), m.params...), decay: m.decay}
	c.proj = make([]float64, 4*m.k)
	return c
}

// sigmoid is σ(s) = 1 / (1 + e^−s), computed without overflow.
func sigmoid(s float64) float64 {
	if s >= 0 {
		return 1 / (1 + math.Exp(-s))
	}
	e := math.Exp(s)
	return e / (1 + e)
}

// logLoss is the cross-entropy −[l log p + (1 − l) log(1 − p)], with p
// clamped to [1e-12, 1 − 1e-12] so a confident mistake stays finite.
func logLoss(p, l float64) float64 {
	p = math.Min(math.Max(p, 1e-12), 1-1e-12)
	return -(l*math.Log(p) + (1-l)*math.Log(1-p))
}
