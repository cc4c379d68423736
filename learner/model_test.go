package learner

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/slhf-dev/slhf/schemas"
)

// TestLearnDeterministic: two models with one seed fed the same batches
// end in bit-identical states, for both autodiff back ends, also when
// several GDA steps per batch replay randomly drawn contexts.
func TestLearnDeterministic(t *testing.T) {
	evs := pandaEvents(loadPanda(t)[:300])
	for _, ad := range []string{AutodiffGorgonia, AutodiffPlain} {
		t.Run(ad, func(t *testing.T) {
			cfg := testConfig()
			cfg.Autodiff = ad
			cfg.GameSteps, cfg.ReplayContexts = 2, 4
			a, b := newTestModel(t, cfg), newTestModel(t, cfg)
			learnAll(t, a, evs, 32)
			learnAll(t, b, evs, 32)
			ta, ma := a.State()
			tb, mb := b.State()
			if !reflect.DeepEqual(ta, tb) || !reflect.DeepEqual(ma, mb) {
				t.Fatal("same seed and events gave different states")
			}
			if a.Version() == 0 {
				t.Fatal("no GDA step was taken")
			}
		})
	}
}

// TestBackendsAgree: the gorgonia and plain back ends compute the same
// gradients, so a short run ends at nearly the same weights.
func TestBackendsAgree(t *testing.T) {
	evs := pandaEvents(loadPanda(t)[:200])
	cfg := testConfig()
	g := newTestModel(t, cfg)
	cfg.Autodiff = AutodiffPlain
	p := newTestModel(t, cfg)
	learnAll(t, g, evs, 32)
	learnAll(t, p, evs, 32)
	if d := maxAbsDiff(g.theta, p.theta); d > 1e-6 {
		t.Errorf("leader weights differ by %.3g", d)
	}
	if d := maxAbsDiff(g.phi, p.phi); d > 1e-6 {
		t.Errorf("follower weights differ by %.3g", d)
	}
}

// TestStateRestoreRoundTrip: a model restored from State refines and
// prefers exactly like the original and then trains identically.
func TestStateRestoreRoundTrip(t *testing.T) {
	pairs := loadPanda(t)
	first, second := pandaEvents(pairs[:250]), pandaEvents(pairs[250:450])
	cfg := testConfig()
	cfg.ContextCache = 40  // force evictions so the LRU order matters
	cfg.ReplayContexts = 3 // replay draws from the restored generator
	a := newTestModel(t, cfg)
	learnAll(t, a, first, 32)
	tensors, meta := a.State()

	b := newTestModel(t, cfg)
	if err := b.Restore(tensors, meta); err != nil {
		t.Fatalf("restore: %v", err)
	}
	sa, sb := a.Snapshot(), b.Snapshot()
	for i, p := range pairs[450:480] {
		r := schemas.Response{RequestID: fmt.Sprint(i), Prompt: p.prompt, Response: p.a,
			Candidates: []string{p.b, pairs[i].a, pairs[i].b}}
		if ra, rb := sa.Refine(r, 4), sb.Refine(r, 4); ra != rb {
			t.Fatalf("refine differs after restore: %+v vs %+v", ra, rb)
		}
		if pa, pb := sa.Prefer(p.prompt, p.a, p.b), sb.Prefer(p.prompt, p.a, p.b); pa != pb {
			t.Fatalf("prefer differs after restore: %v vs %v", pa, pb)
		}
	}
	learnAll(t, a, second, 32)
	learnAll(t, b, second, 32)
	ta, ma := a.State()
	tb, mb := b.State()
	if !reflect.DeepEqual(ta, tb) || !reflect.DeepEqual(ma, mb) {
		t.Fatal("training after restore diverged from the original")
	}
}

