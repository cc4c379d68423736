package gda

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		field string
		edit  func(*Config)
	}{
		{"", func(*Config) {}},
		{"tau_leader", func(c *Config) { c.TauLeader = 0 }},
		{"tau_follower", func(c *Config) { c.TauFollower = math.NaN() }},
		{"kappa", func(c *Config) { c.Kappa = 1 }},
		{"lr_leader", func(c *Config) { c.LRLeader = -1 }},
		{"leader_every", func(c *Config) { c.LeaderEvery = 0 }},
		{"clip_norm", func(c *Config) { c.ClipNorm = -1 }},
		{"estimator", func(c *Config) { c.Estimator = "magic" }},
		{"kl_estimator", func(c *Config) { c.KLEstimator = "k4" }},
		{"baseline", func(c *Config) { c.Baseline = 2 }},
		{"importance_clip", func(c *Config) { c.ImportanceClip = 0.5 }},
		{"max_staleness", func(c *Config) { c.MaxStaleness = -1 }},
		{"beta1", func(c *Config) { c.Beta1 = 1 }},
		{"beta2", func(c *Config) { c.Beta2 = -0.1 }},
		{"eps", func(c *Config) { c.Eps = 0 }},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			c := DefaultConfig()
			tt.edit(&c)
			err := c.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("default config: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.field) {
				t.Fatalf("Validate = %v, want an error naming %s", err, tt.field)
			}
			if _, err := New(c, 1, 1); !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("New = %v, want ErrInvalidConfig", err)
			}
		})
	}
}

func TestFresh(t *testing.T) {
	c := DefaultConfig()
	if !c.Fresh(100, 0) {
		t.Error("MaxStaleness 0 must accept any age")
	}
	c.MaxStaleness = 3
	if !c.Fresh(10, 7) || c.Fresh(10, 6) {
		t.Error("MaxStaleness 3: want version 7 fresh and 6 stale at 10")
	}
}

// maskedGame returns a random game with random logits, a random
// refinement mask and random references: the general case.
func maskedGame(rng *rand.Rand, n int) *Game {
	g := newGame(randomGame(rng, n, false))
	g.Allowed = make([]bool, n*n)
	g.RefLeader = make([]float64, n)
	g.RefFollower = make([]float64, n*n)
	for i := range n {
		g.Leader[i] = rng.NormFloat64()
		g.RefLeader[i] = 0.2 + rng.Float64()
	}
	for k := range g.Follower {
		g.Follower[k] = rng.NormFloat64()
		g.Allowed[k] = rng.Float64() < 0.7
		g.RefFollower[k] = 0.2 + rng.Float64()
	}
	return g
}

// objective evaluates f of eq. 5 through Exact (its return value).
func objective(g *Game, tauL, tauF float64) float64 {
	return Exact(g, tauL, tauF, make([]float64, g.N), make([]float64, g.N*g.N)).Objective
}

// TestExactFiniteDifferences compares Exact's gradient with central
// differences (h = 1e-5, so truncation error ~h² ≈ 1e-10; tolerance 1e-8).
func TestExactFiniteDifferences(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	const h, tol = 1e-5, 1e-8
	for trial := range 6 {
		n := 1 + trial
		g := maskedGame(rng, n)
		tauL, tauF := 0.05+rng.Float64(), 0.05+rng.Float64()
		dL, dF := make([]float64, n), make([]float64, n*n)
		Exact(g, tauL, tauF, dL, dF)
		check := func(name string, x []float64, want []float64) {
			for k := range want {
				old := x[k]
				x[k] = old + h
				up := objective(g, tauL, tauF)
				x[k] = old - h
				down := objective(g, tauL, tauF)
				x[k] = old
				if fd := (up - down) / (2 * h); math.Abs(fd-want[k]) > tol {
					t.Errorf("n=%d %s[%d]: exact %.10f, finite difference %.10f", n, name, k, want[k], fd)
				}
			}
		}
		check("leader", g.Leader, dL)
		check("follower", g.Follower, dF)
	}
}

