package game

import (
	"errors"
	"fmt"
	"slices"
)

// ErrNoComparisons is returned by [Analyze] when no comparison names two
// distinct models.
var ErrNoComparisons = errors.New("no comparison between two distinct models")

// Comparison is one pairwise judgement: on Prompt, P(ModelA ≻ ModelB) =
// Pref, with 0.5 for a tie and 1 when A won outright. Prompt is the
// grouping key (a prompt id or the prompt text).
type Comparison struct {
	Prompt, ModelA, ModelB string
	Pref                   float64
}

// AnalyzeOptions configures [Analyze]. The zero value is not usable:
// start from [DefaultAnalyzeOptions].
type AnalyzeOptions struct {
	// TauLeader and TauFollower are the SLHF temperatures (> 0); the
	// RLHF policy uses TauLeader too.
	TauLeader, TauFollower float64
	// Ridge is the Bradley–Terry ridge penalty (> 0).
	Ridge float64
}

// DefaultAnalyzeOptions returns τ_L = τ_F = 0.1 and [DefaultRidge]:
// temperatures at the scale of win-rate differences between models, so
// that the three policies are readable rather than one-hot.
func DefaultAnalyzeOptions() AnalyzeOptions {
	return AnalyzeOptions{TauLeader: 0.1, TauFollower: 0.1, Ridge: DefaultRidge}
}

// PromptCycles describes the intransitivity within one prompt.
type PromptCycles struct {
	Prompt string
	// Triads counts model triples whose three pairs were all compared on
	// this prompt; CyclicTriads those whose majorities form a cycle.
	Triads, CyclicTriads int
	// Cycles lists the cyclic triads as model names a ≻ b ≻ c ≻ a.
	Cycles [][3]string
}

// Analysis is the result of [Analyze].
type Analysis struct {
	// Comparisons counts the comparisons used; Skipped those without two
	// distinct model names.
	Comparisons, Skipped int
	// Prompts counts distinct prompts; PromptsWithTriad those with at
	// least one complete triad; CyclicPrompts those with a cycle.
	Prompts, PromptsWithTriad, CyclicPrompts int
	// Triads and CyclicTriads are summed over prompts.
	Triads, CyclicTriads int
	// PerPrompt holds every prompt with a complete triad, sorted by
	// prompt key.
	PerPrompt []PromptCycles

	// Models are the model names, sorted; the indices below refer to it.
	Models []string
	// Wins[i][j] sums Pref over all comparisons of i with j (ties count
	// ½ to each side), aggregated over prompts.
	Wins [][]float64
	// P is the aggregated win matrix Wins[i][j] / (Wins[i][j] + Wins[j][i]),
	// ½ for pairs never compared.
	P [][]float64
	// Cycles and Condorcet describe the majority graph of P; Condorcet
	// is −1 when there is no Condorcet winner.
	Cycles    [][3]int
	Condorcet int

	// SLHF, Nash, RegularizedNash, BradleyTerry and RLHFPolicy are the
	// solution concepts over the models: SLHF from P with the options'
	// temperatures, Nash exactly from P, RegularizedNash with τ_L, the
	// Bradley–Terry fit from Wins and the policy ∝ exp(r/τ_L).
	SLHF            SLHF
	Nash            Nash
	RegularizedNash Nash
	BradleyTerry    BradleyTerry
	RLHFPolicy      []float64
}

// Analyze groups comparisons by prompt, counts complete and cyclic
// triads per prompt (majority of Pref averaged over the prompt's
// comparisons of a pair), then aggregates all comparisons by model and
// solves the game with all three concepts. Comparisons whose models are
// empty or equal are skipped and counted. It returns [ErrNoComparisons]
// when nothing is left and wraps a solver's error otherwise. The
// options are assumed valid (positive temperatures and ridge); Analyze
// panics otherwise.
func Analyze(cs []Comparison, opt AnalyzeOptions) (Analysis, error) {
	var a Analysis
	kept := make([]Comparison, 0, len(cs))
	for _, c := range cs {
		if c.ModelA == "" || c.ModelB == "" || c.ModelA == c.ModelB {
			a.Skipped++
			continue
		}
		kept = append(kept, c)
	}
	if len(kept) == 0 {
		return a, ErrNoComparisons
	}
	a.Comparisons = len(kept)
	a.perPrompt(kept)
	a.aggregate(kept)
	if err := a.solve(opt); err != nil {
		return a, err
	}
	return a, nil
}