func TestRestoreRejects(t *testing.T) {
	cfg := testConfig()
	m := newTestModel(t, cfg)
	learnAll(t, m, pandaEvents(loadPanda(t)[:50]), 25)
	good, meta := m.State()
	tests := []struct {
		name string
		edit func(map[string][]float64, map[string]string)
		want error
	}{
		{"fingerprint", func(_ map[string][]float64, m map[string]string) {
			m[keyFinger] = "other"
		}, ErrFingerprint},
		{"missing tensor", func(t map[string][]float64, _ map[string]string) {
			delete(t, keyTheta)
		}, ErrCheckpoint},
		{"short tensor", func(t map[string][]float64, _ map[string]string) {
			t[keyPhi] = t[keyPhi][:10]
		}, ErrCheckpoint},
		{"bad counter", func(_ map[string][]float64, m map[string]string) {
			m[keySteps] = "x"
		}, ErrCheckpoint},
		{"bad rng", func(_ map[string][]float64, m map[string]string) {
			m[keyRNG] = "AAAA"
		}, ErrCheckpoint},
		{"context features", func(t map[string][]float64, _ map[string]string) {
			t[keyCandZ] = t[keyCandZ][1:]
		}, ErrCheckpoint},
		{"gda moments", func(t map[string][]float64, _ map[string]string) {
			t[prefixGDA+"leader_m"] = nil
		}, ErrCheckpoint},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tensors, mt := copyState(good, meta)
			tt.edit(tensors, mt)
			fresh := newTestModel(t, cfg)
			before, _ := fresh.State()
			err := fresh.Restore(tensors, mt)
			if !errors.Is(err, tt.want) {
				t.Fatalf("restore error %v, want %v", err, tt.want)
			}
			if after, _ := fresh.State(); !reflect.DeepEqual(before, after) {
				t.Fatal("failed restore changed the model")
			}
		})
	}
}

// TestSnapshotIsolation runs Refine on a snapshot from several goroutines
// while Learn keeps training the model (run it with -race). The snapshot's
// answers must not change, and its weights must not move.
func TestSnapshotIsolation(t *testing.T) {
	pairs := loadPanda(t)
	m := newTestModel(t, testConfig())
	learnAll(t, m, pandaEvents(pairs[:200]), 32)
	s := m.Snapshot()
	theta := clone(s.theta)
	modelBefore, _ := m.State()
	reqs := make([]schemas.Response, 20)
	want := make([]Refinement, len(reqs))
	for i := range reqs {
		p := pairs[200+i]
		reqs[i] = schemas.Response{Prompt: p.prompt, Response: p.a, Candidates: []string{p.b, pairs[i].a}}
		want[i] = s.Refine(reqs[i], 3)
	}
	if after, _ := m.State(); !reflect.DeepEqual(modelBefore, after) {
		t.Fatal("Refine changed the model")
	}
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			for round := range 20 {
				for i, r := range reqs {
					if got := s.Refine(r, 3); got != want[i] {
						t.Errorf("round %d: refine %d changed: %+v, want %+v", round, i, got, want[i])
						return
					}
				}
			}
		})
	}
	learnAll(t, m, pandaEvents(pairs[200:600]), 32)
	wg.Wait()
	if !reflect.DeepEqual(theta, s.theta) {
		t.Fatal("snapshot weights changed while the model trained")
	}
	if s.Version() == m.Version() {
		t.Fatal("model did not advance past the snapshot")
	}
}

// TestEasySignalOnRealText: PandaLM prompts, each paired with its own
// model answer and with an answer written for a different prompt; the
// on-topic answer is labelled better. A reader can tell the two apart
// from the words shared with the prompt, and so must the preference
// model: its progressive (held-out) accuracy over the second half of the
// stream must clear 0.75, where chance is 0.5.
func TestEasySignalOnRealText(t *testing.T) {
	pairs := loadPanda(t)
	rng := rand.New(rand.NewPCG(3, 3))
	var evs []schemas.Preference
	for i, p := range pairs {
		other := pairs[(i+len(pairs)/2)%len(pairs)]
		if other.prompt == p.prompt {
			continue
		}
		ev := schemas.Preference{EventID: fmt.Sprint(i), Prompt: p.prompt,
			ResponseA: p.a, ResponseB: other.b, Preference: 1}
		if rng.IntN(2) == 0 {
			ev.ResponseA, ev.ResponseB, ev.Preference = ev.ResponseB, ev.ResponseA, 0
		}
		evs = append(evs, ev)
	}
	m := newTestModel(t, DefaultConfig())
	half := len(evs) / 2
	learnAll(t, m, evs[:half], 64)
	st := learnAll(t, m, evs[half:], 64)
	acc := float64(st.Correct) / float64(st.Judged)
	t.Logf("on-topic vs off-topic: progressive accuracy %.3f over %d events, log-loss %.3f",
		acc, st.Judged, st.LogLoss)
	if acc < 0.75 {
		t.Errorf("progressive accuracy %.3f, want ≥ 0.75", acc)
	}
}

