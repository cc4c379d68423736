package gda

import (
	"errors"
	"fmt"
	"math"
)

// Estimator names accepted by [Config].Estimator.
const (
	EstimatorExact   = "exact"
	EstimatorSampled = "sampled"
)

// KL estimator names accepted by [Config].KLEstimator. With
// r = ref(y)/π(y) for y ~ π (Schulman 2020, "Approximating KL
// divergence"):
//
//	k1 = −log r               unbiased for KL(π‖ref); unbiased gradient as a reward
//	k2 = ½·(log r)²           biased for KL; biased gradient as a reward
//	k3 = (r − 1) − log r      unbiased for KL, never negative; biased gradient as a reward
//
// Used as a detached per-sample penalty (the authors' loss form), only k1
// yields an unbiased gradient of the KL: E_π[k3·∇log π] is the gradient
// of KL(π‖ref) − KL(ref‖π), which vanishes to second order near ref, so
// k3 under-regularises. See the package tests for the measured effect.
const (
	KL1 = "k1"
	KL2 = "k2"
	KL3 = "k3"
)

// ErrInvalidConfig is wrapped by every error of [Config.Validate].
var ErrInvalidConfig = errors.New("invalid gda config")

// Config holds the StackelbergGDA hyper-parameters. The zero value is not
// valid; start from [DefaultConfig]. A Config is a plain value, safe to
// copy and to share read-only.
type Config struct {
	// TauLeader and TauFollower are τ_L and τ_F of eq. 5, > 0, in the
	// units of the payoff (a probability). Default 0.05: strong enough to
	// keep a small candidate set mixed; the paper uses 0.001 for LLMs,
	// where the KL is summed over hundreds of tokens.
	TauLeader, TauFollower float64
	// Kappa is the timescale ratio η_F = κ·η_L, > 1. Default 5 (the
	// paper's best of {1, 5, 10}).
	Kappa float64
	// LRLeader is the Leader's Adam step size η_L, > 0. Default 0.01.
	LRLeader float64
	// LeaderEvery makes the Leader update only on every m-th step, ≥ 1.
	// Default 1 (every step).
	LeaderEvery int
	// ClipNorm caps the Euclidean norm of each player's gradient before
	// the optimiser sees it; 0 disables clipping. Default 1.
	ClipNorm float64
	// Estimator is EstimatorExact (default) or EstimatorSampled.
	Estimator string
	// KLEstimator is KL1, KL2 or KL3 (default KL1); see their
	// documentation for the bias of KL2 and KL3.
	KLEstimator string
	// Baseline b is subtracted from the observed payoff in [Sampled]
	// (the Leader's reward is P − b, the Follower's (1 − P) − b), in
	// [0, 1]. Default 0.5.
	Baseline float64
	// LeaveOneOut replaces Baseline, in [SampledBatch] with two or more
	// samples, by the mean payoff of the other samples. Default false.
	LeaveOneOut bool
	// ImportanceClip truncates importance weights at this value, ≥ 1.
	// Default 5.
	ImportanceClip float64
	// MaxStaleness is the number of policy versions after which a logged
	// event is skipped (see [Config.Fresh]); 0 means no limit.
	MaxStaleness int64
	// Beta1, Beta2 and Eps are Adam's moment decays, in [0, 1), and its
	// denominator guard, > 0. Defaults 0.9, 0.999, 1e-8.
	Beta1, Beta2, Eps float64
}

// DefaultConfig returns the documented defaults of every field.
func DefaultConfig() Config {
	return Config{
		TauLeader:      0.05,
		TauFollower:    0.05,
		Kappa:          5,
		LRLeader:       0.01,
		LeaderEvery:    1,
		ClipNorm:       1,
		Estimator:      EstimatorExact,
		KLEstimator:    KL1,
		Baseline:       0.5,
		ImportanceClip: 5,
		Beta1:          0.9,
		Beta2:          0.999,
		Eps:            1e-8,
	}
}

// Validate reports the first field out of range, naming it; the error
// wraps [ErrInvalidConfig]. κ ≤ 1 is an error: a Follower no faster than
// the Leader does not track its best response (see the package tests).
func (c Config) Validate() error {
	checks := []struct {
		ok    bool
		field string
		rule  string
	}{
		{positive(c.TauLeader), "tau_leader", "must be > 0"},
		{positive(c.TauFollower), "tau_follower", "must be > 0"},
		{c.Kappa > 1 && !math.IsInf(c.Kappa, 0), "kappa", "must be > 1"},
		{positive(c.LRLeader), "lr_leader", "must be > 0"},
		{c.LeaderEvery >= 1, "leader_every", "must be ≥ 1"},
		{c.ClipNorm >= 0 && !math.IsInf(c.ClipNorm, 0), "clip_norm", "must be ≥ 0 (0 = off)"},
		{c.Estimator == EstimatorExact || c.Estimator == EstimatorSampled,
			"estimator", `must be "exact" or "sampled"`},
		{c.KLEstimator == KL1 || c.KLEstimator == KL2 || c.KLEstimator == KL3,
			"kl_estimator", `must be "k1", "k2" or "k3"`},
		{c.Baseline >= 0 && c.Baseline <= 1, "baseline", "must be in [0, 1]"},
		{c.ImportanceClip >= 1 && !math.IsInf(c.ImportanceClip, 0), "importance_clip", "must be ≥ 1"},
		{c.MaxStaleness >= 0, "max_staleness", "must be ≥ 0"},
		{c.Beta1 >= 0 && c.Beta1 < 1, "beta1", "must be in [0, 1)"},
		{c.Beta2 >= 0 && c.Beta2 < 1, "beta2", "must be in [0, 1)"},
		{positive(c.Eps), "eps", "must be > 0"},
	}
	for _, ch := range checks {
		if !ch.ok {
			return fmt.Errorf("%w: %s %s", ErrInvalidConfig, ch.field, ch.rule)
		}
	}
	return nil
}

// positive reports x > 0 and finite (NaN fails).
func positive(x float64) bool { return x > 0 && !math.IsInf(x, 1) }

// Fresh reports whether an event produced by policy version eventVersion
// may still train the policies at version current: always when
// MaxStaleness is 0, otherwise when current − eventVersion ≤ MaxStaleness.
// Events from the future (eventVersion > current) are fresh.
func (c Config) Fresh(current, eventVersion int64) bool {
	return c.MaxStaleness == 0 || current-eventVersion <= c.MaxStaleness
}
