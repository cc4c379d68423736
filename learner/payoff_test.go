package learner

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/slhf-dev/slhf/schemas"
)

func TestPayoffColumns(t *testing.T) {
	tests := []struct {
		s          float64
		prob, clip float64 // expected columns
	}{
		{0, 0, 0},
		{2, 4 * (sigmoid(2) - 0.5), 1},
		{-2, -4 * (sigmoid(2) - 0.5), -1},
		{20, 4 * (sigmoid(20) - 0.5), 4},
		{-50, 4 * (sigmoid(-50) - 0.5), -4},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.s), func(t *testing.T) {
			dst := make([]float64, numPayoffColumns)
			payoffColumns(dst, tt.s)
			assertClose(t, "columns", dst, []float64{tt.prob, tt.clip}, 1e-15)
		})
	}
	on, off := featurizer{enc: HashEncoder{D: 16}, payoff: true}, featurizer{enc: HashEncoder{D: 16}}
	if d := on.followerWidth() - off.followerWidth(); d != numPayoffColumns {
		t.Fatalf("payoff input widens u by %d, want %d", d, numPayoffColumns)
	}
}

// payoffGame trains a small model with the payoff input on a few PandaLM
// prompts and returns it with a context of at least three candidates.
func payoffGame(t *testing.T, autodiff string) (*Model, *context) {
	t.Helper()
	cfg := testConfig()
	cfg.Dim, cfg.Hidden, cfg.Autodiff = 12, 3, autodiff
	cfg.FollowerPayoffInput = true
	m := newTestModel(t, cfg)
	learnAll(t, m, pandaEvents(loadPanda(t)[:200]), 32)
	for _, c := range m.contexts.oldestFirst() {
		if len(c.cands) >= 3 {
			return m, c
		}
	}
	t.Fatal("no context with three candidates")
	return nil, nil
}

// TestPayoffInputInGame: the Follower rows of a built game carry the
// preference model's own logit in their payoff columns, zero for "keep",
// antisymmetric under a swap of y and y'.
func TestPayoffInputInGame(t *testing.T) {
	m, ctx := payoffGame(t, AutodiffPlain)
	g := m.scratch.build(m, ctx)
	n, fw := g.N, m.follower.in
	col := func(i, j int) []float64 {
		return m.scratch.xF[(i*n+j+1)*fw-numPayoffColumns : (i*n+j+1)*fw]
	}
	want := make([]float64, numPayoffColumns)
	var moved float64
	for i := range n {
		for j := range n {
			s := m.pref.logit(ctx.cands[i].z, ctx.cands[j].z, m.pref.proj)
			payoffColumns(want, s)
			assertClose(t, fmt.Sprintf("columns (%d,%d)", i, j), col(i, j), want, 0)
			assertClose(t, fmt.Sprintf("swap (%d,%d)", i, j), col(i, j),
				[]float64{-col(j, i)[0], -col(j, i)[1]}, 1e-12)
			if i == j && (col(i, j)[0] != 0 || col(i, j)[1] != 0) {
				t.Fatalf("keep row (%d) has payoff columns %v, want 0", i, col(i, j))
			}
			moved = math.Max(moved, math.Abs(col(i, j)[0]))
		}
	}
	if moved < 1e-3 {
		t.Fatalf("payoff columns at most %.3g: the preference model did not move", moved)
	}
}

// TestPayoffInputGradients: with the payoff columns in u, both back ends
// still return Σ_r dF_r·∂t_φ(u_r)/∂φ as central finite differences give
// it, for the upstream gradients gda computes on a real game, and the
// weights reading the payoff columns get a non-zero gradient.
func TestPayoffInputGradients(t *testing.T) {
	for _, ad := range []string{AutodiffGorgonia, AutodiffPlain} {
		t.Run(ad, func(t *testing.T) {
			m, ctx := payoffGame(t, ad)
			g := m.scratch.build(m, ctx)
			rows := g.N * g.N
			m.grads.follower.reset()
			m.scratch.dF = resize(m.scratch.dF, rows)
			for r := range m.scratch.dF { // any upstream will do; keep it reproducible
				m.scratch.dF[r] = math.Sin(float64(r) + 0.5)
			}
			if err := m.grads.follower.add(m.scratch.xF, rows, m.scratch.dF); err != nil {
				t.Fatal(err)
			}
			if err := m.grads.follower.flush(); err != nil {
				t.Fatal(err)
			}
			got := m.grads.follower.grad
			fd := finiteDifference(m.follower, m.phi, m.scratch.xF, m.scratch.dF, rows)
			assertClose(t, ad, got, fd, 1e-6)
			w1, _, _, _ := m.follower.split(got)
			var payoffRows float64
			for r := m.follower.in - numPayoffColumns; r < m.follower.in; r++ {
				for h := range m.follower.hidden {
					payoffRows = math.Max(payoffRows, math.Abs(w1[r*m.follower.hidden+h]))
				}
			}
			if payoffRows == 0 {
				t.Fatal("no gradient reaches the weights of the payoff columns")
			}
		})
	}
}

