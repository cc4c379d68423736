package gda

import (
	"fmt"
	"math/rand/v2"
)

// Tabular is the tabular parametrisation of SLHF: one Leader logit per
// candidate and one Follower logit per (answer, refinement) pair, so the
// game's own Leader and Follower slices are the parameters θ and φ. It
// realises every pair of policies with full support, which makes the
// closed forms of package game its exact fixed point; the convergence
// tests rely on that. It is not safe for concurrent use.
type Tabular struct {
	// Game is the context being learned; Step updates Game.Leader[:N] and
	// Game.Follower in place.
	Game *Game
	// GDA is the optimiser; its Config selects the estimator.
	GDA *StackelbergGDA

	dL, dF  []float64
	samples []Sample
}

// NewTabular validates g and cfg and returns a Tabular learning g in
// place. The game's slices stay owned by the caller.
func NewTabular(g *Game, cfg Config) (*Tabular, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("new tabular: %w", err)
	}
	return newTabular(g, newUnchecked(cfg, g.N, g.N*g.N))
}

func newTabular(g *Game, opt *StackelbergGDA) (*Tabular, error) {
	if err := g.Validate(); err != nil {
		return nil, fmt.Errorf("new tabular: %w", err)
	}
	return &Tabular{Game: g, GDA: opt, dL: make([]float64, g.N), dF: make([]float64, g.N*g.N)}, nil
}

// Step takes one StackelbergGDA step. With the exact estimator it uses
// [Exact] and ignores rng and batch; with the sampled one it draws batch
// on-policy pairs y ~ π, y' ~ ω(·|y) from rng, observes P = Payoff(y, y')
// (the preference model's probability, not a coin flip) and uses
// [SampledBatch]. It returns the estimator's statistics.
func (t *Tabular) Step(rng *rand.Rand, batch int) Stats {
	g, cfg := t.Game, t.GDA.cfg
	var st Stats
	if cfg.Estimator == EstimatorSampled {
		t.draw(rng, batch)
		st = SampledBatch(g, t.samples, cfg, t.dL, t.dF)
	} else {
		st = Exact(g, cfg.TauLeader, cfg.TauFollower, t.dL, t.dF)
	}
	t.GDA.Step(g.Leader[:g.N], t.dL, g.Follower, t.dF)
	return st
}

// draw fills t.samples with batch on-policy pairs.
func (t *Tabular) draw(rng *rand.Rand, batch int) {
	g, n := t.Game, t.Game.N
	pi, omega := g.LeaderPolicy(make([]float64, n)), g.FollowerPolicy(make([]float64, n*n))
	t.samples = t.samples[:0]
	for range batch {
		y := choose(pi, 0, rng)
		y2 := choose(omega[y*n:(y+1)*n], y, rng)
		t.samples = append(t.samples, Sample{Y: y, Refined: y2, P: g.Payoff[y*n+y2]})
	}
}

// Policies returns freshly allocated π (len N) and ω (len N·N).
func (t *Tabular) Policies() (pi, omega []float64) {
	n := t.Game.N
	return t.Game.LeaderPolicy(make([]float64, n)), t.Game.FollowerPolicy(make([]float64, n*n))
}
