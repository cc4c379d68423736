package gda

import (
	"errors"
	"fmt"
	"math"
)

// ErrInvalidGame is wrapped by every error of [Game.Validate].
var ErrInvalidGame = errors.New("invalid game")

// Game is one context of the SLHF game: N candidate responses, the two
// players' logits, the allowed refinements, the references and the
// payoff. Matrices are row-major N×N: entry (i, j) is at i·N + j and
// row i is about the Leader's answer y_i. A Game only borrows its slices;
// [Exact] and [Sampled] read them and never write.
type Game struct {
	// N is the number of candidates, ≥ 1.
	N int
	// Leader holds the logits s_i of π = softmax(s); len ≥ N, only the
	// first N are used.
	Leader []float64
	// Follower holds the logits t_ij of ω(y_j | y_i) = softmax over the
	// allowed j of t_ij; len N·N.
	Follower []float64
	// Allowed marks the refinements y_j available after y_i; nil allows
	// all. The diagonal ("keep") is always allowed, whatever it says.
	Allowed []bool
	// RefLeader is π_ref over the N candidates, > 0 where used; nil means
	// uniform. It need not be normalised.
	RefLeader []float64
	// RefFollower is ω_ref row by row, > 0 on allowed entries; nil means
	// uniform over the allowed refinements. Rows need not be normalised;
	// disallowed entries are ignored.
	RefFollower []float64
	// Payoff holds p(y_i ≻ y_j) in [0, 1]; len N·N.
	Payoff []float64
}

// Validate checks lengths, finiteness and ranges, and returns an error
// wrapping [ErrInvalidGame] that names the first bad field. [Exact] and
// [Sampled] assume a valid game.
func (g *Game) Validate() error {
	nn := g.N * g.N
	switch {
	case g.N < 1:
		return fmt.Errorf("%w: n = %d", ErrInvalidGame, g.N)
	case len(g.Leader) < g.N:
		return fmt.Errorf("%w: leader has %d logits, want ≥ %d", ErrInvalidGame, len(g.Leader), g.N)
	case len(g.Follower) != nn:
		return fmt.Errorf("%w: follower has %d logits, want %d", ErrInvalidGame, len(g.Follower), nn)
	case g.Allowed != nil && len(g.Allowed) != nn:
		return fmt.Errorf("%w: allowed has %d entries, want %d", ErrInvalidGame, len(g.Allowed), nn)
	case len(g.Payoff) != nn:
		return fmt.Errorf("%w: payoff has %d entries, want %d", ErrInvalidGame, len(g.Payoff), nn)
	}
	if err := checkValues("leader", g.Leader[:g.N], math.Inf(-1), math.Inf(1)); err != nil {
		return err
	}
	if err := checkValues("follower", g.Follower, math.Inf(-1), math.Inf(1)); err != nil {
		return err
	}
	if err := checkValues("payoff", g.Payoff, 0, 1); err != nil {
		return err
	}
	return g.validateRefs()
}

func (g *Game) validateRefs() error {
	if g.RefLeader != nil {
		if len(g.RefLeader) != g.N {
			return fmt.Errorf("%w: ref leader has %d entries, want %d", ErrInvalidGame, len(g.RefLeader), g.N)
		}
		if err := checkValues("ref leader", g.RefLeader, math.SmallestNonzeroFloat64, math.Inf(1)); err != nil {
			return err
		}
	}
	if g.RefFollower == nil {
		return nil
	}
	if len(g.RefFollower) != g.N*g.N {
		return fmt.Errorf("%w: ref follower has %d entries, want %d", ErrInvalidGame, len(g.RefFollower), g.N*g.N)
	}
	for k, v := range g.RefFollower {
		if g.allowed(k/g.N, k%g.N) && !(v > 0 && !math.IsInf(v, 1)) {
			return fmt.Errorf("%w: ref follower[%d] = %g, want > 0 on allowed entries", ErrInvalidGame, k, v)
		}
	}
	return nil
}

// checkValues reports the first value outside [lo, hi] or not finite.
func checkValues(field string, v []float64, lo, hi float64) error {
	for i, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) || x < lo || x > hi {
			return fmt.Errorf("%w: %s[%d] = %g", ErrInvalidGame, field, i, x)
		}
	}
	return nil
}

// allowed reports whether y_j may follow y_i.
func (g *Game) allowed(i, j int) bool {
	return i == j || g.Allowed == nil || g.Allowed[i*g.N+j]
}

// LeaderPolicy writes π = softmax(Leader[:N]) into dst (len ≥ N, else
// it panics) and returns dst[:N].
func (g *Game) LeaderPolicy(dst []float64) []float64 {
	dst = dst[:g.N]
	softmax(dst, g.Leader[:g.N], nil)
	return dst
}

// FollowerPolicy writes ω(·|y_i) for every i into dst (len ≥ N·N, else
// it panics), zero on disallowed entries, and returns dst[:N·N].
func (g *Game) FollowerPolicy(dst []float64) []float64 {
	n := g.N
	dst = dst[:n*n]
	for i := range n {
		softmax(dst[i*n:(i+1)*n], g.Follower[i*n:(i+1)*n], g.mask(i))
	}
	return dst
}

// mask returns the allowed row i as a predicate for softmax.
func (g *Game) mask(i int) func(j int) bool {
	return func(j int) bool { return g.allowed(i, j) }
}

// softmax writes dst_j = exp(x_j − max) / Σ over the j with ok(j) (all
// when ok is nil), 0 elsewhere.
func softmax(dst, x []float64, ok func(int) bool) {
	m := math.Inf(-1)
	for j, v := range x {
		if (ok == nil || ok(j)) && v > m {
			m = v
		}
	}
	s := 0.0
	for j, v := range x {
		dst[j] = 0
		if ok == nil || ok(j) {
			dst[j] = math.Exp(v - m)
			s += dst[j]
		}
	}
	for j := range dst {
		dst[j] /= s
	}
}