// payoffToyEvents: on each prompt a complete answer beats a refusal and a
// cut-off answer. Every prompt has its own words, so only the response
// properties carry over between prompts.
func payoffToyEvents(prompts []string) []schemas.Preference {
	var evs []schemas.Preference
	rng := rand.New(rand.NewPCG(3, 3))
	for k, p := range prompts {
		ans := payoffToyAnswers(p)
		for r := range 12 {
			j := 1 + rng.IntN(2)
			ev := schemas.Preference{EventID: fmt.Sprint(k, "-", r), Prompt: p,
				ResponseA: ans[0], ResponseB: ans[j], Preference: 1}
			if r%2 == 1 {
				ev.ResponseA, ev.ResponseB, ev.Preference = ans[j], ans[0], 0
			}
			evs = append(evs, ev)
		}
	}
	return evs
}

func payoffToyAnswers(prompt string) []string {
	return []string{
		"Here is a full answer about " + prompt + ", with the steps explained in order.",
		"I'm sorry, but I cannot help with " + prompt + ".",
		"Well, about " + prompt + " the first thing to",
	}
}

// TestRefineFollowsPayoffModel: after one batch of toy prompts, hence a
// single GDA step, refining each answer to prompts never seen in training
// must land on the preference model's favourite, argmax_y' p(y' ≻ y)
// (the complete answer), with the payoff input. Without it the figure is
// only logged: one Adam step already gets 20 to 24 of the 24 cases right
// depending on the seed, so this toy cannot show the gap the dev split
// shows (dev_test.go); it checks that the payoff input reaches the choice.
func TestRefineFollowsPayoffModel(t *testing.T) {
	var train, unseen []string
	for i := range 60 {
		train = append(train, fmt.Sprintf("topic%c%c question %d", 'a'+i%26, 'a'+i/26, i))
	}
	for i := range 8 {
		unseen = append(unseen, fmt.Sprintf("subject%c%c query %d", 'k'+i, 'q'+i, 100+i))
	}
	for _, on := range []bool{true, false} {
		t.Run(fmt.Sprint("payoff input ", on), func(t *testing.T) {
			cfg := testConfig()
			cfg.FollowerPayoffInput = on
			m := newTestModel(t, cfg)
			evs := payoffToyEvents(train)
			if st := learnAll(t, m, evs, len(evs)); st.GDASteps != 1 {
				t.Fatalf("%d GDA steps, want 1", st.GDASteps)
			}
			s := m.Snapshot()
			agree, total := 0, 0
			for _, p := range unseen {
				ans := payoffToyAnswers(p)
				for i := range ans {
					cands := append(append([]string(nil), ans[:i]...), ans[i+1:]...)
					r := s.Refine(schemas.Response{Prompt: p, Response: ans[i],
						Candidates: cands}, 3)
					best := favourite(s, p, ans, i)
					if best != ans[0] {
						t.Fatalf("preference model's favourite from %q is %q: toy ambiguous",
							ans[i], best)
					}
					total++
					if r.Text == best {
						agree++
					}
				}
			}
			t.Logf("refine agrees with the preference model on %d of %d", agree, total)
			if on && agree != total {
				t.Fatalf("refine agreed on %d of %d unseen cases, want all", agree, total)
			}
		})
	}
}

// favourite is the preference model's best switch from ans[i]: the answer
// y' maximising p(y' ≻ y), or ans[i] itself when none beats it.
func favourite(s *Snapshot, prompt string, ans []string, i int) string {
	best, bestP := ans[i], 0.5
	for j, a := range ans {
		if p := s.Prefer(prompt, a, ans[i]); j != i && p > bestP {
			best, bestP = a, p
		}
	}
	return best
}
