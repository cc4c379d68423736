package learner

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/slhf-dev/slhf/schemas"
)

func TestPreferenceAntisymmetry(t *testing.T) {
	for _, k := range []int{0, 1, 4} {
		t.Run(fmt.Sprintf("rank %d", k), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(k), 3))
			m := newPrefModel(9, k, 0.01, 0, rng)
			for i := range m.params {
				m.params[i] = rng.NormFloat64()
			}
			for range 200 {
				z, z2 := randVec(rng, 9), randVec(rng, 9)
				sum := m.prob(z, z2) + m.prob(z2, z)
				if math.Abs(sum-1) > 1e-12 {
					t.Fatalf("p(y≻y') + p(y'≻y) = %.15f, want 1", sum)
				}
				if p := m.prob(z, z); p != 0.5 {
					t.Fatalf("p(y≻y) = %v, want 0.5", p)
				}
			}
		})
	}
}

func TestPreferenceGradientMatchesFiniteDifferences(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	m := newPrefModel(6, 3, 0.01, 0, rng)
	z, z2 := randVec(rng, 6), randVec(rng, 6)
	const label, weight, h = 0.8, 1.7, 1e-6
	loss := func() float64 { return weight * logLoss(m.prob(z, z2), label) }
	p := m.prob(z, z2)
	m.gradient(z, z2, weight*(p-label))
	for i := range m.params {
		old := m.params[i]
		m.params[i] = old + h
		up := loss()
		m.params[i] = old - h
		down := loss()
		m.params[i] = old
		fd := (up - down) / (2 * h)
		if math.Abs(fd-m.grad[i]) > 1e-6 {
			t.Fatalf("∂ℓ/∂param[%d] = %.9g, finite difference %.9g", i, m.grad[i], fd)
		}
	}
}

// TestCondorcetCycle trains the full Model on labels drawn from the cycle
// p(A≻B) = p(B≻C) = p(C≻A) = 2/3, with one-hot embeddings through the
// column encoder. The best possible log-loss is the label entropy
// H(2/3) = 0.6365 nats. A Bradley–Terry model cannot go below log 2: its
// three logit differences around the cycle sum to zero, and the convex
// per-edge loss is then minimised by making all of them zero.
func TestCondorcetCycle(t *testing.T) {
	entropy := -(2.0/3*math.Log(2.0/3) + 1.0/3*math.Log(1.0/3))
	tests := []struct {
		name     string
		rank     int
		expected func(float64) bool // on the exact held-out log-loss
		want     string
	}{
		{"rank 1", 1, func(l float64) bool { return l < entropy+0.01 }, "< H + 0.01"},
		{"bradley-terry", 0, func(l float64) bool { return l >= math.Ln2-1e-9 }, "≥ log 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.Encoder, cfg.Dim, cfg.PrefRank = EncoderColumn, 3, tt.rank
			// A smaller step than the default: a constant-step optimiser on
			// hard labels jitters around the optimum, and at 0.02 that
			// jitter alone costs ≈ 0.02 nats of progressive loss.
			cfg.PrefLR = 0.005
			m := newTestModel(t, cfg)
			learnAll(t, m, cycleEvents(6000, 11), 64)
			prog := learnAll(t, m, cycleEvents(6000, 12), 64)
			exact := cycleLogLoss(t, m)
			t.Logf("held-out log-loss: exact %.4f, progressive %.4f (H = %.4f, log 2 = %.4f)",
				exact, prog.LogLoss, entropy, math.Ln2)
			if !tt.expected(exact) {
				t.Errorf("exact held-out log-loss %.4f, want %s", exact, tt.want)
			}
			// Progressive loss over 6,000 sampled labels has a standard
			// error of about 0.33/√6000 ≈ 0.004 nats.
			if tt.rank > 0 && prog.LogLoss > entropy+0.015 {
				t.Errorf("progressive log-loss %.4f, want < %.4f", prog.LogLoss, entropy+0.015)
			}
			if tt.rank == 0 && prog.LogLoss < math.Ln2-0.015 {
				t.Errorf("progressive log-loss %.4f below log 2 − 0.015", prog.LogLoss)
			}
		})
	}
}

var cycleItems = []string{"A", "B", "C"}

// cycleEvents samples n events over random ordered pairs of the cycle,
// with hard labels drawn with p(i ≻ i+1) = 2/3.
func cycleEvents(n int, seed uint64) []schemas.Preference {
	rng := rand.New(rand.NewPCG(seed, 9))
	evs := make([]schemas.Preference, n)
	for k := range evs {
		i := rng.IntN(3)
		j := (i + 1 + rng.IntN(2)) % 3
		p := cycleProb(i, j)
		label := float32(0)
		if rng.Float64() < p {
			label = 1
		}
		evs[k] = schemas.Preference{EventID: fmt.Sprint(seed, k), Prompt: "pick one",
			ResponseA: cycleItems[i], ResponseB: cycleItems[j], Preference: label,
			EmbeddingA: oneHot(i), EmbeddingB: oneHot(j)}
	}
	return evs
}

// cycleProb is the true p(i ≻ j) of the cycle A ≻ B ≻ C ≻ A.
func cycleProb(i, j int) float64 {
	if (i+1)%3 == j {
		return 2.0 / 3
	}
	return 1.0 / 3
}

// cycleLogLoss is the expected cross-entropy of the model against the
// true cycle probabilities over the six ordered pairs: the log-loss on an
// infinite held-out sample, with no sampling noise.
func cycleLogLoss(t *testing.T, m *Model) float64 {
	ctx := m.contexts.get(promptKey("", "pick one"))
	z := map[string][]float64{}
	for _, c := range ctx.cands {
		z[c.text] = c.z
	}
	var sum float64
	for i := range 3 {
		for j := range 3 {
			if i != j {
				sum += logLoss(m.pref.prob(z[cycleItems[i]], z[cycleItems[j]]), cycleProb(i, j))
			}
		}
	}
	return sum / 6
}

func oneHot(i int) []float32 {
	v := make([]float32, 3)
	v[i] = 1
	return v
}

func randVec(rng *rand.Rand, n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = rng.NormFloat64()
	}
	return v
}

// TestPrefModelDecay: with z = z' the loss gradient is zero, so an update
// only applies the decoupled decay, multiplying every weight by 1 − η·λ;
// without decay the weights stay put.
func TestPrefModelDecay(t *testing.T) {
	for _, decay := range []float64{0, 2} {
		m := newPrefModel(5, 2, 0.01, decay, rand.New(rand.NewPCG(3, 4)))
		want := append([]float64(nil), m.params...)
		for i := range want {
			want[i] *= 1 - 0.01*decay
		}
		z := []float64{0.3, -0.2, 0.5, 0.1, 0.7}
		if p := m.update(z, z, 1, 1); p != 0.5 {
			t.Fatalf("decay %v: p(y ≻ y) = %v, want 0.5", decay, p)
		}
		assertClose(t, "params", m.params, want, 1e-15)
	}
}