// refLeader writes the normalised π_ref into dst.
func (g *Game) refLeader(dst []float64) []float64 {
	dst = dst[:g.N]
	normalise(dst, g.RefLeader, nil)
	return dst
}

// refFollower writes the normalised ω_ref row i into dst.
func (g *Game) refFollower(dst []float64, i int) []float64 {
	n := g.N
	dst = dst[:n]
	var src []float64
	if g.RefFollower != nil {
		src = g.RefFollower[i*n : (i+1)*n]
	}
	normalise(dst, src, g.mask(i))
	return dst
}

// normalise writes src restricted to ok, normalised, into dst; a nil src
// is uniform over ok.
func normalise(dst, src []float64, ok func(int) bool) {
	s := 0.0
	for j := range dst {
		dst[j] = 0
		if ok == nil || ok(j) {
			dst[j] = 1
			if src != nil {
				dst[j] = src[j]
			}
			s += dst[j]
		}
	}
	for j := range dst {
		dst[j] /= s
	}
}

// Stats summarises the policies at the point a gradient was taken. KLs
// and entropies are in nats; Follower figures are averages over the
// Leader's answer weighted by π (by the samples for [Sampled]).
type Stats struct {
	// Objective is f of eq. 5 ([Exact]) or its one-sample estimate.
	Objective float64
	// Payoff is E_{y~π, y'~ω}[p(y ≻ y')], the Leader's chance to survive
	// refinement; for [Sampled] the observed P.
	Payoff float64
	// LeaderKL is KL(π‖π_ref), FollowerKL is E_π KL(ω(·|y)‖ω_ref(·|y)).
	LeaderKL, FollowerKL float64
	// LeaderEntropy is H(π), FollowerEntropy is E_π H(ω(·|y)).
	LeaderEntropy, FollowerEntropy float64
}

// Exact writes ∂f/∂Leader[:N] into dLeader (len ≥ N) and ∂f/∂Follower
// into dFollower (len ≥ N·N) for f of eq. 5, and returns f and the
// statistics. With u_ij = p_ij + τ_F·log(ω_ij/ω_ref,ij),
// g_i = Σ_j ω_ij·u_ij (= V_ω(y_i)) and h_i = g_i − τ_L·log(π_i/π_ref,i):
//
//	f = Σ_i π_i·h_i
//	∂f/∂t_ij = π_i·ω_ij·(u_ij − g_i)      (0 on disallowed entries)
//	∂f/∂s_i  = π_i·(h_i − f)
//
// (the softmax Jacobian applied to ∂f/∂π and ∂f/∂ω; the "+1" terms from
// differentiating x·log x cancel against Σ ω = 1). The Leader ascends f,
// the Follower descends it. Cost O(N²), no allocation beyond O(N²)
// scratch. The game must pass [Game.Validate]; Exact panics on short
// destination slices or tauL, tauF ≤ 0.
func Exact(g *Game, tauL, tauF float64, dLeader, dFollower []float64) Stats {
	if !(tauL > 0) || !(tauF > 0) {
		panic("gda: temperatures must be positive")
	}
	n := g.N
	pi, omega := g.LeaderPolicy(make([]float64, n)), g.FollowerPolicy(make([]float64, n*n))
	h, st := make([]float64, n), Stats{}
	ref := make([]float64, n)
	for i := range n {
		gi, klI := followerRow(g, i, omega[i*n:(i+1)*n], tauF, ref, dFollower[i*n:(i+1)*n])
		for j := range n {
			dFollower[i*n+j] *= pi[i]
		}
		h[i] = gi
		st.Payoff += pi[i] * (gi - tauF*klI)
		st.FollowerKL += pi[i] * klI
		st.FollowerEntropy += pi[i] * entropy(omega[i*n:(i+1)*n])
	}
	rl := g.refLeader(ref)
	for i := range n {
		h[i] -= tauL * logRatio(pi[i], rl[i])
		st.Objective += pi[i] * h[i]
	}
	for i := range n {
		dLeader[i] = pi[i] * (h[i] - st.Objective)
	}
	st.LeaderKL, st.LeaderEntropy = klDiv(pi, rl), entropy(pi)
	return st
}

// followerRow writes ω_ij·(u_ij − g_i) into d for row i and returns g_i
// and KL(ω_i‖ω_ref,i). ref is scratch of length N.
func followerRow(g *Game, i int, w []float64, tauF float64, ref, d []float64) (gi, kl float64) {
	n := g.N
	r := g.refFollower(ref, i)
	u := d // reuse d for u, then turn it into the gradient in place
	for j := range n {
		u[j] = 0
		if w[j] > 0 {
			u[j] = g.Payoff[i*n+j] + tauF*logRatio(w[j], r[j])
			gi += w[j] * u[j]
		}
	}
	for j := range n {
		d[j] = w[j] * (u[j] - gi)
	}
	return gi, klDiv(w, r)
}

// logRatio returns log(a/b), 0 when a = 0 (the 0·log 0 = 0 convention).
func logRatio(a, b float64) float64 {
	if a == 0 {
		return 0
	}
	return math.Log(a / b)
}

func klDiv(a, b []float64) float64 {
	s := 0.0
	for i, v := range a {
		s += v * logRatio(v, b[i])
	}
	return s
}

func entropy(a []float64) float64 {
	s := 0.0
	for _, v := range a {
		if v > 0 {
			s -= v * math.Log(v)
		}
	}
	return s
}
