package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/slhf-dev/slhf/learner/game"
	"github.com/slhf-dev/slhf/schemas/datasets"
)

// analyzeOptions are the flags of `slhf analyze`.
type analyzeOptions struct {
	matrix, data, format   string
	tauLeader, tauFollower float64
	json                   bool
}

func newAnalyzeCmd() *cobra.Command {
	o := analyzeOptions{}
	def := game.DefaultAnalyzeOptions()
	cmd := &cobra.Command{
		Use:   "analyze (--matrix FILE | --data FILE --format NAME)",
		Short: "Cycles, Condorcet winner and the RLHF, NLHF and SLHF solutions of preference data",
		Long: "analyze reads a preference matrix (JSON {\"actions\": [...], \"p\": [[...]]} with\n" +
			"p[i][j] = P(i ≻ j)) or a public preference dataset, and prints its majority cycles,\n" +
			"its Condorcet winner and three solution concepts side by side: SLHF (closed-form\n" +
			"Stackelberg equilibrium), NLHF (exact Nash equilibrium by linear programming) and\n" +
			"RLHF (Bradley–Terry rewards and the policy ∝ exp(r/τ_L)).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runAnalyze(cmd.OutOrStdout(), o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.matrix, "matrix", "", "JSON preference matrix file")
	f.StringVar(&o.data, "data", "", "preference dataset file or folder")
	f.StringVar(&o.format, "format", "", "dataset format for --data: "+formatNames())
	f.Float64Var(&o.tauLeader, "tau-leader", def.TauLeader,
		"Leader temperature τ_L (> 0), also the RLHF and regularised NLHF τ")
	f.Float64Var(&o.tauFollower, "tau-follower", def.TauFollower, "Follower temperature τ_F (> 0)")
	f.BoolVar(&o.json, "json", false, "print one JSON object instead of tables")
	return cmd
}

func formatNames() string {
	var names []string
	for _, f := range datasets.Formats() {
		names = append(names, string(f))
	}
	return strings.Join(names, ", ")
}

// runAnalyze validates the flags, runs the analysis and prints it.
func runAnalyze(w io.Writer, o analyzeOptions) error {
	if (o.matrix == "") == (o.data == "") {
		return errors.New("analyze: give exactly one of --matrix or --data")
	}
	if !(o.tauLeader > 0) || !(o.tauFollower > 0) {
		return errors.New("analyze: --tau-leader and --tau-follower must be > 0")
	}
	opt := game.DefaultAnalyzeOptions()
	opt.TauLeader, opt.TauFollower = o.tauLeader, o.tauFollower
	rep, err := buildReport(o, opt)
	if err != nil {
		return fmt.Errorf("analyze: %w", err)
	}
	if o.json {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return rep.writeText(w)
}

func buildReport(o analyzeOptions, opt game.AnalyzeOptions) (*report, error) {
	if o.matrix != "" {
		m, err := readMatrixFile(o.matrix)
		if err != nil {
			return nil, err
		}
		return matrixReport(m, opt)
	}
	return dataReport(o.data, o.format, opt)
}

// matrixFile is the JSON layout of --matrix.
type matrixFile struct {
	Actions []string    `json:"actions"`
	P       [][]float64 `json:"p"`
}

func readMatrixFile(path string) (matrixFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return matrixFile{}, fmt.Errorf("read matrix: %w", err)
	}
	m, err := decodeMatrix(data)
	if err != nil {
		return matrixFile{}, fmt.Errorf("matrix %s: %w", path, err)
	}
	return m, nil
}

// decodeMatrix parses and validates a matrix file: strict JSON (unknown
// keys and trailing data are errors), distinct non-empty action names,
// one row and column per action, entries in [0, 1] with p + pᵀ = 1.
func decodeMatrix(data []byte) (matrixFile, error) {
	var m matrixFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return m, fmt.Errorf("decode json: %w", err)
	}
	if dec.More() {
		return m, errors.New("decode json: trailing data after the object")
	}
	if len(m.Actions) != len(m.P) {
		return m, fmt.Errorf("%d actions but %d rows", len(m.Actions), len(m.P))
	}
	seen := map[string]bool{}
	for i, a := range m.Actions {
		if a == "" || seen[a] {
			return m, fmt.Errorf("action %d: name %q is empty or repeated", i, a)
		}
		seen[a] = true
	}
	if err := game.Validate(m.P); err != nil {
		return m, fmt.Errorf("invalid p: %w", err)
	}
	return m, nil
}