// TestHumanLabels measures progressive accuracy on PandaLM's human
// majority labels (ties excluded), shuffled. Most (prompt, model) pairs
// carry one fixed response that recurs in several comparisons, and the
// five models differ in quality, so a response-level model can beat
// chance; 0.62 is about seven standard errors above 0.5 at 855 events.
func TestHumanLabels(t *testing.T) {
	evs := shuffled(pandaEvents(loadPanda(t)), 5)
	m := newTestModel(t, DefaultConfig())
	st := learnAll(t, m, evs, 64)
	acc := float64(st.Correct) / float64(st.Judged)
	t.Logf("PandaLM human majority: progressive accuracy %.3f over %d judged, log-loss %.3f",
		acc, st.Judged, st.LogLoss)
	if acc < 0.62 {
		t.Errorf("progressive accuracy %.3f, want ≥ 0.62", acc)
	}
}

// TestFollowerLearnsToRefine: in one prompt with four answers, the
// preference labels say "good" beats every other answer. After training
// under the model payoff, the Follower must refine each weaker answer to
// "good" in one round and keep "good" itself, and the Leader must put more
// than uniform mass on "good".
func TestFollowerLearnsToRefine(t *testing.T) {
	answers := []string{
		"Paris is the capital of France.",
		"I think it might be Lyon, but I am not sure",
		"France",
		"The capital city is Marseille, which",
	}
	const prompt = "What is the capital of France?"
	var evs []schemas.Preference
	rng := rand.New(rand.NewPCG(8, 8))
	for i := range 1500 {
		j := 1 + rng.IntN(3)
		ev := schemas.Preference{EventID: fmt.Sprint(i), Prompt: prompt,
			ResponseA: answers[0], ResponseB: answers[j], Preference: 1}
		if i%2 == 1 {
			ev.ResponseA, ev.ResponseB, ev.Preference = answers[j], answers[0], 0
		}
		evs = append(evs, ev)
	}
	m := newTestModel(t, testConfig())
	learnAll(t, m, evs, 16)
	s := m.Snapshot()
	for i, a := range answers {
		var cands []string
		for j, c := range answers {
			if j != i {
				cands = append(cands, c)
			}
		}
		r := s.Refine(schemas.Response{Prompt: prompt, Response: a, Candidates: cands}, 5)
		if r.Text != answers[0] {
			t.Errorf("refine %q: got %q (%+v), want the preferred answer", a, r.Text, r)
		}
		if wantChanged := i != 0; r.Changed != wantChanged || r.Reason != ReasonKept {
			t.Errorf("refine %q: changed %v reason %q", a, r.Changed, r.Reason)
		}
	}
	pi := leaderPolicy(m, prompt)
	if pi[0] < 0.25+0.1 {
		t.Errorf("leader π(good) = %.3f, want > 0.35 (uniform 0.25)", pi[0])
	}
	t.Logf("leader policy %.3f", pi)
}

// leaderPolicy is π_θ over the remembered candidates of prompt, in the
// order of answers filed (the first answer filed is index 0).
func leaderPolicy(m *Model, prompt string) []float64 {
	ctx := m.contexts.get(promptKey("", prompt))
	g := m.scratch.build(m, ctx)
	return g.LeaderPolicy(make([]float64, g.N))
}

