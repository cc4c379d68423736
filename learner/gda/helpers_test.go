package gda

import (
	"math"
	"math/rand/v2"

	"github.com/slhf-dev/slhf/learner/game"
)

// condorcet is the equal-share cycle A ≻ B ≻ C ≻ A with p = 2/3.
func condorcet() [][]float64 {
	const h = 2.0 / 3
	return [][]float64{{0.5, h, 1 - h}, {1 - h, 0.5, h}, {h, 1 - h, 0.5}}
}

// randomGame returns a preference matrix: from Bradley–Terry scores
// (transitive) or uniform entries (generally cyclic).
func randomGame(rng *rand.Rand, n int, transitive bool) [][]float64 {
	p := make([][]float64, n)
	r := make([]float64, n)
	for i := range n {
		p[i] = make([]float64, n)
		r[i] = 2 * rng.NormFloat64()
	}
	for i := range n {
		p[i][i] = 0.5
		for j := i + 1; j < n; j++ {
			v := rng.Float64()
			if transitive {
				v = 1 / (1 + math.Exp(r[j]-r[i]))
			}
			p[i][j], p[j][i] = v, 1-v
		}
	}
	return p
}

// newGame returns a Game over p with zero logits (uniform policies).
func newGame(p [][]float64) *Game {
	n := len(p)
	g := &Game{N: n, Leader: make([]float64, n), Follower: make([]float64, n*n), Payoff: make([]float64, n*n)}
	for i := range n {
		copy(g.Payoff[i*n:], p[i])
	}
	return g
}

// jointTV is the total variation distance between the joint laws of
// (y, y') under (π, ω) and under the closed-form equilibrium s:
// ½·Σ_{y,y'} |π(y)·ω(y'|y) − π*(y)·ω*(y'|y)|. It bounds both TV(π, π*)
// and the π*-weighted Follower error from above (up to a factor 2).
func jointTV(pi, omega []float64, s game.SLHF) float64 {
	n := len(pi)
	d := 0.0
	for y := range n {
		for j := range n {
			d += math.Abs(pi[y]*omega[y*n+j] - s.Leader[y]*s.Follower[y][j])
		}
	}
	return d / 2
}

// run trains a tabular game until the joint TV to the closed form is ≤ tol
// or maxSteps pass, and returns the steps taken and the final distance.
func run(tb *Tabular, s game.SLHF, rng *rand.Rand, batch, maxSteps int, tol float64) (int, float64) {
	for step := 1; step <= maxSteps; step++ {
		tb.Step(rng, batch)
		if step%10 == 0 {
			pi, omega := tb.Policies()
			if d := jointTV(pi, omega, s); d <= tol {
				return step, d
			}
		}
	}
	pi, omega := tb.Policies()
	return maxSteps, jointTV(pi, omega, s)
}
