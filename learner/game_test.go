package learner

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/slhf-dev/slhf/schemas"
)

func ptr[T any](v T) *T { return &v }

// TestLabelsPayoffSelection: under the labels payoff only events that log
// a leader/follower pair with behaviour probabilities, fresh enough and
// reweightable, train the policies.
func TestLabelsPayoffSelection(t *testing.T) {
	logged := func(edit func(*schemas.Preference)) schemas.Preference {
		ev := schemas.Preference{EventID: "e", Prompt: "q", ResponseA: "one.", ResponseB: "two.",
			Preference: 1, RoleA: schemas.RoleLeader, RoleB: schemas.RoleFollower,
			ProbA: ptr(float32(0.5)), ProbB: ptr(float32(0.5)), PolicyVersion: ptr(int64(0))}
		if edit != nil {
			edit(&ev)
		}
		return ev
	}
	tests := []struct {
		name           string
		ev             schemas.Preference
		steps, skipped int
	}{
		{"on-policy pair", logged(nil), 1, 0},
		{"roles swapped", logged(func(e *schemas.Preference) {
			e.RoleA, e.RoleB = schemas.RoleFollower, schemas.RoleLeader
		}), 1, 0},
		{"no probabilities", logged(func(e *schemas.Preference) { e.ProbA = nil }), 0, 0},
		{"external role", logged(func(e *schemas.Preference) { e.RoleB = schemas.RoleExternal }), 0, 0},
		{"zero behaviour", logged(func(e *schemas.Preference) { e.ProbB = ptr(float32(0)) }), 0, 1},
		{"stale", logged(func(e *schemas.Preference) { e.PolicyVersion = ptr(int64(-10)) }), 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.Payoff, cfg.GDA.Estimator, cfg.GDA.MaxStaleness = PayoffLabels, "sampled", 3
			m := newTestModel(t, cfg)
			st, err := m.Learn([]schemas.Preference{tt.ev})
			if err != nil {
				t.Fatal(err)
			}
			if st.GDASteps != tt.steps || st.Skipped != tt.skipped {
				t.Fatalf("steps %d skipped %d, want %d and %d", st.GDASteps, st.Skipped, tt.steps, tt.skipped)
			}
			if st.Events != 1 || st.Judged != 1 {
				t.Fatalf("preference model did not see the event: %+v", st)
			}
		})
	}
}

// TestLabelsPayoffLearnsToRefine: logged on-policy play where the humans
// always prefer "good". When the Leader served a weaker answer and the
// Follower moved to "good", P(leader ≻ follower) = 0; when the Follower
// moved away from "good", P = 1. The sampled estimator alone must teach
// the Follower to refine every weaker answer to "good".
func TestLabelsPayoffLearnsToRefine(t *testing.T) {
	answers := []string{"Water boils at 100 °C at sea level.", "It boils at 50 degrees",
		"Hot", "Water does not boil"}
	const prompt = "At what temperature does water boil?"
	rng := rand.New(rand.NewPCG(4, 4))
	var evs []schemas.Preference
	for i := range 3000 {
		y, y2 := rng.IntN(4), rng.IntN(4)
		if y == y2 {
			continue
		}
		p := float32(0)
		if y == 0 {
			p = 1
		} else if y2 != 0 {
			p = 0.5
		}
		evs = append(evs, schemas.Preference{EventID: fmt.Sprint(i), Prompt: prompt,
			ResponseA: answers[y], ResponseB: answers[y2], Preference: p,
			RoleA: schemas.RoleLeader, RoleB: schemas.RoleFollower,
			ProbA: ptr(float32(0.25)), ProbB: ptr(float32(1.0 / 3))})
	}
	cfg := testConfig()
	cfg.Payoff, cfg.GDA.Estimator = PayoffLabels, "sampled"
	m := newTestModel(t, cfg)
	st := learnAll(t, m, evs, 16)
	if st.GDASteps == 0 {
		t.Fatal("no GDA step")
	}
	s := m.Snapshot()
	for i := 1; i < len(answers); i++ {
		r := s.Refine(schemas.Response{Prompt: prompt, Response: answers[i], Candidates: answers}, 4)
		if r.Text != answers[0] {
			t.Errorf("refine %q: got %+v, want the preferred answer", answers[i], r)
		}
	}
}

// TestGameStepsAndReplay: a batch touching one prompt takes GameSteps GDA
// steps, each over that context plus ReplayContexts others from the
// cache; without replay, only the touched context plays.
func TestGameStepsAndReplay(t *testing.T) {
	pairs := loadPanda(t)
	tests := []struct {
		name                   string
		steps, replay          int
		wantSteps, wantContext int
	}{
		{"default", 1, 0, 1, 1},
		{"three steps", 3, 0, 3, 1},
		{"replay", 2, 5, 2, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.GameSteps, cfg.ReplayContexts = tt.steps, tt.replay
			m := newTestModel(t, cfg)
			learnAll(t, m, pandaEvents(pairs[:200]), 50)
			v := m.Version()
			p := pairs[300]
			st, err := m.Learn([]schemas.Preference{{EventID: "x", Prompt: p.prompt,
				ResponseA: p.a, ResponseB: p.b, Preference: p.label}})
			if err != nil {
				t.Fatal(err)
			}
			if st.GDASteps != tt.wantSteps || m.Version() != v+int64(tt.wantSteps) {
				t.Errorf("GDA steps %d, version %d → %d; want %d steps", st.GDASteps, v,
					m.Version(), tt.wantSteps)
			}
			if st.Contexts != tt.wantContext {
				t.Errorf("contexts per step %d, want %d", st.Contexts, tt.wantContext)
			}
		})
	}
}