// perPrompt fills the per-prompt triad counts.
func (a *Analysis) perPrompt(cs []Comparison) {
	groups := map[string][]Comparison{}
	for _, c := range cs {
		groups[c.Prompt] = append(groups[c.Prompt], c)
	}
	a.Prompts = len(groups)
	keys := make([]string, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		pc := promptCycles(k, groups[k])
		if pc.Triads == 0 {
			continue
		}
		a.PromptsWithTriad++
		a.Triads += pc.Triads
		a.CyclicTriads += pc.CyclicTriads
		if pc.CyclicTriads > 0 {
			a.CyclicPrompts++
		}
		a.PerPrompt = append(a.PerPrompt, pc)
	}
}

// promptCycles builds one prompt's mean-preference matrix and inspects
// every triple of its models.
func promptCycles(prompt string, cs []Comparison) PromptCycles {
	models, wins, seen := tally(cs)
	n := len(models)
	p := winRates(wins)
	pc := PromptCycles{Prompt: prompt}
	for i := range n {
		for j := i + 1; j < n; j++ {
			for k := j + 1; k < n; k++ {
				if !seen[i][j] || !seen[j][k] || !seen[i][k] {
					continue
				}
				pc.Triads++
				if c, ok := triadCycle(p, i, j, k); ok {
					pc.CyclicTriads++
					pc.Cycles = append(pc.Cycles, [3]string{models[c[0]], models[c[1]], models[c[2]]})
				}
			}
		}
	}
	return pc
}

// triadCycle reports whether i < j < k form a majority cycle, and the
// cycle in winner order starting at i.
func triadCycle(p [][]float64, i, j, k int) ([3]int, bool) {
	switch {
	case Beats(p, i, j) && Beats(p, j, k) && Beats(p, k, i):
		return [3]int{i, j, k}, true
	case Beats(p, i, k) && Beats(p, k, j) && Beats(p, j, i):
		return [3]int{i, k, j}, true
	}
	return [3]int{}, false
}

// tally returns the sorted model names, the win sums and which pairs
// were compared at all.
func tally(cs []Comparison) ([]string, [][]float64, [][]bool) {
	var models []string
	for _, c := range cs {
		models = append(models, c.ModelA, c.ModelB)
	}
	slices.Sort(models)
	models = slices.Compact(models)
	idx := make(map[string]int, len(models))
	for i, m := range models {
		idx[m] = i
	}
	wins, seen := square(len(models)), make([][]bool, len(models))
	for i := range seen {
		seen[i] = make([]bool, len(models))
	}
	for _, c := range cs {
		i, j := idx[c.ModelA], idx[c.ModelB]
		wins[i][j] += c.Pref
		wins[j][i] += 1 - c.Pref
		seen[i][j], seen[j][i] = true, true
	}
	return models, wins, seen
}

// winRates returns w_ij / (w_ij + w_ji), ½ on the diagonal and for pairs
// with no comparisons.
func winRates(wins [][]float64) [][]float64 {
	p := square(len(wins))
	for i := range wins {
		for j := range wins {
			if tot := wins[i][j] + wins[j][i]; i != j && tot > 0 {
				p[i][j] = wins[i][j] / tot
			} else {
				p[i][j] = 0.5
			}
		}
	}
	return p
}

func square(n int) [][]float64 {
	m := make([][]float64, n)
	for i := range m {
		m[i] = make([]float64, n)
	}
	return m
}

// aggregate fills the model-level matrices.
func (a *Analysis) aggregate(cs []Comparison) {
	a.Models, a.Wins, _ = tally(cs)
	a.P = winRates(a.Wins)
	a.Cycles = Cycles(a.P)
	a.Condorcet = -1
	if w, ok := CondorcetWinner(a.P); ok {
		a.Condorcet = w
	}
}

// solve computes the three solution concepts on the aggregated game.
func (a *Analysis) solve(opt AnalyzeOptions) error {
	a.SLHF = SolveSLHF(a.P, opt.TauLeader, opt.TauFollower, nil, nil)
	a.Nash = SolveNash(a.P)
	rn, err := RegularizedNash(a.P, opt.TauLeader, nil, 1e-6, 1_000_000)
	if err != nil {
		return fmt.Errorf("regularised nash: %w", err)
	}
	a.RegularizedNash = rn
	bt, err := FitBradleyTerry(a.Wins, opt.Ridge)
	if err != nil {
		return fmt.Errorf("bradley-terry fit: %w", err)
	}
	a.BradleyTerry = bt
	a.RLHFPolicy = RewardPolicy(bt.Rewards, opt.TauLeader, nil)
	return nil
}