func TestRefineEdgeCases(t *testing.T) {
	m := newTestModel(t, testConfig())
	s := m.Snapshot()
	tests := []struct {
		name   string
		r      schemas.Response
		rounds int
		want   Refinement
	}{
		{"no candidates", schemas.Response{Prompt: "p", Response: "x"}, 3,
			Refinement{Text: "x", Reason: ReasonNoCandidates}},
		{"only duplicates", schemas.Response{Prompt: "p", Response: "x", Candidates: []string{"x", "x"}}, 3,
			Refinement{Text: "x", Reason: ReasonNoCandidates}},
		{"zero rounds", schemas.Response{Prompt: "p", Response: "x", Candidates: []string{"y"}}, 0,
			Refinement{Text: "x", Reason: ReasonMaxRounds}},
		// Untrained: all Follower logits are 0, ties go to "keep".
		{"untrained keeps", schemas.Response{Prompt: "p", Response: "x", Candidates: []string{"y", "z"}}, 3,
			Refinement{Text: "x", Rounds: 1, Prob: float32(1.0 / 3), Reason: ReasonKept}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := s.Refine(tt.r, tt.rounds); got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	cfg := testConfig()
	cfg.Encoder = EncoderColumn
	col := newTestModel(t, cfg).Snapshot()
	got := col.Refine(schemas.Response{Prompt: "p", Response: "x", Candidates: []string{"y"}}, 3)
	if got.Reason != ReasonNoFeatures || got.Text != "x" {
		t.Fatalf("column encoder without embedding: %+v", got)
	}
	if p := col.Prefer("p", "a", "b"); !math.IsNaN(p) {
		t.Fatalf("column Prefer without embeddings = %v, want NaN", p)
	}
}

// TestLearnRejectsBatchAtomically reads testdata/column_events.json: each
// bad event, appended to the good ones, must make Learn fail naming the
// problem and leave the model exactly as it was.
func TestLearnRejectsBatchAtomically(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "column_events.json"))
	if err != nil {
		t.Fatal(err)
	}
	var fx struct {
		Good []schemas.Preference
		Bad  []struct {
			Name, Want string
			Event      schemas.Preference
		}
	}
	if err := json.Unmarshal(raw, &fx); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	cfg.Encoder, cfg.Dim = EncoderColumn, 3
	m := newTestModel(t, cfg)
	if _, err := m.Learn(fx.Good); err != nil {
		t.Fatalf("good events: %v", err)
	}
	for _, tt := range fx.Bad {
		t.Run(tt.Name, func(t *testing.T) {
			before, _ := m.State()
			_, err := m.Learn(append(slices.Clone(fx.Good), tt.Event))
			if err == nil || !strings.Contains(err.Error(), tt.Want) {
				t.Fatalf("learn error %v, want one containing %q", err, tt.Want)
			}
			if after, _ := m.State(); !reflect.DeepEqual(before, after) {
				t.Fatal("rejected batch changed the model")
			}
		})
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m, err := New(testConfig(), nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	st := learnAll(t, m, pandaEvents(loadPanda(t)[:128]), 64)
	if got := testutil.ToFloat64(m.met.events); got != 128 {
		t.Errorf("events metric %v, want 128", got)
	}
	if got := testutil.ToFloat64(m.met.steps); got != float64(st.GDASteps) || got != 2 {
		t.Errorf("gda steps metric %v, stats %d, want 2", got, st.GDASteps)
	}
	if got := testutil.ToFloat64(m.met.version); got != 2 {
		t.Errorf("version metric %v, want 2", got)
	}
	if _, err := New(testConfig(), nil, reg); err == nil {
		t.Error("second registration on one registry succeeded")
	}
	if n, err := testutil.GatherAndCount(reg); err != nil || n < 10 {
		t.Errorf("gathered %d series, err %v", n, err)
	}
}

func copyState(t map[string][]float64, m map[string]string) (map[string][]float64, map[string]string) {
	t2, m2 := make(map[string][]float64, len(t)), make(map[string]string, len(m))
	for k, v := range t {
		t2[k] = clone(v)
	}
	for k, v := range m {
		m2[k] = v
	}
	return t2, m2
}

// FuzzRestore feeds corrupted metadata to Restore: it must return an
// error or succeed, never panic, and a failure must leave the model as it
// was.
func FuzzRestore(f *testing.F) {
	cfg := testConfig()
	cfg.Dim, cfg.Hidden, cfg.PrefRank = 8, 2, 1
	src, err := New(cfg, nil, nil)
	if err != nil {
		f.Fatal(err)
	}
	evs := []schemas.Preference{{EventID: "1", Prompt: "p", ResponseA: "a.", ResponseB: "b", Preference: 1}}
	if _, err := src.Learn(evs); err != nil {
		f.Fatal(err)
	}
	tensors, meta := src.State()
	keys := []string{keyContexts, keyTotals, keyRNG, keyTick, keySteps, keyPrefT, prefixGDA + "counters"}
	for i, k := range keys {
		f.Add(uint8(i), meta[k])
	}
	f.Fuzz(func(t *testing.T, which uint8, value string) {
		m, err := New(cfg, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		tt, mt := copyState(tensors, meta)
		mt[keys[int(which)%len(keys)]] = value
		before, _ := m.State()
		if err := m.Restore(tt, mt); err != nil {
			if after, _ := m.State(); !reflect.DeepEqual(before, after) {
				t.Fatal("failed restore changed the model")
			}
		}
	})
}