// report is what analyze prints; its JSON form is the --json output.
type report struct {
	Actions   []string    `json:"actions"`
	P         [][]float64 `json:"p"`
	Condorcet *string     `json:"condorcet_winner"`
	Cycles    [][3]string `json:"cycles"`
	SLHF      slhfReport  `json:"slhf"`
	NLHF      nlhfReport  `json:"nlhf"`
	RLHF      rlhfReport  `json:"rlhf"`
	Data      *dataStats  `json:"data,omitempty"`
}

type slhfReport struct {
	TauLeader   float64     `json:"tau_leader"`
	TauFollower float64     `json:"tau_follower"`
	Leader      []float64   `json:"leader"`
	Follower    [][]float64 `json:"follower"`
	Value       []float64   `json:"value"`
	Maximin     []string    `json:"maximin"`
}

type nlhfReport struct {
	Policy      []float64 `json:"policy"`
	Regularized []float64 `json:"regularized"`
	Tau         float64   `json:"tau"`
}

type rlhfReport struct {
	Rewards []float64 `json:"rewards"`
	Policy  []float64 `json:"policy"`
	Tau     float64   `json:"tau"`
}

// dataStats is the per-prompt part of a --data report.
type dataStats struct {
	Comparisons      int              `json:"comparisons"`
	Skipped          int              `json:"skipped"`
	Prompts          int              `json:"prompts"`
	PromptsWithTriad int              `json:"prompts_with_triad"`
	Triads           int              `json:"triads"`
	CyclicTriads     int              `json:"cyclic_triads"`
	CyclicPrompts    int              `json:"cyclic_prompts"`
	PromptCycles     []promptCycleRow `json:"prompt_cycles"`
}

type promptCycleRow struct {
	Prompt string      `json:"prompt"`
	Cycles [][3]string `json:"cycles"`
}

// matrixReport solves a matrix game. The RLHF rewards come from treating
// p[i][j] as the share of one comparison i won against j.
func matrixReport(m matrixFile, opt game.AnalyzeOptions) (*report, error) {
	bt, err := game.FitBradleyTerry(m.P, opt.Ridge)
	if err != nil {
		return nil, fmt.Errorf("bradley-terry fit: %w", err)
	}
	rn, err := game.RegularizedNash(m.P, opt.TauLeader, nil, 1e-6, 1_000_000)
	if err != nil {
		return nil, fmt.Errorf("regularised nash: %w", err)
	}
	a := game.Analysis{
		Models: m.Actions, P: m.P, Cycles: game.Cycles(m.P), Condorcet: -1,
		SLHF:         game.SolveSLHF(m.P, opt.TauLeader, opt.TauFollower, nil, nil),
		Nash:         game.SolveNash(m.P),
		BradleyTerry: bt, RegularizedNash: rn,
		RLHFPolicy: game.RewardPolicy(bt.Rewards, opt.TauLeader, nil),
	}
	if w, ok := game.CondorcetWinner(m.P); ok {
		a.Condorcet = w
	}
	return newReport(a, opt), nil
}

// dataReport reads a dataset and analyses it, grouping by PromptID (the
// prompt text when the id is empty).
func dataReport(path, format string, opt game.AnalyzeOptions) (*report, error) {
	f, err := datasets.ParseFormat(format)
	if err != nil {
		return nil, err
	}
	rows, err := datasets.ReadPreferences(path, f)
	if err != nil {
		return nil, fmt.Errorf("read dataset: %w", err)
	}
	cs := make([]game.Comparison, len(rows))
	for i, r := range rows {
		key := r.PromptID
		if key == "" {
			key = r.Prompt
		}
		cs[i] = game.Comparison{Prompt: key, ModelA: r.ModelA, ModelB: r.ModelB, Pref: float64(r.Preference)}
	}
	a, err := game.Analyze(cs, opt)
	if err != nil {
		return nil, err
	}
	rep := newReport(a, opt)
	rep.Data = newDataStats(a)
	return rep, nil
}