// expectSampled returns E[SampledBatch] over every pair (y, y') drawn from
// behaviour policies mu, nu with exact importance weights, by enumeration.
func expectSampled(g *Game, cfg Config, mu, nu []float64) ([]float64, []float64) {
	n := g.N
	pi, omega := g.LeaderPolicy(make([]float64, n)), g.FollowerPolicy(make([]float64, n*n))
	eL, eF := make([]float64, n), make([]float64, n*n)
	dL, dF := make([]float64, n), make([]float64, n*n)
	for y := range n {
		for j := range n {
			q := mu[y] * nu[y*n+j]
			if q == 0 {
				continue
			}
			w := pi[y] * omega[y*n+j] / q
			SampledBatch(g, []Sample{{Y: y, Refined: j, P: g.Payoff[y*n+j], Weight: w}}, cfg, dL, dF)
			for k := range eL {
				eL[k] += q * dL[k]
			}
			for k := range eF {
				eF[k] += q * dF[k]
			}
		}
	}
	return eL, eF
}

// TestSampledExpectation checks by exact enumeration that the k1
// estimator's expectation equals Exact to 1e-12, on- and off-policy with
// any baseline, and that k3's does not (its bias is the reason the
// default is k1).
func TestSampledExpectation(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for trial := range 4 {
		g := maskedGame(rng, 2+trial)
		n := g.N
		cfg := DefaultConfig()
		cfg.TauLeader, cfg.TauFollower, cfg.Baseline = 0.3, 0.2, rng.Float64()
		wantL, wantF := make([]float64, n), make([]float64, n*n)
		Exact(g, cfg.TauLeader, cfg.TauFollower, wantL, wantF)

		onMu, onNu := g.LeaderPolicy(make([]float64, n)), g.FollowerPolicy(make([]float64, n*n))
		offG := maskedGame(rng, n)
		offG.Allowed = g.Allowed
		offMu, offNu := offG.LeaderPolicy(make([]float64, n)), offG.FollowerPolicy(make([]float64, n*n))

		for _, beh := range [][2][]float64{{onMu, onNu}, {offMu, offNu}} {
			gotL, gotF := expectSampled(g, cfg, beh[0], beh[1])
			if d := maxDiff(gotL, wantL) + maxDiff(gotF, wantF); d > 1e-12 {
				t.Errorf("trial %d k1: E[sampled] differs from exact by %g", trial, d)
			}
		}
		cfg.KLEstimator = KL3
		gotL, gotF := expectSampled(g, cfg, onMu, onNu)
		if d := maxDiff(gotL, wantL) + maxDiff(gotF, wantF); d < 1e-4 {
			t.Errorf("trial %d k3: bias %g, expected a visible bias", trial, d)
		}
	}
}

func maxDiff(a, b []float64) float64 {
	m := 0.0
	for i := range a {
		m = math.Max(m, math.Abs(a[i]-b[i]))
	}
	return m
}

// TestLeaveOneOut checks that the leave-one-out baseline leaves the
// expectation unchanged (two independent on-policy samples, enumerated)
// and differs from the fixed baseline on a particular batch.
func TestLeaveOneOut(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	g := maskedGame(rng, 3)
	n := g.N
	cfg := DefaultConfig()
	cfg.LeaveOneOut = true
	pi, omega := g.LeaderPolicy(make([]float64, n)), g.FollowerPolicy(make([]float64, n*n))
	wantL, wantF := make([]float64, n), make([]float64, n*n)
	Exact(g, cfg.TauLeader, cfg.TauFollower, wantL, wantF)
	eL, eF := make([]float64, n), make([]float64, n*n)
	dL, dF := make([]float64, n), make([]float64, n*n)
	var pairs []Sample
	var probs []float64
	for y := range n {
		for j := range n {
			if q := pi[y] * omega[y*n+j]; q > 0 {
				pairs = append(pairs, Sample{Y: y, Refined: j, P: g.Payoff[y*n+j]})
				probs = append(probs, q)
			}
		}
	}
	for a, sa := range pairs {
		for b, sb := range pairs {
			SampledBatch(g, []Sample{sa, sb}, cfg, dL, dF)
			for k := range eL {
				eL[k] += probs[a] * probs[b] * dL[k]
			}
			for k := range eF {
				eF[k] += probs[a] * probs[b] * dF[k]
			}
		}
	}
	if d := maxDiff(eL, wantL) + maxDiff(eF, wantF); d > 1e-12 {
		t.Errorf("leave-one-out: E[sampled] differs from exact by %g", d)
	}
}

