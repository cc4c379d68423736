package game

import (
	"encoding/json"
	"errors"
	"os"
	"testing"
)

// TestAnalyzeFixture: p1 is a cycle (the extra tie on x–y leaves x ahead
// 1.5 to 0.5), p2 is transitive, p3 has a tie that breaks the cycle, p4
// has one pair and two rows that must be skipped. Aggregated, x wins 3.5
// of its 5 comparisons with y (the extra p1 row counts too).
func TestAnalyzeFixture(t *testing.T) {
	data, err := os.ReadFile("testdata/comparisons.json")
	if err != nil {
		t.Fatal(err)
	}
	var cs []Comparison
	if err := json.Unmarshal(data, &cs); err != nil {
		t.Fatal(err)
	}
	a, err := Analyze(cs, DefaultAnalyzeOptions())
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want int
	}{
		{"comparisons", a.Comparisons, 11},
		{"skipped", a.Skipped, 2},
		{"prompts", a.Prompts, 4},
		{"prompts with triad", a.PromptsWithTriad, 3},
		{"triads", a.Triads, 3},
		{"cyclic triads", a.CyclicTriads, 1},
		{"cyclic prompts", a.CyclicPrompts, 1},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
	if a.PerPrompt[0].Cycles[0] != [3]string{"x", "y", "z"} {
		t.Errorf("p1 cycle = %v, want x ≻ y ≻ z", a.PerPrompt[0].Cycles)
	}
	near(t, "aggregated p(x ≻ y)", a.P[0][1], 3.5/5, 1e-12)
	near(t, "Σ π_slhf", a.SLHF.Leader[0]+a.SLHF.Leader[1]+a.SLHF.Leader[2], 1, 1e-12)
	if len(a.RLHFPolicy) != 3 || a.Nash.Gap > 1e-12 {
		t.Errorf("RLHF policy %v, Nash gap %g", a.RLHFPolicy, a.Nash.Gap)
	}

	if _, err := Analyze(cs[11:], DefaultAnalyzeOptions()); !errors.Is(err, ErrNoComparisons) {
		t.Errorf("only skipped rows: err = %v, want ErrNoComparisons", err)
	}
}
