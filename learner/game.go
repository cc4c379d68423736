package learner

import (
	"fmt"
	"math"
	"slices"

	"github.com/slhf-dev/slhf/learner/gda"
	"github.com/slhf-dev/slhf/schemas"
)

// gameScratch holds one context's game: inputs, logits, payoffs and the
// upstream gradients gda writes. Reused across contexts; owned by Model.
type gameScratch struct {
	xL, xF []float64 // leader rows n×F, follower rows n²×(2F+1)
	game   gda.Game
	dL, dF []float64
	lPass  *mlpPass
	fPass  *mlpPass
	pi     []float64 // policy scratch, MaxCandidates
	omega  []float64 // policy scratch, MaxCandidates²
}

func newGameScratch(m *Model) *gameScratch {
	c := m.cfg.MaxCandidates
	return &gameScratch{
		xL: make([]float64, c*m.leader.in), xF: make([]float64, c*c*m.follower.in),
		lPass: newMLPPass(m.leader, c), fPass: newMLPPass(m.follower, c*c),
		pi: make([]float64, c), omega: make([]float64, c*c),
	}
}

// build fills the game of ctx under the current weights: Leader logits
// s_θ(x, y_i), Follower logits t_φ(x, y_i, y_j) over R(x, y_i) = C(x), and
// the preference model's payoff p(y_i ≻ y_j), which also fills the payoff
// columns of the Follower rows when they are on. π_ref and ω_ref are
// uniform (nil), since records carry no reference log-probabilities, and
// every refinement is allowed (Allowed nil).
func (gs *gameScratch) build(m *Model, ctx *context) *gda.Game {
	n := len(ctx.cands)
	g := &gs.game
	*g = gda.Game{N: n,
		Leader: resize(g.Leader, n), Follower: resize(g.Follower, n*n),
		Payoff: resize(g.Payoff, n*n)}
	fw := m.follower.in
	for i := range ctx.cands {
		copy(gs.xL[i*m.leader.in:], ctx.cands[i].z)
		for j := range ctx.cands {
			row := gs.xF[(i*n+j)*fw : (i*n+j+1)*fw]
			s := m.pref.logit(ctx.cands[i].z, ctx.cands[j].z, m.pref.proj)
			g.Payoff[i*n+j] = sigmoid(s)
			follower(row, ctx.cands[i].z, ctx.cands[j].z, i == j)
			if m.feat.payoff {
				payoffColumns(row[fw-numPayoffColumns:], s)
			}
		}
	}
	gs.lPass.forward(m.theta, gs.xL, n, g.Leader)
	gs.fPass.forward(m.phi, gs.xF, n*n, g.Follower)
	gs.dL, gs.dF = resize(gs.dL, n), resize(gs.dF, n*n)
	return g
}

// gameStep updates the policies after the preference model learned a
// batch. Under the model payoff it takes GameSteps StackelbergGDA steps,
// each over the same contexts: those the batch touched plus up to
// ReplayContexts others drawn from the context cache (see replay); every
// context with at least two candidates contributes the exact gradient of
// f (eq. 5 of the paper). Replaying a context reuses no label: its game is
// defined by the preference model as it stands now. Under the labels
// payoff it takes one step in which each logged sample contributes the
// sampled, importance-weighted gradient. Gradients are averaged over the
// contributions of a step; with none, no step is taken.
func (m *Model) gameStep(touched []*context, samples []loggedSample, st *LearnStats) error {
	if m.cfg.Payoff == PayoffLabels {
		return m.oneStep(st, func(sum *gda.Stats) error {
			return m.sampledGradients(samples, sum, st)
		})
	}
	ctxs := append(touched, m.replay(touched)...)
	for range m.cfg.GameSteps {
		st.Contexts = 0
		err := m.oneStep(st, func(sum *gda.Stats) error {
			return m.exactGradients(ctxs, sum, st)
		})
		if err != nil || st.Contexts == 0 {
			return err
		}
	}
	return nil
}

// oneStep gathers the gradients that add contributes and takes one step.
func (m *Model) oneStep(st *LearnStats, add func(*gda.Stats) error) error {
	m.grads.leader.reset()
	m.grads.follower.reset()
	var sum gda.Stats
	if err := add(&sum); err != nil || st.Contexts == 0 {
		return err
	}
	if err := m.grads.leader.flush(); err != nil {
		return fmt.Errorf("leader gradient: %w", err)
	}
	if err := m.grads.follower.flush(); err != nil {
		return fmt.Errorf("follower gradient: %w", err)
	}
	m.step(st, sum)
	return nil
}

// replay draws up to ReplayContexts cached contexts that hold at least
// two candidates and are not in touched, uniformly without replacement
// by reservoir sampling (Vitter's algorithm R) with the model's seeded
// generator, so a replay is deterministic and survives a checkpoint.
// They are returned in cache order, most recently used first.
func (m *Model) replay(touched []*context) []*context {
	k := m.cfg.ReplayContexts
	if k == 0 {
		return nil
	}
	skip := make(map[*context]bool, len(touched))
	for _, c := range touched {
		skip[c] = true
	}
	type pick struct {
		rank int
		ctx  *context
	}
	var res []pick
	seen := 0
	for e := m.contexts.order.Front(); e != nil; e = e.Next() {
		c := e.Value.(*context)
		if skip[c] || len(c.cands) < 2 {
			continue
		}
		seen++
		switch {
		case len(res) < k:
			res = append(res, pick{seen, c})
		default:
			if j := m.rng.IntN(seen); j < k {
				res[j] = pick{seen, c}
			}
		}
	}
	slices.SortFunc(res, func(a, b pick) int { return a.rank - b.rank })
	out := make([]*context, len(res))
	for i, p := range res {
		out[i] = p.ctx
	}
	return out
}

