package game

import (
	"errors"
	"math"
)

// ErrNotConverged is returned by [RegularizedNash] when the iteration cap
// is reached before the certified error bound falls under the tolerance;
// the result it comes with is still the best iterate, with its bound.
var ErrNotConverged = errors.New("no convergence within the iteration cap")

// Nash is a symmetric Nash equilibrium of the NLHF game.
type Nash struct {
	// Policy is the equilibrium mixed strategy over the n actions.
	Policy []float64
	// Gap is the duality gap of Policy played by both players, in payoff
	// units (probability): 0 at an exact equilibrium. For [SolveNash] it is
	// 2·max_y (A·π)_y with A = p − ½; for [RegularizedNash] it is the gap
	// of the regularised game, 2τ·(log Σ_y ρ_y·exp((A·π)_y/τ) + KL(π‖ρ)).
	Gap float64
	// TVBound bounds the total variation distance from Policy to the
	// unique regularised equilibrium: ½·√(Gap/τ). NaN for [SolveNash], whose
	// equilibrium need not be unique.
	TVBound float64
	// Iterations is the number of simplex pivots or mirror-prox steps.
	Iterations int
}

// SolveNash returns a Nash equilibrium of the symmetric zero-sum game
// with payoff A = p − ½ (NLHF, Munos et al. 2023, without
// regularisation): a π with π·A ≥ 0 entrywise, so that no response beats
// π in expectation. The game's value is 0 because A is antisymmetric.
//
// Method: the column player's LP of the shifted game B = A + 1 > 0,
//
//	maximise 1ᵀv  subject to  B·v ≤ 1, v ≥ 0,   π = v / 1ᵀv,
//
// solved by a dense tableau simplex with Bland's rule, which cannot
// cycle, so it terminates after finitely many pivots with an exact
// optimum up to rounding. An optimal column strategy is also optimal for
// the row player because −Aᵀ = A. When the equilibrium is not unique the
// one returned is a vertex of the equilibrium polytope.
//
// p must pass [Validate]; SolveNash panics on a non-square p.
func SolveNash(p [][]float64) Nash {
	n := mustSquare(p)
	t := newTableau(p)
	pivots := t.solve()
	v := t.primal()

	sum := 0.0
	for _, x := range v {
		sum += x
	}
	pi := make([]float64, n)
	for i, x := range v {
		pi[i] = x / sum
	}
	return Nash{Policy: pi, Gap: 2 * maxPayoff(p, pi), TVBound: math.NaN(), Iterations: pivots}
}

// maxPayoff returns max_y Σ_j (p[y][j] − ½)·π_j, the best expected margin
// of a pure response against π.
func maxPayoff(p [][]float64, pi []float64) float64 {
	best := math.Inf(-1)
	for y := range p {
		best = math.Max(best, margin(p[y], pi))
	}
	return best
}

// margin returns Σ_j (row_j − ½)·π_j.
func margin(row, pi []float64) float64 {
	s := 0.0
	for j, q := range row {
		s += (q - 0.5) * pi[j]
	}
	return s
}

// tableau is a dense simplex tableau for max 1ᵀv s.t. B·v ≤ 1, v ≥ 0,
// with slack variables n..2n−1 forming the initial basis.
type tableau struct {
	n     int
	a     [][]float64 // n constraint rows of width 2n+1 (last = rhs), then the objective row
	basis []int       // basis[r] = variable basic in row r
}

const pivotEps = 1e-12

func newTableau(p [][]float64) *tableau {
	n := len(p)
	t := &tableau{n: n, a: make([][]float64, n+1), basis: make([]int, n)}
	for r := range n {
		row := make([]float64, 2*n+1)
		for j := range n {
			row[j] = p[r][j] + 0.5 // B = (p − ½) + 1 > 0
		}
		row[n+r] = 1
		row[2*n] = 1
		t.a[r] = row
		t.basis[r] = n + r
	}
	obj := make([]float64, 2*n+1)
	for j := range n {
		obj[j] = -1 // reduced costs of maximising 1ᵀv
	}
	t.a[n] = obj
	return t
}

// solve pivots until no reduced cost is negative and returns the number
// of pivots. The LP is bounded (B > 0) and v = 0 is feasible, so it
// always ends at an optimum.
func (t *tableau) solve() int {
	pivots := 0
	for {
		col := t.entering()
		if col < 0 {
			return pivots
		}
		t.pivot(t.leaving(col), col)
		pivots++
	}
}

// entering applies Bland's rule: the lowest-index variable whose reduced
// cost is negative, or −1 at optimality.
func (t *tableau) entering() int {
	for j, c := range t.a[t.n][:2*t.n] {
		if c < -pivotEps {
			return j
		}
	}
	return -1
}

// leaving returns the row of the minimum ratio test, ties broken by the
// lowest basic variable index (Bland).
func (t *tableau) leaving(col int) int {
	best, row := math.Inf(1), -1
	for r := range t.n {
		a := t.a[r][col]
		if a <= pivotEps {
			continue
		}
		ratio := t.a[r][2*t.n] / a
		if ratio < best-pivotEps || (ratio <= best+pivotEps && row >= 0 && t.basis[r] < t.basis[row]) {
			best, row = ratio, r
		}
	}
	if row < 0 {
		panic("game: simplex found an unbounded direction in a bounded LP")
	}
	return row
}

