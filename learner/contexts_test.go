package learner

import (
	"fmt"
	"slices"
	"testing"
)

func TestCandidateEviction(t *testing.T) {
	tests := []struct {
		name string
		adds []string // texts filed in order, one tick each
		max  int
		want []string // C(x) afterwards, in slot order
	}{
		{"fills", []string{"a", "b", "c"}, 3, []string{"a", "b", "c"}},
		{"duplicate refreshes", []string{"a", "b", "a", "c"}, 3, []string{"a", "b", "c"}},
		{"evicts least recent", []string{"a", "b", "c", "d"}, 3, []string{"d", "b", "c"}},
		{"refresh protects", []string{"a", "b", "c", "a", "d"}, 3, []string{"a", "d", "c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &context{}
			for i, text := range tt.adds {
				c.add(text, nil, uint64(i+1), tt.max)
			}
			var got []string
			for _, cd := range c.cands {
				got = append(got, cd.text)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("C(x) = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestContextCacheLRU(t *testing.T) {
	cc := newContextCache(2)
	for _, k := range []string{"a", "b"} {
		cc.put(&context{key: k})
	}
	cc.get("a") // a is now the most recent, b the oldest
	cc.put(&context{key: "c"})
	if cc.peek("b") != nil || cc.peek("a") == nil || cc.peek("c") == nil {
		t.Fatal("LRU did not evict the least recently used prompt")
	}
	var order []string
	for _, c := range cc.oldestFirst() {
		order = append(order, c.key)
	}
	if !slices.Equal(order, []string{"a", "c"}) {
		t.Fatalf("oldest first = %q", order)
	}
}

// TestMultiCandidateGames: PandaLM compares up to five models' answers per
// prompt, so filing its events must build candidate sets larger than a
// pair, which is what makes the game more than a coin flip.
func TestMultiCandidateGames(t *testing.T) {
	m := newTestModel(t, testConfig())
	learnAll(t, m, pandaEvents(loadPanda(t)), 64)
	sizes := map[int]int{}
	for _, c := range m.contexts.oldestFirst() {
		sizes[len(c.cands)]++
	}
	big := 0
	for n, k := range sizes {
		if n >= 3 {
			big += k
		}
	}
	t.Logf("candidate-set sizes: %v", sizes)
	if big < 100 {
		t.Fatalf("%d prompts with ≥ 3 candidates, want ≥ 100 of 170", big)
	}
	if got := promptKey("", "x"); got == promptKey("", "y") || got != promptKey("", "x") {
		t.Fatal(fmt.Sprint("prompt keys are not a function of the text: ", got))
	}
}
