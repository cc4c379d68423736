package gda

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/slhf-dev/slhf/learner/game"
)

// kappaCase is a game of the κ experiment, started from fixed random
// logits so every κ sees the same starting point.
type kappaCase struct {
	p        [][]float64
	tau      float64
	leader   []float64
	follower []float64
	solution game.SLHF
}

// kappaCases returns 12 games: the equal-share cycle and random games
// with n = 3..6 and small temperatures, where tracking matters most.
func kappaCases() []kappaCase {
	rng := rand.New(rand.NewPCG(31, 32))
	var cs []kappaCase
	for k := range 12 {
		n := 3 + k%4
		p := randomGame(rng, n, k%2 == 0)
		if k%3 == 0 {
			p, n = condorcet(), 3
		}
		tau := []float64{0.01, 0.02, 0.05}[k%3]
		c := kappaCase{p: p, tau: tau, leader: make([]float64, n), follower: make([]float64, n*n)}
		for i := range c.leader {
			c.leader[i] = rng.NormFloat64()
		}
		for i := range c.follower {
			c.follower[i] = rng.NormFloat64()
		}
		c.solution = game.SolveSLHF(p, tau, tau, nil, nil)
		cs = append(cs, c)
	}
	return cs
}

// stepsToTolerance trains every case with the exact estimator at the
// given κ (bypassing Validate, which refuses κ ≤ 1) and returns the total
// steps to joint TV ≤ 1e-3 and the number of cases that never got there
// within 30,000 steps.
func stepsToTolerance(cases []kappaCase, kappa float64) (total, failures int) {
	for _, c := range cases {
		cfg := DefaultConfig()
		cfg.TauLeader, cfg.TauFollower, cfg.Kappa = c.tau, c.tau, kappa
		g := newGame(c.p)
		copy(g.Leader, c.leader)
		copy(g.Follower, c.follower)
		tb, err := newTabular(g, newUnchecked(cfg, g.N, g.N*g.N))
		if err != nil {
			panic(err)
		}
		steps, d := run(tb, c.solution, nil, 0, 30000, 1e-3)
		total += steps
		if d > 1e-3 {
			failures++
		}
	}
	return total, failures
}

// TestKappaOrdering asserts what the timescale ratio buys: with η_L fixed
// at 0.01, a Follower at the Leader's speed (κ = 1) or slower (κ = ½)
// needs more steps to reach the equilibrium than the default κ = 5.
// Measured totals over the 12 cases (seeded, deterministic): see the
// benchmark and the package report.
func TestKappaOrdering(t *testing.T) {
	cases := kappaCases()
	half, f0 := stepsToTolerance(cases, 0.5)
	one, f1 := stepsToTolerance(cases, 1)
	five, f5 := stepsToTolerance(cases, 5)
	t.Logf("steps to joint TV 1e-3: κ=0.5 %d (%d failed), κ=1 %d (%d), κ=5 %d (%d)", half, f0, one, f1, five, f5)
	if f5 != 0 {
		t.Errorf("κ = 5: %d cases did not converge", f5)
	}
	if !(five < one && one < half) {
		t.Errorf("steps κ=5 %d, κ=1 %d, κ=0.5 %d: want strictly decreasing in κ", five, one, half)
	}
}

// BenchmarkKappa reports the steps to tolerance per κ as a metric.
func BenchmarkKappa(b *testing.B) {
	cases := kappaCases()
	for _, kappa := range []float64{0.5, 1, 2, 5, 10} {
		b.Run(fmt.Sprintf("kappa=%g", kappa), func(b *testing.B) {
			var total int
			for b.Loop() {
				total, _ = stepsToTolerance(cases, kappa)
			}
			b.ReportMetric(float64(total), "steps")
		})
	}
}
