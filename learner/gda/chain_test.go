package gda

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/slhf-dev/slhf/learner/game"
)

// TestChainReachesFavourite reproduces DESIGN §2 on the equal-share
// cycle with τ → 0 (τ = 1e-3): a user ranking A ≻ B ≻ C gets A within N
// answers (y_1 ~ π*, then N − 1 Follower rounds) with probability 1/3,
// 2/3, 1, while N independent draws from the Nash policy give 1/3, 5/9,
// 19/27. Exact enumeration over y_1 (tolerance 1e-9, the Follower's
// residual mass e^{−333} aside) and Monte Carlo with the sampled Follower
// (20,000 chains, tolerance 0.015 ≈ 4.5 standard errors).
func TestChainReachesFavourite(t *testing.T) {
	const tau, favourite = 1e-3, 0
	s := game.SolveSLHF(condorcet(), tau, tau, nil, nil)
	follower := func(cur int, dst []float64) []float64 { return append(dst[:0], s.Follower[cur]...) }
	nash := game.SolveNash(condorcet()).Policy
	wantSLHF := []float64{1.0 / 3, 2.0 / 3, 1}
	wantNash := []float64{1.0 / 3, 5.0 / 9, 19.0 / 27}
	rng := rand.New(rand.NewPCG(41, 42))
	for k, answers := range []int{1, 2, 3} {
		exact := 0.0
		for start, p := range s.Leader {
			if visited, _ := Chain(follower, start, answers-1, nil, nil); reaches(visited, favourite) {
				exact += p
			}
		}
		const trials = 20000
		hits := 0
		var buf []int
		for range trials {
			buf, _ = Chain(follower, choose(s.Leader, 0, rng), answers-1, rng, buf)
			if reaches(buf, favourite) {
				hits++
			}
		}
		draws := 1 - math.Pow(1-nash[favourite], float64(answers))
		check(t, "SLHF chain, exact", answers, exact, wantSLHF[k], 1e-9)
		check(t, "SLHF chain, sampled", answers, float64(hits)/trials, wantSLHF[k], 0.015)
		check(t, "Nash draws", answers, draws, wantNash[k], 1e-12)
	}
}

// reaches reports whether the favourite was visited.
func reaches(visited []int, favourite int) bool {
	for _, y := range visited {
		if y == favourite {
			return true
		}
	}
	return false
}

func check(t *testing.T, what string, n int, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol {
		t.Errorf("%s, N=%d: %.5f, want %.5f ± %g", what, n, got, want, tol)
	}
}
