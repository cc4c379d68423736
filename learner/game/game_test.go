package game

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// condorcet is the equal-share cycle A ≻ B ≻ C ≻ A with p = 2/3.
func condorcet() [][]float64 {
	const h = 2.0 / 3
	return [][]float64{
		{0.5, h, 1 - h},
		{1 - h, 0.5, h},
		{h, 1 - h, 0.5},
	}
}

// randomGame returns a random preference matrix; transitive games come
// from Bradley–Terry scores, cyclic ones from uniform entries.
func randomGame(rng *rand.Rand, n int, transitive bool) [][]float64 {
	p := square(n)
	r := make([]float64, n)
	for i := range r {
		r[i] = 3 * rng.NormFloat64()
	}
	for i := range n {
		p[i][i] = 0.5
		for j := i + 1; j < n; j++ {
			v := rng.Float64()
			if transitive {
				v = sigmoid(r[i] - r[j])
			}
			p[i][j], p[j][i] = v, 1-v
		}
	}
	return p
}

func near(t *testing.T, name string, got, want, tol float64) {
	t.Helper()
	if math.IsNaN(got) || math.Abs(got-want) > tol {
		t.Errorf("%s = %.6g, want %.6g ± %g", name, got, want, tol)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		p    [][]float64
		want error
	}{
		{"ok", condorcet(), nil},
		{"empty", nil, ErrEmpty},
		{"ragged", [][]float64{{0.5, 0.5}, {0.5}}, ErrNotSquare},
		{"range", [][]float64{{0.5, 1.2}, {-0.2, 0.5}}, ErrOutOfRange},
		{"nan", [][]float64{{0.5, math.NaN()}, {0.5, 0.5}}, ErrOutOfRange},
		{"sum", [][]float64{{0.5, 0.7}, {0.7, 0.5}}, ErrNotComplementary},
		{"diagonal", [][]float64{{0.4, 0.5}, {0.5, 0.5}}, ErrNotComplementary},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate(tt.p)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("Validate = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestSLHFCondorcet checks the numbers quoted in the design for the
// equal-share cycle; tolerance is half a unit of the last quoted digit.
func TestSLHFCondorcet(t *testing.T) {
	tests := []struct {
		tau    float64
		follow []float64 // ω*(·|A) over (A, B, C)
		ftol   float64
		value  float64 // V(A)
	}{
		{0.1, []float64{0.154, 0.029, 0.817}, 5e-4, 0.4229},
		{0.01, []float64{0, 0, 1}, 1e-6, 0.3443},
	}
	for _, tt := range tests {
		s := SolveSLHF(condorcet(), tt.tau, tt.tau, nil, nil)
		for j, w := range tt.follow {
			near(t, "ω*(·|A)", s.Follower[0][j], w, tt.ftol)
		}
		for y := range 3 {
			near(t, "π*", s.Leader[y], 1.0/3, 1e-12)
			near(t, "V", s.Value[y], tt.value, 5e-5)
		}
	}
}

// followerObjective is E_ω[p(y ≻ ·)] + τ·KL(ω‖uniform) for one row.
func followerObjective(row, w []float64, tau float64) float64 {
	u := make([]float64, len(w))
	for i := range u {
		u[i] = 1 / float64(len(w))
	}
	return dot(row, w) + tau*kl(w, u)
}

// TestSLHFBruteForce compares the closed forms with a grid search over
// the 3-simplex (step 1/400): the grid minimum can only sit above the
// true minimum, by at most ~1e-4 for these temperatures.
func TestSLHFBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 4 {
		p := randomGame(rng, 3, trial%2 == 0)
		tau := []float64{0.05, 0.3}[trial%2]
		s := SolveSLHF(p, tau, tau, nil, nil)
		for y := range 3 {
			best := gridMin(func(w []float64) float64 { return followerObjective(p[y], w, tau) })
			exact := followerObjective(p[y], s.Follower[y], tau)
			near(t, "V vs objective at ω*", exact, s.Value[y], 1e-12)
			if best < exact-1e-12 || best > exact+2e-4 {
				t.Errorf("trial %d row %d: grid min %.8f, closed form %.8f", trial, y, best, exact)
			}
		}
		leader := func(pi []float64) float64 { return -(dot(pi, s.Value) - tau*followerKL(pi)) }
		near(t, "max_π f", -gridMin(leader), s.Objective, 2e-4)
		near(t, "f(π*)", -leader(s.Leader), s.Objective, 1e-12)
	}
}

func followerKL(pi []float64) float64 {
	return kl(pi, []float64{1.0 / 3, 1.0 / 3, 1.0 / 3})
}

func gridMin(f func([]float64) float64) float64 {
	const steps = 400
	best := math.Inf(1)
	w := make([]float64, 3)
	for a := 0; a <= steps; a++ {
		for b := 0; a+b <= steps; b++ {
			w[0], w[1] = float64(a)/steps, float64(b)/steps
			w[2] = 1 - w[0] - w[1]
			best = math.Min(best, f(w))
		}
	}
	return best
}

func TestSLHFExtremeTemperatures(t *testing.T) {
	for _, tau := range []float64{1e-8, 1e8} {
		s := SolveSLHF(condorcet(), tau, tau, nil, []([]float64){nil, {1, 1, 0}, nil})
		for y := range 3 {
			sum := 0.0
			for _, w := range s.Follower[y] {
				if math.IsNaN(w) {
					t.Fatalf("τ=%g: NaN in ω*", tau)
				}
				sum += w
			}
			near(t, fmt.Sprintf("τ=%g row %d Σω*", tau, y), sum, 1, 1e-12)
		}
		near(t, "ω*(C|B) with zero reference", s.Follower[1][2], 0, 0)
	}
}

func TestBestResponsesAndMaximin(t *testing.T) {
	br := BestResponses(condorcet(), 1e-9)
	want := []int{2, 0, 1} // A is beaten by C, B by A, C by B
	for y, w := range want {
		if len(br[y]) != 1 || br[y][0] != w {
			t.Errorf("BestResponses[%d] = %v, want [%d]", y, br[y], w)
		}
	}
	leaders, level := Maximin(condorcet(), 1e-9)
	if len(leaders) != 3 {
		t.Errorf("Maximin leaders = %v, want all three tied", leaders)
	}
	near(t, "maximin level", level, 1.0/3, 1e-12)

	p := [][]float64{{0.5, 0.7, 0.6}, {0.3, 0.5, 0.9}, {0.4, 0.1, 0.5}}
	leaders, level = Maximin(p, 1e-9)
	if len(leaders) != 1 || leaders[0] != 0 || level != 0.5 {
		t.Errorf("Maximin = %v, %g; want [0], 0.5", leaders, level)
	}
}

func TestSolveNashKnownGames(t *testing.T) {
	// Generalised rock-paper-scissors with margins a, b, c: A beats B by
	// a, B beats C by b, C beats A by c; the equilibrium is ∝ (b, c, a).
	const a, b, c = 0.1, 0.3, 0.2
	grps := [][]float64{{0.5, 0.5 + a, 0.5 - c}, {0.5 - a, 0.5, 0.5 + b}, {0.5 + c, 0.5 - b, 0.5}}
	tests := []struct {
		name string
		p    [][]float64
		want []float64
	}{
		{"rock-paper-scissors", condorcet(), []float64{1.0 / 3, 1.0 / 3, 1.0 / 3}},
		{"weighted cycle", grps, []float64{b / (a + b + c), c / (a + b + c), a / (a + b + c)}},
		{"condorcet winner", [][]float64{{0.5, 0.6, 0.9}, {0.4, 0.5, 0.8}, {0.1, 0.2, 0.5}}, []float64{1, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nash := SolveNash(tt.p)
			for i, w := range tt.want {
				near(t, "π", nash.Policy[i], w, 1e-12)
			}
			near(t, "gap", nash.Gap, 0, 1e-12)
		})
	}
}

// TestSolveNashRandom checks the equilibrium condition π·A ≥ 0 on random
// games up to n = 12, tolerance 1e-10.
func TestSolveNashRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for trial := range 40 {
		n := 2 + trial%11
		p := randomGame(rng, n, trial%3 == 0)
		nash := SolveNash(p)
		sum := 0.0
		for _, v := range nash.Policy {
			if v < 0 {
				t.Fatalf("negative probability %g", v)
			}
			sum += v
		}
		near(t, "Σπ", sum, 1, 1e-12)
		if nash.Gap > 1e-10 {
			t.Errorf("trial %d (n=%d): gap %g", trial, n, nash.Gap)
		}
	}
}

// TestRegularizedNash checks the fixed point π ∝ ρ·exp(A·π/τ) to 1e-6 and
// the small-τ limit against the LP on a game with a unique equilibrium.
func TestRegularizedNash(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for trial := range 12 {
		p := randomGame(rng, 2+trial%6, trial%2 == 0)
		tau := []float64{0.02, 0.1, 1}[trial%3]
		ref := make([]float64, len(p))
		for i := range ref {
			ref[i] = 0.5 + rng.Float64()
		}
		nash, err := RegularizedNash(p, tau, ref, 1e-7, 1_000_000)
		if err != nil {
			t.Fatalf("trial %d: %v (bound %g)", trial, err, nash.TVBound)
		}
		x := make([]float64, len(p))
		for y := range x {
			x[y] = margin(p[y], nash.Policy) / tau
		}
		fixed := tilt(make([]float64, len(p)), x, refOrUniform(ref, len(p)))
		for y := range x {
			near(t, "fixed point", nash.Policy[y], fixed[y], 1e-6)
		}
	}
	const a, b, c = 0.1, 0.3, 0.2
	grps := [][]float64{{0.5, 0.5 + a, 0.5 - c}, {0.5 - a, 0.5, 0.5 + b}, {0.5 + c, 0.5 - b, 0.5}}
	nash, err := RegularizedNash(grps, 1e-4, nil, 1e-6, 1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "τ→0 limit π_A", nash.Policy[0], b/(a+b+c), 1e-2)
}

// TestBradleyTerryPlanted fits exact expected counts (tolerance 1e-3,
// set by the ridge bias) and sampled counts (0.15, about 3 standard
// errors with 400 comparisons per pair).
func TestBradleyTerryPlanted(t *testing.T) {
	planted := []float64{1.5, 0.5, 0, -0.5, -1.5}
	n := len(planted)
	tests := []struct {
		name    string
		sampled bool
		tol     float64
	}{{"expected counts", false, 1e-3}, {"sampled counts", true, 0.15}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(7, 8))
			wins := square(n)
			for i := range n {
				for j := i + 1; j < n; j++ {
					w := 400 * sigmoid(planted[i]-planted[j])
					if tt.sampled {
						w = 0
						for range 400 {
							if rng.Float64() < sigmoid(planted[i]-planted[j]) {
								w++
							}
						}
					}
					wins[i][j], wins[j][i] = w, 400-w
				}
			}
			bt, err := FitBradleyTerry(wins, 1e-6)
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range planted {
				near(t, "reward", bt.Rewards[i], r, tt.tol)
			}
		})
	}
}

