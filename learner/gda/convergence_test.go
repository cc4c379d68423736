package gda

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/slhf-dev/slhf/learner/game"
)

// randomise sets every logit of g to a standard normal draw, so training
// does not start at the symmetric point (which is π* for the cycle).
func randomise(g *Game, rng *rand.Rand) {
	for i := range g.Leader {
		g.Leader[i] = rng.NormFloat64()
	}
	for i := range g.Follower {
		g.Follower[i] = rng.NormFloat64()
	}
}

// TestCondorcetTabular checks the closed-form numbers of the equal-share
// cycle (DESIGN §2) and that tabular StackelbergGDA with the exact
// estimator reaches them from random logits: joint TV ≤ 1e-3, hence
// each quoted probability within 2e-3·3 = 6e-3 of ω*(·|A).
func TestCondorcetTabular(t *testing.T) {
	tests := []struct {
		tau    float64
		follow []float64
		value  float64
	}{
		{0.1, []float64{0.154, 0.029, 0.817}, 0.4229},
		{0.01, []float64{0, 0, 1}, 0.3443},
	}
	rng := rand.New(rand.NewPCG(21, 22))
	for _, tt := range tests {
		t.Run(fmt.Sprint("tau=", tt.tau), func(t *testing.T) {
			s := game.SolveSLHF(condorcet(), tt.tau, tt.tau, nil, nil)
			for j, w := range tt.follow {
				if math.Abs(s.Follower[0][j]-w) > 5e-4 {
					t.Errorf("closed form ω*(%d|A) = %.4f, want %.3f", j, s.Follower[0][j], w)
				}
			}
			if math.Abs(s.Value[0]-tt.value) > 5e-5 {
				t.Errorf("closed form V(A) = %.5f, want %.4f", s.Value[0], tt.value)
			}
			cfg := DefaultConfig()
			cfg.TauLeader, cfg.TauFollower, cfg.LRLeader = tt.tau, tt.tau, 0.05
			g := newGame(condorcet())
			randomise(g, rng)
			tb, err := NewTabular(g, cfg)
			if err != nil {
				t.Fatal(err)
			}
			steps, d := run(tb, s, rng, 0, 20000, 1e-3)
			pi, omega := tb.Policies()
			if d > 1e-3 {
				t.Fatalf("joint TV %.2g after %d steps; π = %.4f, ω(·|A) = %.4f", d, steps, pi, omega[:3])
			}
			for j, w := range tt.follow {
				if math.Abs(omega[j]-w) > 6e-3 {
					t.Errorf("learned ω(%d|A) = %.4f, want %.3f", j, omega[j], w)
				}
			}
			for y := range 3 {
				if math.Abs(pi[y]-1.0/3) > 2e-3 {
					t.Errorf("learned π(%d) = %.4f, want 1/3", y, pi[y])
				}
			}
		})
	}
}

// gameCase is one random game of the convergence tests.
type gameCase struct {
	p   [][]float64
	tau float64
}

// randomCases returns transitive and cyclic games for n = 2..8 and
// τ ∈ {0.05, 0.1, 0.5}.
func randomCases(seed uint64, perN int) []gameCase {
	rng := rand.New(rand.NewPCG(seed, seed+1))
	var cs []gameCase
	for n := 2; n <= 8; n++ {
		for k := range perN {
			cs = append(cs, gameCase{randomGame(rng, n, k%2 == 0), []float64{0.05, 0.1, 0.5}[(n+k)%3]})
		}
	}
	return cs
}

// TestConvergenceExact: the exact estimator ends within joint TV 1e-3 of
// (π*, ω*) on every random game (n = 2..8, transitive and cyclic).
func TestConvergenceExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	for i, c := range randomCases(1, 2) {
		cfg := DefaultConfig()
		cfg.TauLeader, cfg.TauFollower, cfg.LRLeader = c.tau, c.tau, 0.05
		g := newGame(c.p)
		randomise(g, rng)
		tb, err := NewTabular(g, cfg)
		if err != nil {
			t.Fatal(err)
		}
		s := game.SolveSLHF(c.p, c.tau, c.tau, nil, nil)
		if steps, d := run(tb, s, rng, 0, 20000, 1e-3); d > 1e-3 {
			t.Errorf("case %d (n=%d, τ=%g): joint TV %.2g after %d steps", i, len(c.p), c.tau, d, steps)
		}
	}
}

// TestConvergenceSampled: the sampled estimator (k1, on-policy batches of
// 32, lr 0.005, P read from the payoff) ends within joint TV 0.02 of (π*, ω*).
// Measured on the Polyak–Ruppert average of the iterates over the second
// half of the run, the usual way to read a constant-step stochastic
// method; the last iterate alone fluctuates more (≈0.04 for n = 8,
// τ = 0.05, where rarely played rows of ω learn slowly).
func TestConvergenceSampled(t *testing.T) {
	const steps = 8000 // fewer leave case 13 (n = 8, τ = 0.05) above 0.02
	rng := rand.New(rand.NewPCG(25, 26))
	worst := 0.0
	for i, c := range randomCases(2, 2) {
		n := len(c.p)
		cfg := DefaultConfig()
		cfg.Estimator, cfg.LRLeader = EstimatorSampled, 0.005
		cfg.TauLeader, cfg.TauFollower = c.tau, c.tau
		tb, err := NewTabular(newGame(c.p), cfg)
		if err != nil {
			t.Fatal(err)
		}
		avg := newAverager(n)
		for k := range steps {
			tb.Step(rng, 32)
			if k >= steps/2 && k%5 == 0 {
				avg.add(tb.Policies())
			}
		}
		pi, omega := avg.result()
		d := jointTV(pi, omega, game.SolveSLHF(c.p, c.tau, c.tau, nil, nil))
		worst = math.Max(worst, d)
		if d > 0.02 {
			t.Errorf("case %d (n=%d, τ=%g): joint TV %.3f", i, n, c.tau, d)
		}
	}
	t.Logf("worst joint TV %.4f", worst)
}

// averager accumulates the joint law π(y)·ω(y'|y) of several iterates.
type averager struct {
	n     int
	pi    []float64
	sum   []float64
	count float64
}

func newAverager(n int) *averager {
	return &averager{n: n, pi: make([]float64, n), sum: make([]float64, n*n)}
}

func (a *averager) add(pi, omega []float64) {
	for y := range a.n {
		a.pi[y] += pi[y]
		for j := range a.n {
			a.sum[y*a.n+j] += pi[y] * omega[y*a.n+j]
		}
	}
	a.count++
}

// joint returns the averaged π and the ω that, with it, gives the
// averaged joint law.
func (a *averager) result() ([]float64, []float64) {
	pi, omega := make([]float64, a.n), make([]float64, a.n*a.n)
	for y := range a.n {
		pi[y] = a.pi[y] / a.count
		for j := range a.n {
			omega[y*a.n+j] = a.sum[y*a.n+j] / a.pi[y]
		}
	}
	return pi, omega
}