func (t *tableau) pivot(row, col int) {
	pr := t.a[row]
	inv := 1 / pr[col]
	for j := range pr {
		pr[j] *= inv
	}
	for r, other := range t.a {
		if r == row || other[col] == 0 {
			continue
		}
		f := other[col]
		for j := range other {
			other[j] -= f * pr[j]
		}
	}
	t.basis[row] = col
}

// primal reads v from the final basis.
func (t *tableau) primal() []float64 {
	v := make([]float64, t.n)
	for r, b := range t.basis {
		if b < t.n {
			v[b] = math.Max(0, t.a[r][2*t.n])
		}
	}
	return v
}

// RegularizedNash returns the unique symmetric equilibrium of the
// KL-regularised NLHF game (Munos et al. 2023, §3)
//
//	max_π min_π'  πᵀA·π' − τ·KL(π‖ρ) + τ·KL(π'‖ρ),   A = p − ½,
//
// whose fixed point is π*(y) ∝ ρ(y)·exp((A·π*)_y / τ). ref is ρ (nil =
// uniform); tau > 0.
//
// Method: composite mirror-prox (Nemirovski 2004) on the entropic
// geometry with step η = 1 (the operator π ↦ A·π is ½-Lipschitz from ℓ1
// to ℓ∞), the KL term handled exactly in each prox step:
//
//	π_half ∝ (π_t · ρ^{ητ} · exp(η·A·π_t))^{1/(1+ητ)}
//	π_t+1  ∝ (π_t · ρ^{ητ} · exp(η·A·π_half))^{1/(1+ητ)}
//
// Symmetry keeps both players' iterates equal. The regularised game is
// τ-strongly monotone (Pinsker), which gives linear convergence, and it
// yields a certificate independent of the method: Gap ≥ τ·‖π − π*‖₁², so
// TV(π, π*) ≤ ½·√(Gap/τ). Iteration stops when that bound is ≤ tol or
// after maxIter steps (then [ErrNotConverged]). Rounding limits the bound
// to about ½·√(1e-15/τ), so tol below 1e-6 may not be reachable.
//
// p must pass [Validate]; RegularizedNash panics on a non-square p, a
// reference of the wrong length, or tau ≤ 0.
func RegularizedNash(p [][]float64, tau float64, ref []float64, tol float64, maxIter int) (Nash, error) {
	n := mustSquare(p)
	if !(tau > 0) {
		panic("game: temperature must be positive")
	}
	rho := refOrUniform(ref, n)
	pi := append([]float64(nil), rho...)
	half := make([]float64, n)
	res := Nash{}
	for it := 0; ; it++ {
		res = Nash{Policy: pi, Gap: regularizedGap(p, pi, rho, tau), Iterations: it}
		res.TVBound = 0.5 * math.Sqrt(res.Gap/tau)
		if res.TVBound <= tol {
			return res, nil
		}
		if it >= maxIter {
			return res, ErrNotConverged
		}
		proxStep(half, pi, pi, p, rho, tau)
		pi = proxStep(make([]float64, n), pi, half, p, rho, tau)
	}
}

// proxStep writes into dst the composite entropic prox step from base
// with the gradient evaluated at at: dst ∝ (base·ρ^{τ}·exp(A·at))^{1/(1+τ)}
// (step η = 1).
func proxStep(dst, base, at []float64, p [][]float64, rho []float64, tau float64) []float64 {
	x := make([]float64, len(dst))
	for y := range x {
		if base[y] <= 0 || rho[y] <= 0 {
			x[y] = math.Inf(-1)
			continue
		}
		x[y] = (math.Log(base[y]) + tau*math.Log(rho[y]) + margin(p[y], at)) / (1 + tau)
	}
	return tilt(dst, x, positive(rho))
}

// positive returns 1 where w > 0 and 0 elsewhere.
func positive(w []float64) []float64 {
	out := make([]float64, len(w))
	for i, v := range w {
		if v > 0 {
			out[i] = 1
		}
	}
	return out
}

// regularizedGap returns 2τ·(log Σ_y ρ_y·exp((A·π)_y/τ) + KL(π‖ρ)),
// clamped at 0 against rounding.
func regularizedGap(p [][]float64, pi, rho []float64, tau float64) float64 {
	x := make([]float64, len(pi))
	for y := range x {
		x[y] = margin(p[y], pi) / tau
	}
	g := 2 * tau * (logSumExp(x, rho) + kl(pi, rho))
	return math.Max(0, g)
}

// kl returns KL(a‖b) = Σ a_i·log(a_i/b_i), with 0·log 0 = 0.
func kl(a, b []float64) float64 {
	s := 0.0
	for i, v := range a {
		if v > 0 {
			s += v * math.Log(v/b[i])
		}
	}
	return s
}