func TestBradleyTerryGaugeAndTies(t *testing.T) {
	// Two disconnected pairs, one of them a perfect sweep and one all
	// ties: the ridge keeps everything finite and centred.
	wins := [][]float64{
		{0, 10, 0, 0},
		{0, 0, 0, 0},
		{0, 0, 0, 2.5},
		{0, 0, 2.5, 0},
	}
	bt, err := FitBradleyTerry(wins, DefaultRidge)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "Σr", bt.Rewards[0]+bt.Rewards[1]+bt.Rewards[2]+bt.Rewards[3], 0, 1e-9)
	near(t, "tied pair", bt.Rewards[2]-bt.Rewards[3], 0, 1e-9)
	if d := bt.Rewards[0] - bt.Rewards[1]; d < 5 || math.IsInf(d, 0) {
		t.Errorf("sweep margin %g, want large but finite", d)
	}
	if _, err := FitBradleyTerry([][]float64{{0, -1}, {0, 0}}, 1); !errors.Is(err, ErrBadCounts) {
		t.Errorf("negative count: err = %v", err)
	}
}

func TestRewardPolicy(t *testing.T) {
	pi := RewardPolicy([]float64{0, math.Log(3)}, 1, nil)
	near(t, "π_0", pi[0], 0.25, 1e-12)
	pi = RewardPolicy([]float64{1, 0}, 1, []float64{0, 1})
	near(t, "π_0 with zero reference", pi[0], 0, 0)
}