func TestImportanceWeight(t *testing.T) {
	tests := []struct{ target, behaviour, clip, want float64 }{
		{0.2, 0.4, 5, 0.5},
		{0.9, 0.1, 5, 5},
		{0.3, 0, 5, 0},
		{0.3, math.NaN(), 5, 0},
	}
	for _, tt := range tests {
		if got := ImportanceWeight(tt.target, tt.behaviour, tt.clip); got != tt.want {
			t.Errorf("ImportanceWeight(%g, %g, %g) = %g, want %g", tt.target, tt.behaviour, tt.clip, got, tt.want)
		}
	}
}

// TestAdamFirstSteps checks Adam against hand-computed updates: the first
// bias-corrected step is LR·sign(g), the second follows the formula.
func TestAdamFirstSteps(t *testing.T) {
	a := NewAdam(2, 0.1, 0.9, 0.999, 1e-8)
	x := []float64{1, 1}
	a.Descend(x, []float64{4, -0.5}, 1)
	if math.Abs(x[0]-0.9) > 1e-8 || math.Abs(x[1]-1.1) > 1e-8 { // ε shifts it by LR·ε/|g|
		t.Fatalf("after step 1: %v, want [0.9 1.1]", x)
	}
	x0 := x[0]
	a.Descend(x, []float64{2, 0}, -1) // ascend
	m := (0.9*0.1*4 + 0.1*-2) / (1 - 0.81)
	v := (0.999*0.001*16 + 0.001*4) / (1 - 0.999*0.999)
	want := x0 - 0.1*m/(math.Sqrt(v)+1e-8)
	if math.Abs(x[0]-want) > 1e-12 {
		t.Fatalf("after step 2: x0 = %.12f, want %.12f", x[0], want)
	}
}

func TestStepLeaderEveryClipAndNaN(t *testing.T) {
	cfg := DefaultConfig()
	cfg.LeaderEvery, cfg.ClipNorm = 3, 1
	s, err := New(cfg, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	theta, phi := []float64{0}, []float64{0}
	gT, gP := []float64{10}, []float64{0.5}
	var stepped []int64
	for range 7 {
		info := s.Step(theta, gT, phi, gP)
		if info.LeaderStepped {
			stepped = append(stepped, info.Step)
		}
		if !info.LeaderClipped || info.FollowerClipped || info.LeaderNorm != 10 {
			t.Fatalf("step %d: clip flags %v/%v, norm %g", info.Step, info.LeaderClipped, info.FollowerClipped, info.LeaderNorm)
		}
	}
	if !slices.Equal(stepped, []int64{1, 4, 7}) {
		t.Errorf("leader stepped at %v, want [1 4 7]", stepped)
	}
	if gT[0] != 10 || theta[0] <= 0 || phi[0] >= 0 {
		t.Errorf("gradient %g (must be untouched), θ %g (must rise), φ %g (must fall)", gT[0], theta[0], phi[0])
	}

	before, th := s.State(), theta[0]
	info := s.Step(theta, []float64{math.NaN()}, phi, gP)
	if info.LeaderStepped || theta[0] != th || s.State().LeaderT != before.LeaderT {
		t.Errorf("NaN gradient moved the leader: %+v", info)
	}
}

// TestStateRoundTrip checks that restoring a saved state reproduces the
// exact same trajectory, bit for bit.
func TestStateRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	g := newGame(randomGame(rng, 4, false))
	cfg := DefaultConfig()
	tb, err := NewTabular(g, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		tb.Step(nil, 0)
	}
	saved := tb.GDA.State()
	g2 := *g
	g2.Leader, g2.Follower = slices.Clone(g.Leader), slices.Clone(g.Follower)
	for range 5 {
		tb.Step(nil, 0)
	}

	tb2, _ := NewTabular(&g2, cfg)
	if err := tb2.GDA.Restore(saved); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		tb2.Step(nil, 0)
	}
	if !slices.Equal(g.Leader, g2.Leader) || !slices.Equal(g.Follower, g2.Follower) {
		t.Error("restored trajectory differs")
	}
	bad := saved
	bad.LeaderM = bad.LeaderM[:1]
	if err := tb2.GDA.Restore(bad); !errors.Is(err, ErrStateMismatch) {
		t.Errorf("Restore(short moments) = %v, want ErrStateMismatch", err)
	}
}