// exactGradients adds the closed-form gradient of every touched context.
func (m *Model) exactGradients(touched []*context, sum *gda.Stats, st *LearnStats) error {
	gs := m.scratch
	for _, ctx := range touched {
		if len(ctx.cands) < 2 {
			continue
		}
		g := gs.build(m, ctx)
		addStats(sum, gda.Exact(g, m.cfg.GDA.TauLeader, m.cfg.GDA.TauFollower, gs.dL, gs.dF))
		if err := m.queue(g.N); err != nil {
			return err
		}
		st.Contexts++
	}
	return nil
}

// sampledGradients adds the sampled, importance-weighted gradient of every
// logged sample that is fresh enough, can be reweighted, and whose context
// still holds both of its responses.
func (m *Model) sampledGradients(samples []loggedSample, sum *gda.Stats, st *LearnStats) error {
	gs := m.scratch
	for _, s := range samples {
		ia, ib := s.ctx.find(s.ev.ResponseA), s.ctx.find(s.ev.ResponseB)
		if ia < 0 || ib < 0 || !m.fresh(s.ev) {
			st.Skipped++
			continue
		}
		g := gs.build(m, s.ctx)
		smp := m.sample(g, s.ev, ia, ib)
		if smp.Weight == 0 {
			st.Skipped++ // behaviour probability 0 or NaN: cannot reweight
			continue
		}
		addStats(sum, gda.Sampled(g, smp, m.cfg.GDA, gs.dL, gs.dF))
		if err := m.queue(g.N); err != nil {
			return err
		}
		st.Contexts++
	}
	return nil
}

// fresh reports whether the event's policy version is recent enough
// (gda.Config.MaxStaleness); events without a version are taken as fresh.
func (m *Model) fresh(ev *schemas.Preference) bool {
	return ev.PolicyVersion == nil || m.cfg.GDA.Fresh(m.steps, *ev.PolicyVersion)
}

// sample turns a logged leader/follower event into a gda.Sample: the
// Leader served y, the Follower answered y', and the label says how likely
// y was preferred, so P = p(y ≻ y'). The importance weight is
// min(π(y)·ω(y'|y) / (μ(y)·ν(y'|y)), ImportanceClip), with μ(y), ν(y'|y)
// the logged behaviour probabilities; 0 means "cannot reweight".
func (m *Model) sample(g *gda.Game, ev *schemas.Preference, ia, ib int) gda.Sample {
	s := gda.Sample{Y: ia, Refined: ib, P: float64(ev.Preference)}
	mu, nu := float64(*ev.ProbA), float64(*ev.ProbB)
	if ev.RoleA == schemas.RoleFollower {
		s.Y, s.Refined, s.P = ib, ia, 1-s.P
		mu, nu = nu, mu
	}
	pi := g.LeaderPolicy(m.scratch.pi[:g.N])
	omega := g.FollowerPolicy(m.scratch.omega[:g.N*g.N])
	target := pi[s.Y] * omega[s.Y*g.N+s.Refined]
	s.Weight = gda.ImportanceWeight(target, mu*nu, m.cfg.GDA.ImportanceClip)
	return s
}

// queue hands the scratch game's rows and upstream gradients to the
// packers.
func (m *Model) queue(n int) error {
	gs := m.scratch
	if err := m.grads.leader.add(gs.xL, n, gs.dL); err != nil {
		return fmt.Errorf("leader gradient: %w", err)
	}
	if err := m.grads.follower.add(gs.xF, n*n, gs.dF); err != nil {
		return fmt.Errorf("follower gradient: %w", err)
	}
	return nil
}

// step averages the gradients over the contributions and updates θ
// (ascent) and φ (descent) in place.
func (m *Model) step(st *LearnStats, sum gda.Stats) {
	inv := 1 / float64(st.Contexts)
	gl, gf := m.grads.leader.grad, m.grads.follower.grad
	for i := range gl {
		gl[i] *= inv
	}
	for i := range gf {
		gf[i] *= inv
	}
	st.Step = m.opt.Step(m.theta, gl, m.phi, gf)
	leaderBad := math.IsNaN(st.Step.LeaderNorm) || math.IsInf(st.Step.LeaderNorm, 0)
	if !st.Step.FollowerStepped || leaderBad {
		m.log.Warn("gda step skipped a non-finite gradient", "version", m.steps,
			"leader_norm", st.Step.LeaderNorm, "follower_norm", st.Step.FollowerNorm)
	}
	m.steps++
	st.GDASteps++
	st.LeaderObjective = sum.Objective * inv
	st.LeaderSurvival = sum.Payoff * inv
	st.LeaderEntropy = sum.LeaderEntropy * inv
	st.FollowerEntropy = sum.FollowerEntropy * inv
	st.LeaderKL = sum.LeaderKL * inv
	st.FollowerKL = sum.FollowerKL * inv
}

func addStats(sum *gda.Stats, s gda.Stats) {
	sum.Objective += s.Objective
	sum.Payoff += s.Payoff
	sum.LeaderEntropy += s.LeaderEntropy
	sum.FollowerEntropy += s.FollowerEntropy
	sum.LeaderKL += s.LeaderKL
	sum.FollowerKL += s.FollowerKL
}

func resize(s []float64, n int) []float64 {
	if cap(s) < n {
		return make([]float64, n)
	}
	return s[:n]
}