func TestCyclesAndCondorcet(t *testing.T) {
	tests := []struct {
		name   string
		p      [][]float64
		cycles [][3]int
		winner int
	}{
		{"cycle", condorcet(), [][3]int{{0, 1, 2}}, -1},
		{"reversed cycle", transpose(condorcet()), [][3]int{{0, 2, 1}}, -1},
		{"transitive", [][]float64{{0.5, 0.6, 0.9}, {0.4, 0.5, 0.8}, {0.1, 0.2, 0.5}}, nil, 0},
		{"tie breaks the cycle", [][]float64{{0.5, 0.5, 0.3}, {0.5, 0.5, 0.7}, {0.7, 0.3, 0.5}}, nil, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Cycles(tt.p)
			if len(got) != len(tt.cycles) {
				t.Fatalf("Cycles = %v, want %v", got, tt.cycles)
			}
			for i := range got {
				if got[i] != tt.cycles[i] {
					t.Errorf("Cycles = %v, want %v", got, tt.cycles)
				}
			}
			w, ok := CondorcetWinner(tt.p)
			if (tt.winner >= 0) != ok || (ok && w != tt.winner) {
				t.Errorf("CondorcetWinner = %d, %v; want %d", w, ok, tt.winner)
			}
		})
	}
}

func transpose(p [][]float64) [][]float64 {
	q := square(len(p))
	for i := range p {
		for j := range p {
			q[i][j] = p[j][i]
		}
	}
	return q
}
