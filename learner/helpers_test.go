package learner

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/slhf-dev/slhf/schemas"
)

// pandaPath is the bundled copy of the PandaLM human-labelled test set
// (Apache-2.0, see data/pandalm/LICENSE).
var pandaPath = filepath.Join("..", "data", "pandalm", "testset-v1.json")

// pandaRow is one row of testset-v1.json. Six responses are JSON booleans,
// hence RawMessage.
type pandaRow struct {
	Idx         int             `json:"idx"`
	CmpKey      string          `json:"cmp_key"`
	Instruction string          `json:"instruction"`
	Input       string          `json:"input"`
	Response1   json.RawMessage `json:"response1"`
	Response2   json.RawMessage `json:"response2"`
	A1          int             `json:"annotator1"`
	A2          int             `json:"annotator2"`
	A3          int             `json:"annotator3"`
}

// pandaPair is a usable row: both responses are strings.
type pandaPair struct {
	prompt, a, b string
	label        float32 // majority P(a ≻ b): 1, 0 or 0.5
}

// loadPanda reads the bundled PandaLM rows, skipping the test when the
// file is absent.
func loadPanda(tb testing.TB) []pandaPair {
	tb.Helper()
	raw, err := os.ReadFile(pandaPath)
	if err != nil {
		tb.Skipf("pandalm data not available: %v", err)
	}
	var rows []pandaRow
	if err := json.Unmarshal(raw, &rows); err != nil {
		tb.Fatalf("decode %s: %v", pandaPath, err)
	}
	var out []pandaPair
	for _, r := range rows {
		var a, b string
		if json.Unmarshal(r.Response1, &a) != nil || json.Unmarshal(r.Response2, &b) != nil {
			continue
		}
		if a == "" || b == "" || a == b {
			continue
		}
		prompt := r.Instruction
		if r.Input != "" {
			prompt += "\n\n" + r.Input
		}
		out = append(out, pandaPair{prompt: prompt, a: a, b: b, label: majority(r.A1, r.A2, r.A3)})
	}
	return out
}

// majority maps the annotators' votes (1 = first better, 2 = second,
// 0 = tie) to P(a ≻ b).
func majority(votes ...int) float32 {
	var one, two int
	for _, v := range votes {
		switch v {
		case 1:
			one++
		case 2:
			two++
		}
	}
	switch {
	case one > two:
		return 1
	case two > one:
		return 0
	}
	return 0.5
}

// pandaEvents turns pairs into preference events with their human labels.
func pandaEvents(pairs []pandaPair) []schemas.Preference {
	evs := make([]schemas.Preference, len(pairs))
	for i, p := range pairs {
		evs[i] = schemas.Preference{EventID: fmt.Sprintf("panda-%d", i), Prompt: p.prompt,
			ResponseA: p.a, ResponseB: p.b, Preference: p.label}
	}
	return evs
}

// learnAll feeds events in batches and returns the summed stats.
func learnAll(tb testing.TB, m *Model, evs []schemas.Preference, batch int) LearnStats {
	tb.Helper()
	var sum LearnStats
	for len(evs) > 0 {
		n := min(batch, len(evs))
		st, err := m.Learn(evs[:n])
		if err != nil {
			tb.Fatalf("learn: %v", err)
		}
		sum.Events += st.Events
		sum.Judged += st.Judged
		sum.Correct += st.Correct
		sum.LogLoss += st.LogLoss * float64(st.Events)
		sum.GDASteps += st.GDASteps
		evs = evs[n:]
	}
	if sum.Events > 0 {
		sum.LogLoss /= float64(sum.Events)
	}
	return sum
}

// testConfig is DefaultConfig made smaller so tests stay quick.
func testConfig() Config {
	c := DefaultConfig()
	c.Dim, c.Hidden = 64, 8
	return c
}

func newTestModel(tb testing.TB, cfg Config) *Model {
	tb.Helper()
	m, err := New(cfg, nil, nil)
	if err != nil {
		tb.Fatalf("new model: %v", err)
	}
	tb.Cleanup(func() { m.Close() })
	return m
}

func shuffled[T any](v []T, seed uint64) []T {
	out := append([]T(nil), v...)
	rng := rand.New(rand.NewPCG(seed, 1))
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}
