package gda

import "math"

// Sample is one observation for [Sampled]: the Leader's answer Y, the
// Follower's refinement Refined (both indices into the game's
// candidates, Refined allowed after Y) and the observed P = p(y ≻ y')
// in [0, 1] (a human label, a judge's probability or the preference
// model's).
type Sample struct {
	Y, Refined int
	P          float64
	// Weight is the importance weight of the pair, already truncated
	// (see [ImportanceWeight]); the zero value means 1 (on-policy), as a
	// softmax target never gives a true weight of zero.
	Weight float64
}

func (s Sample) weight() float64 {
	if s.Weight == 0 {
		return 1
	}
	return s.Weight
}

// ImportanceWeight returns the truncated importance weight
// min(target/behaviour, clip) of a pair drawn by a behaviour policy, for
// the joint probabilities target = π(y)·ω(y'|y) and behaviour =
// μ(y)·ν(y'|y). It returns 0 for a behaviour probability ≤ 0 or NaN (an
// event that cannot be reweighted must not train the policies).
func ImportanceWeight(target, behaviour, clip float64) float64 {
	if !(behaviour > 0) || math.IsNaN(target) {
		return 0
	}
	return math.Min(target/behaviour, clip)
}

// klEstimate returns k1, k2 or k3 for the log ratio lr = log(q/ref) of a
// sample drawn from q (see the KL1 constants).
func klEstimate(name string, lr float64) float64 {
	switch name {
	case KL2:
		return 0.5 * lr * lr
	case KL3:
		return math.Expm1(-lr) + lr // (r − 1) − log r with r = exp(−lr)
	default:
		return lr
	}
}

// Sampled writes one-sample estimates of ∂f/∂Leader[:N] into dLeader and
// of ∂f/∂Follower into dFollower, with the sign convention of [Exact]
// (the Leader ascends, the Follower descends). It is the authors' loss
// form (paper §4, DESIGN §3) with β = τ:
//
//	Leader:   L_L = (τ_L·k − (P − b + τ_F·k'))·log π(y)
//	Follower: L_F = (τ_F·k' − ((1 − P) − b))·log ω(y'|y)
//
// where k estimates log(π/π_ref) at y and k' log(ω/ω_ref) at y' (by
// cfg.KLEstimator), b = cfg.Baseline and the coefficients are held
// constant (REINFORCE). Written as estimates of ∂f (so −w·∇L_L for the
// Leader, +w·∇L_F for the Follower, ∇ taken with respect to the logits):
//
//	dLeader   = w·((P − b) + τ_F·k' − τ_L·k)·(e_y − π)
//	dFollower = w·((P − (1 − b)) + τ_F·k')·(e_y' − ω(·|y))   (row y only)
//
// with w the sample's importance weight. The τ_F·k' term in the Leader's
// reward is our addition to the authors' form: f charges the Follower's
// KL to the Leader's value V(y), and without it the Leader's fixed point
// is not π* of eq. 5 when τ_F is not small. With cfg.KLEstimator = KL1
// both estimates are unbiased for y ~ π, y' ~ ω (or with exact importance
// weights); see KL1 for the bias of the others. All other rows of
// dFollower are zeroed. The game must pass [Game.Validate]; Sampled
// panics on short destinations or indices out of range.
func Sampled(g *Game, s Sample, cfg Config, dLeader, dFollower []float64) Stats {
	return SampledBatch(g, []Sample{s}, cfg, dLeader, dFollower)
}

// SampledBatch averages [Sampled] over samples from one context. With
// cfg.LeaveOneOut and two or more samples, each sample's baseline is the
// mean P of the others (for the Follower, the mean 1 − P), which keeps
// the estimate unbiased for independent samples and removes the need to
// guess b. Stats are the sample averages. An empty batch writes zero
// gradients.
func SampledBatch(g *Game, samples []Sample, cfg Config, dLeader, dFollower []float64) Stats {
	n := g.N
	clear(dLeader[:n])
	clear(dFollower[:n*n])
	if len(samples) == 0 {
		return Stats{}
	}
	pi, omega := g.LeaderPolicy(make([]float64, n)), g.FollowerPolicy(make([]float64, n*n))
	rl := g.refLeader(make([]float64, n))
	rf := make([]float64, n)
	sumP := 0.0
	for _, s := range samples {
		sumP += s.P
	}
	var st Stats
	inv := 1 / float64(len(samples))
	for _, s := range samples {
		bL, bF := baselines(cfg, s, sumP, len(samples))
		w := omega[s.Y*n : (s.Y+1)*n]
		lrL := logRatio(pi[s.Y], rl[s.Y])
		lrF := logRatio(w[s.Refined], g.refFollower(rf, s.Y)[s.Refined])
		kL, kF := klEstimate(cfg.KLEstimator, lrL), klEstimate(cfg.KLEstimator, lrF)
		cL := inv * s.weight() * ((s.P - bL) + cfg.TauFollower*kF - cfg.TauLeader*kL)
		cF := inv * s.weight() * ((s.P - bF) + cfg.TauFollower*kF)
		addScore(dLeader[:n], pi, s.Y, cL)
		addScore(dFollower[s.Y*n:(s.Y+1)*n], w, s.Refined, cF)
		st.Objective += inv * (s.P + cfg.TauFollower*kF - cfg.TauLeader*kL)
		st.Payoff += inv * s.P
		st.LeaderKL += inv * kL
		st.FollowerKL += inv * kF
		st.LeaderEntropy -= inv * math.Log(pi[s.Y])
		st.FollowerEntropy -= inv * math.Log(w[s.Refined])
	}
	return st
}

// baselines returns the values subtracted from P in the Leader's and
// the Follower's coefficient: b and 1 − b (the Follower's reward 1 − P
// against baseline b), or with leave-one-out the mean P of the other
// samples for both.
func baselines(cfg Config, s Sample, sumP float64, k int) (leader, follower float64) {
	if !cfg.LeaveOneOut || k < 2 {
		return cfg.Baseline, 1 - cfg.Baseline
	}
	loo := (sumP - s.P) / float64(k-1)
	return loo, loo
}

// addScore adds c·(e_k − p) to d: c times the gradient of log p_k with
// respect to the logits of a softmax p.
func addScore(d, p []float64, k int, c float64) {
	for j, v := range p {
		d[j] -= c * v
	}
	d[k] += c
}