func newReport(a game.Analysis, opt game.AnalyzeOptions) *report {
	names := func(idx []int) []string {
		out := make([]string, len(idx))
		for i, k := range idx {
			out[i] = a.Models[k]
		}
		return out
	}
	rep := &report{Actions: a.Models, P: a.P, Cycles: [][3]string{}}
	if a.Condorcet >= 0 {
		rep.Condorcet = &a.Models[a.Condorcet]
	}
	for _, c := range a.Cycles {
		rep.Cycles = append(rep.Cycles, [3]string(names(c[:])))
	}
	maximin, _ := game.Maximin(a.P, 1e-9)
	rep.SLHF = slhfReport{
		TauLeader: opt.TauLeader, TauFollower: opt.TauFollower,
		Leader: a.SLHF.Leader, Follower: a.SLHF.Follower, Value: a.SLHF.Value,
		Maximin: names(maximin),
	}
	rep.NLHF = nlhfReport{a.Nash.Policy, a.RegularizedNash.Policy, opt.TauLeader}
	rep.RLHF = rlhfReport{a.BradleyTerry.Rewards, a.RLHFPolicy, opt.TauLeader}
	return rep
}

func newDataStats(a game.Analysis) *dataStats {
	d := &dataStats{
		Comparisons: a.Comparisons, Skipped: a.Skipped, Prompts: a.Prompts,
		PromptsWithTriad: a.PromptsWithTriad, Triads: a.Triads,
		CyclicTriads: a.CyclicTriads, CyclicPrompts: a.CyclicPrompts,
		PromptCycles: []promptCycleRow{},
	}
	for _, pc := range a.PerPrompt {
		if pc.CyclicTriads > 0 {
			d.PromptCycles = append(d.PromptCycles, promptCycleRow{pc.Prompt, pc.Cycles})
		}
	}
	return d
}

// writeText prints the report as tables a person can read.
func (r *report) writeText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if r.Data != nil {
		r.Data.writeText(tw)
	}
	fmt.Fprintf(tw, "majority cycles over %d actions: %s\n", len(r.Actions), cycleText(r.Cycles))
	winner := "none"
	if r.Condorcet != nil {
		winner = *r.Condorcet
	}
	fmt.Fprintf(tw, "condorcet winner: %s\n", winner)
	fmt.Fprintf(tw, "slhf maximin leader (τ → 0): %s\n\n", strings.Join(r.SLHF.Maximin, ", "))
	fmt.Fprintf(tw, "action\tslhf π*\tslhf V\tbest refinement\tnash\tnash τ=%g\tbt reward\trlhf π\n",
		r.NLHF.Tau)
	for i, a := range r.Actions {
		fmt.Fprintf(tw, "%s\t%.4f\t%.4f\t%s (%.3f)\t%.4f\t%.4f\t%+.3f\t%.4f\n", a,
			r.SLHF.Leader[i], r.SLHF.Value[i], r.Actions[argmax(r.SLHF.Follower[i])],
			maxOf(r.SLHF.Follower[i]), r.NLHF.Policy[i], r.NLHF.Regularized[i],
			r.RLHF.Rewards[i], r.RLHF.Policy[i])
	}
	fmt.Fprintf(tw, "\n(τ_L = %g, τ_F = %g; best refinement is argmax ω*(·|action))\n",
		r.SLHF.TauLeader, r.SLHF.TauFollower)
	return tw.Flush()
}

func (d *dataStats) writeText(w io.Writer) {
	fmt.Fprintf(w, "comparisons: %d used, %d skipped (no or equal model names)\n",
		d.Comparisons, d.Skipped)
	fmt.Fprintf(w, "prompts: %d, with a complete triad: %d, with a cycle: %d\n",
		d.Prompts, d.PromptsWithTriad, d.CyclicPrompts)
	fmt.Fprintf(w, "complete triads: %d, cyclic: %d\n", d.Triads, d.CyclicTriads)
	for _, pc := range d.PromptCycles {
		fmt.Fprintf(w, "  %s: %s\n", pc.Prompt, cycleText(pc.Cycles))
	}
	fmt.Fprintln(w)
}

func cycleText(cs [][3]string) string {
	if len(cs) == 0 {
		return "none"
	}
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = c[0] + " ≻ " + c[1] + " ≻ " + c[2] + " ≻ " + c[0]
	}
	return strings.Join(parts, "; ")
}

func argmax(v []float64) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

func maxOf(v []float64) float64 { return v[argmax(v)] }
