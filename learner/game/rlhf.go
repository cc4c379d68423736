package game

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// DefaultRidge is the ridge penalty λ used by `slhf analyze` for
// [FitBradleyTerry]: a Gaussian prior of variance 1/λ = 1000 on each
// reward, negligible against a few observed pairs yet enough to keep
// rewards finite when a model wins all its comparisons.
const DefaultRidge = 1e-3

// ErrBadCounts is returned by [FitBradleyTerry] for a wins matrix that is
// not square or holds a negative or NaN count.
var ErrBadCounts = errors.New("wins must be a square matrix of non-negative counts")

// BradleyTerry is a fitted Bradley–Terry model: P(i ≻ j) = σ(r_i − r_j).
type BradleyTerry struct {
	// Rewards r, in logits, with mean exactly 0 (the ridge fixes the
	// gauge: see [FitBradleyTerry]).
	Rewards []float64
	// LogLik is the log-likelihood Σ_{i≠j} wins[i][j]·log σ(r_i − r_j),
	// in nats, without the ridge term.
	LogLik float64
	// Iterations is the number of Newton steps taken.
	Iterations int
}

// FitBradleyTerry fits Bradley–Terry rewards (Bradley & Terry 1952, the
// reward model of RLHF) to pair counts by penalised maximum likelihood:
//
//	min_r  −Σ_{i≠j} w_ij·log σ(r_i − r_j) + (λ/2)·‖r‖²
//
// where wins[i][j] = w_ij is the number of comparisons i won against j;
// a tie counts ½ to each side; unobserved pairs are simply 0. The
// objective is invariant to adding a constant to r except for the ridge,
// so for λ > 0 the minimiser is unique and has Σ r = 0 (the gradient of
// the likelihood sums to zero); actions in different connected
// components of the comparison graph, or never compared, are pulled to
// 0 instead of drifting. It is strictly convex, so Newton's method with
// backtracking (Armijo) converges; iteration stops when the largest
// gradient entry is below 1e-10 or after 200 steps.
//
// It returns [ErrBadCounts] for a bad matrix; ridge must be > 0 (a
// programmer error otherwise: FitBradleyTerry panics).
func FitBradleyTerry(wins [][]float64, ridge float64) (BradleyTerry, error) {
	if !(ridge > 0) {
		panic("game: ridge must be positive")
	}
	if err := checkCounts(wins); err != nil {
		return BradleyTerry{}, err
	}
	n := len(wins)
	r := make([]float64, n)
	it := 0
	for ; it < 200; it++ {
		grad, hess := btDerivatives(wins, r, ridge)
		if maxAbs(grad) < 1e-10 {
			break
		}
		step, err := newtonStep(grad, hess)
		if err != nil {
			return BradleyTerry{}, fmt.Errorf("bradley-terry newton step: %w", err)
		}
		r = backtrack(wins, r, step, grad, ridge)
	}
	centre(r)
	return BradleyTerry{Rewards: r, LogLik: btLogLik(wins, r), Iterations: it}, nil
}

