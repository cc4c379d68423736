package game

import "math"

// SLHF is the KL-regularised Stackelberg equilibrium of a preference game
// (paper "Stackelberg Learning from Human Feedback", eq. 5 and its closed
// form, DESIGN §2).
type SLHF struct {
	// Leader is π*(y), a distribution over the n actions.
	Leader []float64
	// Follower is ω*(y'|y): Follower[y] is a distribution over y'.
	Follower [][]float64
	// Value is V(y), the regularised payoff the Leader earns by committing
	// to y, in probability units: p(y ≻ y') under ω* plus τ_F·KL.
	Value []float64
	// Objective is f at the equilibrium: Σ_y π*(y)·V(y) − τ_L·KL(π*‖π_ref),
	// which equals τ_L·log Σ_y π_ref(y)·exp(V(y)/τ_L).
	Objective float64
}

// SolveSLHF returns the unique SLHF equilibrium of p for temperatures
// tauL, tauF > 0 and references refL (π_ref, nil = uniform) and refF
// (ω_ref row by row, nil = uniform; a nil row is uniform too):
//
//	ω*(y'|y) ∝ ω_ref(y'|y)·exp(−p(y ≻ y')/τ_F)
//	V(y)     = −τ_F·log Σ_{y'} ω_ref(y'|y)·exp(−p(y ≻ y')/τ_F)
//	π*(y)    ∝ π_ref(y)·exp(V(y)/τ_L)
//
// The Follower minimises, for each y, E_ω[p(y ≻ y')] + τ_F·KL(ω‖ω_ref),
// a Gibbs variational problem whose minimiser is the tilt above and whose
// minimum is V(y); the Leader then maximises E_π[V] − τ_L·KL(π‖π_ref) the
// same way. Every sum is a log-sum-exp, so tiny temperatures (1e-6) do not
// overflow. Reference entries may be zero (that action is never played);
// a zero-sum reference row is a programmer error.
//
// p must pass [Validate]; SolveSLHF panics on a non-square p, a reference
// of the wrong length, or tauL, tauF ≤ 0.
func SolveSLHF(p [][]float64, tauL, tauF float64, refL []float64, refF [][]float64) SLHF {
	n := mustSquare(p)
	if !(tauL > 0) || !(tauF > 0) {
		panic("game: temperatures must be positive")
	}
	s := SLHF{Follower: make([][]float64, n), Value: make([]float64, n)}
	x := make([]float64, n)
	for y := range n {
		w := refOrUniform(rowOrNil(refF, y), n)
		for j := range n {
			x[j] = -p[y][j] / tauF
		}
		s.Value[y] = -tauF * logSumExp(x, w)
		s.Follower[y] = tilt(make([]float64, n), x, w)
	}
	wL := refOrUniform(refL, n)
	for y := range n {
		x[y] = s.Value[y] / tauL
	}
	s.Leader = tilt(make([]float64, n), x, wL)
	s.Objective = tauL * logSumExp(x, wL)
	return s
}

func rowOrNil(m [][]float64, i int) []float64 {
	if m == nil {
		return nil
	}
	return m[i]
}

// BestResponses returns, for each committed action y, every refinement
// y' minimising p(y ≻ y') (entries within tol of the minimum count as
// ties), in increasing index order. This is the Follower of SLHF as
// τ_F → 0 with full-support ω_ref. Keeping y is a candidate like any
// other (p(y ≻ y) = ½).
func BestResponses(p [][]float64, tol float64) [][]int {
	n := mustSquare(p)
	out := make([][]int, n)
	for y := range n {
		out[y] = argExtrema(p[y], tol, false)
	}
	return out
}

// Maximin returns the unregularised SLHF Leader: every y maximising the
// security level min_{y'} p(y ≻ y') (ties within tol, increasing index
// order), and that level. This is the limit of π* as τ_L, τ_F → 0 with
// τ_F/τ_L → 0 and full-support references.
func Maximin(p [][]float64, tol float64) (leaders []int, level float64) {
	n := mustSquare(p)
	sec := make([]float64, n)
	for y := range n {
		sec[y] = math.Inf(1)
		for _, v := range p[y] {
			sec[y] = math.Min(sec[y], v)
		}
	}
	leaders = argExtrema(sec, tol, true)
	return leaders, sec[leaders[0]]
}

// argExtrema returns the indices whose value is within tol of the maximum
// (max = true) or of the minimum.
func argExtrema(v []float64, tol float64, max bool) []int {
	best := v[0]
	for _, x := range v[1:] {
		if (max && x > best) || (!max && x < best) {
			best = x
		}
	}
	var idx []int
	for i, x := range v {
		if math.Abs(x-best) <= tol {
			idx = append(idx, i)
		}
	}
	return idx
}
