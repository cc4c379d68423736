package gda

import (
	"errors"
	"fmt"
	"math"
)

// ErrStateMismatch is returned by [StackelbergGDA.Restore] when a saved
// state does not fit the optimiser's parameter counts.
var ErrStateMismatch = errors.New("optimiser state does not match parameter counts")

// StackelbergGDA is two-timescale simultaneous gradient descent-ascent
// (paper §4, "StackelbergGDA"; DESIGN §3): the Leader's parameters θ
// ascend f with Adam at η_L, the Follower's φ descend f with Adam at
// η_F = κ·η_L, both from gradients taken at the same point. With κ > 1 the
// Follower tracks its best response ω*(θ) and the Leader effectively
// ascends the Stackelberg value V(θ) = min_φ f(θ, φ) (Heusel et al. 2017;
// Fiez et al. 2020 for the Stackelberg reading). It is not safe for
// concurrent use.
type StackelbergGDA struct {
	cfg      Config
	leader   *Adam
	follower *Adam
	step     int64
}

// New returns a StackelbergGDA for nTheta Leader and nPhi Follower
// parameters. It returns cfg.Validate's error for a bad config; it panics
// on negative sizes.
func New(cfg Config, nTheta, nPhi int) (*StackelbergGDA, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("new stackelberg gda: %w", err)
	}
	return newUnchecked(cfg, nTheta, nPhi), nil
}

// newUnchecked skips validation; the κ experiment of the tests uses it to
// run κ ≤ 1, which New refuses.
func newUnchecked(cfg Config, nTheta, nPhi int) *StackelbergGDA {
	if nTheta < 0 || nPhi < 0 {
		panic("gda: negative parameter count")
	}
	return &StackelbergGDA{
		cfg:      cfg,
		leader:   NewAdam(nTheta, cfg.LRLeader, cfg.Beta1, cfg.Beta2, cfg.Eps),
		follower: NewAdam(nPhi, cfg.Kappa*cfg.LRLeader, cfg.Beta1, cfg.Beta2, cfg.Eps),
	}
}

// Config returns the configuration the optimiser was built with.
func (s *StackelbergGDA) Config() Config { return s.cfg }

// StepInfo reports what one [StackelbergGDA.Step] did.
type StepInfo struct {
	// Step is the step count after this step, starting at 1.
	Step int64
	// LeaderNorm and FollowerNorm are the gradient norms before clipping.
	LeaderNorm, FollowerNorm float64
	// LeaderClipped and FollowerClipped report a norm above ClipNorm.
	LeaderClipped, FollowerClipped bool
	// LeaderStepped is false on the steps LeaderEvery skips and when the
	// Leader's gradient is not finite.
	LeaderStepped bool
	// FollowerStepped is false when the Follower's gradient is not finite.
	FollowerStepped bool
}

// Step applies one simultaneous update in place: θ ← θ + Adam_ηL(∇θ f)
// on steps 1, 1+m, 1+2m, … (m = LeaderEvery) and φ ← φ − Adam_κηL(∇φ f)
// on every step. Each gradient is first scaled to norm ≤ ClipNorm when
// clipping is on; the gradient slices are not modified. A gradient with
// a NaN or infinite entry is skipped (its player does not move and its
// optimiser state is untouched), so one poisoned batch cannot corrupt
// the model. It panics when a slice length differs from the sizes given
// to New.
func (s *StackelbergGDA) Step(theta, gradTheta, phi, gradPhi []float64) StepInfo {
	s.step++
	info := StepInfo{Step: s.step}
	var scale float64
	info.FollowerNorm, scale, info.FollowerClipped = clipScale(gradPhi, s.cfg.ClipNorm)
	if info.FollowerStepped = finite(info.FollowerNorm); info.FollowerStepped {
		s.follower.Descend(phi, gradPhi, scale)
	}
	info.LeaderNorm, scale, info.LeaderClipped = clipScale(gradTheta, s.cfg.ClipNorm)
	due := s.cfg.LeaderEvery <= 1 || (s.step-1)%int64(s.cfg.LeaderEvery) == 0
	if info.LeaderStepped = due && finite(info.LeaderNorm); info.LeaderStepped {
		s.leader.Descend(theta, gradTheta, -scale)
	}
	return info
}

// clipScale returns ‖g‖₂, the factor that brings it to at most max (1
// when max is 0 or the norm is small), and whether it clipped.
func clipScale(g []float64, max float64) (norm, scale float64, clipped bool) {
	for _, v := range g {
		norm += v * v
	}
	norm = math.Sqrt(norm)
	if max > 0 && norm > max {
		return norm, max / norm, true
	}
	return norm, 1, false
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// State is a deep copy of the optimiser's mutable state, for
// checkpoints: the step count and both players' Adam moments and update
// counts.
type State struct {
	Step                 int64
	LeaderM, LeaderV     []float64
	FollowerM, FollowerV []float64
	LeaderT, FollowerT   int64
}

// State returns a copy of the current state; the caller owns it.
func (s *StackelbergGDA) State() State {
	return State{
		Step:      s.step,
		LeaderM:   append([]float64(nil), s.leader.M...),
		LeaderV:   append([]float64(nil), s.leader.V...),
		FollowerM: append([]float64(nil), s.follower.M...),
		FollowerV: append([]float64(nil), s.follower.V...),
		LeaderT:   s.leader.T,
		FollowerT: s.follower.T,
	}
}

// Restore replaces the state with a copy of st. It returns an error
// wrapping [ErrStateMismatch] when a moment slice has the wrong length or
// a counter is negative, and then changes nothing.
func (s *StackelbergGDA) Restore(st State) error {
	nT, nP := len(s.leader.M), len(s.follower.M)
	switch {
	case len(st.LeaderM) != nT || len(st.LeaderV) != nT:
		return fmt.Errorf("restore leader moments (%d, %d for %d parameters): %w",
			len(st.LeaderM), len(st.LeaderV), nT, ErrStateMismatch)
	case len(st.FollowerM) != nP || len(st.FollowerV) != nP:
		return fmt.Errorf("restore follower moments (%d, %d for %d parameters): %w",
			len(st.FollowerM), len(st.FollowerV), nP, ErrStateMismatch)
	case st.Step < 0 || st.LeaderT < 0 || st.FollowerT < 0:
		return fmt.Errorf("restore negative step counter: %w", ErrStateMismatch)
	}
	s.step = st.Step
	copy(s.leader.M, st.LeaderM)
	copy(s.leader.V, st.LeaderV)
	copy(s.follower.M, st.FollowerM)
	copy(s.follower.V, st.FollowerV)
	s.leader.T, s.follower.T = st.LeaderT, st.FollowerT
	return nil
}

// SetLearningRate sets η_L to lrLeader and η_F to κ·lrLeader for the
// following steps, keeping the Adam moments: the hook for a step-size
// schedule (warm-up, decay). Config().LRLeader keeps the initial value.
// It panics unless lrLeader > 0.
func (s *StackelbergGDA) SetLearningRate(lrLeader float64) {
	if !positive(lrLeader) {
		panic("gda: learning rate must be positive")
	}
	s.leader.LR = lrLeader
	s.follower.LR = s.cfg.Kappa * lrLeader
}