func TestGameValidate(t *testing.T) {
	ok := func() *Game { return newGame(condorcet()) }
	tests := []struct {
		name string
		edit func(*Game)
		want string
	}{
		{"valid", func(*Game) {}, ""},
		{"n", func(g *Game) { g.N = 0 }, "n = 0"},
		{"follower length", func(g *Game) { g.Follower = g.Follower[:3] }, "follower has"},
		{"payoff range", func(g *Game) { g.Payoff[1] = 1.5 }, "payoff[1]"},
		{"leader NaN", func(g *Game) { g.Leader[0] = math.NaN() }, "leader[0]"},
		{"ref zero on allowed", func(g *Game) { g.RefFollower = make([]float64, 9) }, "ref follower[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := ok()
			tt.edit(g)
			err := g.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidGame) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestChainStops(t *testing.T) {
	// Follower over 3 candidates: from 0 go to 1, from 1 go to 2, keep 2.
	table := [][]float64{{0.1, 0.8, 0.1}, {0, 0.2, 0.8}, {0.3, 0.3, 0.4}}
	next := func(cur int, dst []float64) []float64 { return append(dst[:0], table[cur]...) }
	tests := []struct {
		start, rounds int
		want          []int
		reason        StopReason
	}{
		{0, 5, []int{0, 1, 2}, StopKept},
		{0, 1, []int{0, 1}, StopMaxRounds},
		{0, 0, []int{0}, StopMaxRounds},
		{2, 5, []int{2}, StopKept},
	}
	for _, tt := range tests {
		got, reason := Chain(next, tt.start, tt.rounds, nil, nil)
		if !slices.Equal(got, tt.want) || reason != tt.reason {
			t.Errorf("Chain(%d, %d) = %v %s, want %v %s", tt.start, tt.rounds, got, reason, tt.want, tt.reason)
		}
	}
	tie := func(cur int, dst []float64) []float64 { return append(dst[:0], 0.5, 0.5) }
	if got, reason := Chain(tie, 1, 3, nil, nil); !slices.Equal(got, []int{1}) || reason != StopKept {
		t.Errorf("tie: Chain = %v %s, want [1] kept", got, reason)
	}
}

func TestSetLearningRate(t *testing.T) {
	cfg := DefaultConfig()
	s, _ := New(cfg, 1, 1)
	s.SetLearningRate(0.2)
	theta, phi := []float64{0}, []float64{0}
	s.Step(theta, []float64{1}, phi, []float64{1})
	// First Adam step moves by LR·sign(g) (up to ε): θ by η_L, φ by κ·η_L.
	if math.Abs(theta[0]-0.2) > 1e-6 || math.Abs(phi[0]+cfg.Kappa*0.2) > 1e-6 {
		t.Errorf("θ = %g, φ = %g; want 0.2 and −%g", theta[0], phi[0], cfg.Kappa*0.2)
	}
}