func checkCounts(wins [][]float64) error {
	if len(wins) == 0 {
		return ErrEmpty
	}
	for i, row := range wins {
		if len(row) != len(wins) {
			return fmt.Errorf("row %d: %w", i, ErrBadCounts)
		}
		for j, v := range row {
			if math.IsNaN(v) || v < 0 || math.IsInf(v, 0) {
				return fmt.Errorf("entry [%d][%d]: %w", i, j, ErrBadCounts)
			}
		}
	}
	return nil
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// logSigmoid returns log σ(x) without overflow for large |x|.
func logSigmoid(x float64) float64 {
	if x < 0 {
		return x - math.Log1p(math.Exp(x))
	}
	return -math.Log1p(math.Exp(-x))
}

func btLogLik(wins [][]float64, r []float64) float64 {
	ll := 0.0
	for i, row := range wins {
		for j, w := range row {
			if i != j && w > 0 {
				ll += w * logSigmoid(r[i]-r[j])
			}
		}
	}
	return ll
}

// btObjective is the penalised negative log-likelihood being minimised.
func btObjective(wins [][]float64, r []float64, ridge float64) float64 {
	return -btLogLik(wins, r) + 0.5*ridge*dot(r, r)
}

// btDerivatives returns the gradient and Hessian of btObjective:
// g_i = −Σ_j (w_ij − n_ij·σ_ij) + λ·r_i and H = L + λ·I, where
// n_ij = w_ij + w_ji, σ_ij = σ(r_i − r_j) and L is the graph Laplacian
// with edge weights n_ij·σ_ij·(1 − σ_ij).
func btDerivatives(wins [][]float64, r []float64, ridge float64) ([]float64, *mat.SymDense) {
	n := len(r)
	g := make([]float64, n)
	h := mat.NewSymDense(n, nil)
	for i := range n {
		g[i] = ridge * r[i]
		h.SetSym(i, i, ridge)
	}
	for i := range n {
		for j := i + 1; j < n; j++ {
			nij := wins[i][j] + wins[j][i]
			if nij == 0 {
				continue
			}
			s := sigmoid(r[i] - r[j])
			g[i] -= wins[i][j] - nij*s
			g[j] -= wins[j][i] - nij*(1-s)
			c := nij * s * (1 - s)
			h.SetSym(i, i, h.At(i, i)+c)
			h.SetSym(j, j, h.At(j, j)+c)
			h.SetSym(i, j, -c)
		}
	}
	return g, h
}

// newtonStep solves H·d = −g by Cholesky (H is positive definite).
func newtonStep(g []float64, h *mat.SymDense) ([]float64, error) {
	var ch mat.Cholesky
	if ok := ch.Factorize(h); !ok {
		return nil, errors.New("hessian is not positive definite")
	}
	d := mat.NewVecDense(len(g), nil)
	if err := ch.SolveVecTo(d, mat.NewVecDense(len(g), g)); err != nil {
		return nil, err
	}
	out := make([]float64, len(g))
	for i := range out {
		out[i] = -d.AtVec(i)
	}
	return out, nil
}

// backtrack halves the Newton step until the Armijo condition
// f(r + t·d) ≤ f(r) + ¼·t·gᵀd holds, and returns r + t·d.
func backtrack(wins [][]float64, r, d, g []float64, ridge float64) []float64 {
	f0 := btObjective(wins, r, ridge)
	slope := dot(g, d)
	next := make([]float64, len(r))
	for t := 1.0; t > 1e-12; t /= 2 {
		for i := range r {
			next[i] = r[i] + t*d[i]
		}
		if btObjective(wins, next, ridge) <= f0+0.25*t*slope {
			return next
		}
	}
	return next
}

// centre subtracts the mean; at the exact optimum the mean is already 0,
// this only removes rounding drift.
func centre(r []float64) {
	m := 0.0
	for _, v := range r {
		m += v
	}
	m /= float64(len(r))
	for i := range r {
		r[i] -= m
	}
}

func dot(a, b []float64) float64 {
	s := 0.0
	for i, v := range a {
		s += v * b[i]
	}
	return s
}

func maxAbs(v []float64) float64 {
	m := 0.0
	for _, x := range v {
		m = math.Max(m, math.Abs(x))
	}
	return m
}

// RewardPolicy returns the KL-regularised RLHF policy
// π(y) ∝ π_ref(y)·exp(r(y)/τ), the maximiser of E_π[r] − τ·KL(π‖π_ref),
// computed by log-sum-exp. ref nil means uniform. It panics when tau ≤ 0
// or ref has the wrong length.
func RewardPolicy(r []float64, tau float64, ref []float64) []float64 {
	if !(tau > 0) {
		panic("game: temperature must be positive")
	}
	w := refOrUniform(ref, len(r))
	x := make([]float64, len(r))
	for i, v := range r {
		x[i] = v / tau
	}
	return tilt(make([]float64, len(r)), x, w)
}
