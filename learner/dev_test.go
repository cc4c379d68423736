package learner

import (
	"flag"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/slhf-dev/slhf/data"
	"github.com/slhf-dev/slhf/schemas"
	"github.com/slhf-dev/slhf/schemas/datasets"
)

// devFolds is how many dev folds TestDevSplit evaluates; settings of the
// learner were chosen by the mean over all five (go test -run DevSplit
// -dev.folds 5 -v). The default, one fold, keeps the ordinary test quick.
var devFolds = flag.Int("dev.folds", 1, "dev folds evaluated by TestDevSplit (1–5)")

// devPayoff overrides Config.FollowerPayoffInput in TestDevSplit, to
// compare the two policy classes: "" keeps the default, "on" or "off".
var devPayoff = flag.String("dev.payoff", "", "FollowerPayoffInput in TestDevSplit: on, off or default")

// Shares of the bundled PandaLM prompts: the service's embedded run holds
// out officialShare of them (internal/app, by the FNV-1a hash of the
// prompt id) for its final figures; those prompts never enter the dev
// harness. The remaining prompts are cut into devFoldCount folds by a
// salted hash; a fold is the dev set, the rest is trained on.
const (
	officialShare = 0.2
	devFoldCount  = 5
	devBatch      = 100 // events per Learn call, as in the embedded run
	devRounds     = 3   // refine.max_rounds default
)

// devSplit is the training stream and the dev prompts of one fold.
type devSplit struct {
	train []schemas.Preference
	dev   map[string]*devPrompt
}

// devPrompt is one dev prompt: each model's answer and the human
// majority label of each judged pair of models.
type devPrompt struct {
	prompt  string
	order   []string // models, first seen first
	answers map[string]string
	byText  map[string]string
	labels  map[[2]string]float64
	pairs   []schemas.Preference
}

// loadDevSplit builds fold of the dev split from the embedded data.
func loadDevSplit(tb testing.TB, fold int) devSplit {
	tb.Helper()
	hh, _, err := datasets.LoadPreferences(data.FS(), data.HHRLHF, datasets.HHRLHF)
	if err != nil {
		tb.Fatalf("load hh-rlhf: %v", err)
	}
	panda, _, err := datasets.LoadPreferences(data.FS(), data.PandaLM, datasets.PandaLM)
	if err != nil {
		tb.Fatalf("load pandalm: %v", err)
	}
	s := devSplit{dev: map[string]*devPrompt{}}
	var learn []schemas.Preference
	for _, p := range nonEmpty(panda) {
		switch {
		case shareOf("", p.PromptID) < officialShare:
			// the service's held-out prompts: never looked at here
		case int(shareOf("dev-fold:", p.PromptID)*devFoldCount) == fold:
			s.addDev(p)
		default:
			learn = append(learn, p)
		}
	}
	s.train = interleaveStreams(nonEmpty(hh), learn, 1)
	return s
}

func nonEmpty(rows []schemas.Preference) []schemas.Preference {
	var out []schemas.Preference
	for _, p := range rows {
		if p.Prompt != "" && p.ResponseA != "" && p.ResponseB != "" {
			out = append(out, p)
		}
	}
	return out
}

// shareOf maps salt+id to [0, 1) the way internal/app splits prompts.
func shareOf(salt, id string) float64 {
	h := fnv.New64a()
	h.Write([]byte(salt + id))
	return float64(h.Sum64()%10_000) / 10_000
}

// interleaveStreams merges two streams at random, keeping each one's order.
func interleaveStreams(a, b []schemas.Preference, seed uint64) []schemas.Preference {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	out := make([]schemas.Preference, 0, len(a)+len(b))
	for len(a) > 0 || len(b) > 0 {
		if rng.IntN(len(a)+len(b)) < len(a) {
			out, a = append(out, a[0]), a[1:]
		} else {
			out, b = append(out, b[0]), b[1:]
		}
	}
	return out
}

func (s devSplit) addDev(p schemas.Preference) {
	dp := s.dev[p.PromptID]
	if dp == nil {
		dp = &devPrompt{prompt: p.Prompt, answers: map[string]string{},
			byText: map[string]string{}, labels: map[[2]string]float64{}}
		s.dev[p.PromptID] = dp
	}
	for _, ma := range [][2]string{{p.ModelA, p.ResponseA}, {p.ModelB, p.ResponseB}} {
		if _, ok := dp.answers[ma[0]]; !ok {
			dp.answers[ma[0]] = ma[1]
			dp.order = append(dp.order, ma[0])
			if _, taken := dp.byText[ma[1]]; !taken {
				dp.byText[ma[1]] = ma[0]
			}
		}
	}
	dp.labels[[2]string{p.ModelA, p.ModelB}] = float64(p.Preference)
	dp.labels[[2]string{p.ModelB, p.ModelA}] = 1 - float64(p.Preference)
	dp.pairs = append(dp.pairs, p)
}

// devResult holds the figures of one fold.
type devResult struct {
	progAcc, progLoss float64 // progressive validation over the training stream
	devAcc, devLoss   float64 // preference model on the dev pairs (unseen prompts)
	winRate, winN     float64 // Follower refinements judged by humans
	greedyRate        float64 // one best response of the preference model itself
	greedyN           float64
	randomRate        float64 // uniformly random switch
	steps             int
}

// runDev trains a model with cfg on fold's training stream and measures it.
func runDev(tb testing.TB, cfg Config, fold int) devResult {
	tb.Helper()
	s := loadDevSplit(tb, fold)
	m := newTestModel(tb, cfg)
	sum := learnAll(tb, m, s.train, devBatch)
	r := devResult{progAcc: float64(sum.Correct) / float64(sum.Judged), progLoss: sum.LogLoss,
		steps: int(m.Version())}
	snap := m.Snapshot()
	ids := make([]string, 0, len(s.dev))
	for id := range s.dev {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var judged, correct, nPairs, randN float64
	for _, id := range ids {
		dp := s.dev[id]
		for _, p := range dp.pairs {
			pa := snap.Prefer(p.Prompt, p.ResponseA, p.ResponseB)
			r.devLoss += logLoss(pa, float64(p.Preference))
			nPairs++
			if p.Preference != 0.5 {
				judged++
				if (pa > 0.5) == (p.Preference > 0.5) {
					correct++
				}
			}
		}
		dp.refine(snap, &r, &randN)
	}
	r.devAcc, r.devLoss = correct/judged, r.devLoss/nPairs
	r.winRate /= math.Max(r.winN, 1)
	r.greedyRate /= math.Max(r.greedyN, 1)
	r.randomRate /= math.Max(randN, 1)
	return r
}

// refine runs the Follower on each model's answer with the other answers
// as candidates, as internal/app does for the held-out prompts, and sums
// the human labels of the changed answers; it does the same for the
// preference model's own best response argmax_j p(y_j ≻ y).
func (dp *devPrompt) refine(snap *Snapshot, r *devResult, randN *float64) {
	for _, orig := range dp.order {
		var cands []string
		for _, other := range dp.order {
			if other == orig || dp.answers[other] == dp.answers[orig] {
				continue
			}
			cands = append(cands, dp.answers[other])
			if l, ok := dp.labels[[2]string{other, orig}]; ok {
				r.randomRate += l
				*randN++
			}
		}
		res := snap.Refine(schemas.Response{Prompt: dp.prompt, Response: dp.answers[orig],
			Candidates: cands}, devRounds)
		if l, ok := dp.labels[[2]string{dp.byText[res.Text], orig}]; ok && res.Changed {
			r.winRate += l
			r.winN++
		}
		best, bestP := "", 0.5
		for _, c := range cands {
			if p := snap.Prefer(dp.prompt, c, dp.answers[orig]); p > bestP {
				best, bestP = c, p
			}
		}
		if l, ok := dp.labels[[2]string{dp.byText[best], orig}]; ok && best != "" {
			r.greedyRate += l
			r.greedyN++
		}
	}
}

// meanDev averages runDev over the first folds folds.
func meanDev(tb testing.TB, cfg Config, folds int) devResult {
	var mean devResult
	var wN, gN float64
	for f := range folds {
		r := runDev(tb, cfg, f)
		tb.Logf("fold %d: %+v", f, r)
		mean.progAcc += r.progAcc / float64(folds)
		mean.progLoss += r.progLoss / float64(folds)
		mean.devAcc += r.devAcc / float64(folds)
		mean.devLoss += r.devLoss / float64(folds)
		mean.randomRate += r.randomRate / float64(folds)
		mean.winRate += r.winRate * r.winN
		mean.greedyRate += r.greedyRate * r.greedyN
		wN, gN = wN+r.winN, gN+r.greedyN
		mean.steps += r.steps / folds
	}
	mean.winRate /= math.Max(wN, 1)
	mean.greedyRate /= math.Max(gN, 1)
	mean.winN, mean.greedyN = wN, gN
	return mean
}

// TestDevSplit trains on the dev split with the default configuration and
// checks the two figures the defaults were chosen for, on fold 0: the
// progressive log-loss is clearly under log 2 (it was 0.695 with PrefLR
// 0.01) and the preference model beats chance on the pairs of unseen dev
// prompts (0.52 without the prompt-conditioned scalar features; 0.618 with
// them over 131 judged pairs, standard error about 0.043).
func TestDevSplit(t *testing.T) {
	if testing.Short() {
		t.Skip("trains on the bundled data")
	}
	cfg := DefaultConfig()
	cfg.Autodiff = AutodiffPlain
	switch *devPayoff {
	case "on", "off":
		cfg.FollowerPayoffInput = *devPayoff == "on"
	case "":
	default:
		t.Fatalf("-dev.payoff %q: want on, off or empty", *devPayoff)
	}
	r := meanDev(t, cfg, min(max(*devFolds, 1), devFoldCount))
	t.Logf("mean: prog acc %.3f loss %.4f | dev acc %.3f loss %.4f | win %.3f (n %.0f) "+
		"greedy %.3f (n %.0f) random %.3f | steps %d", r.progAcc, r.progLoss, r.devAcc,
		r.devLoss, r.winRate, r.winN, r.greedyRate, r.greedyN, r.randomRate, r.steps)
	if *devFolds > 1 {
		return
	}
	if r.progLoss > math.Ln2-0.02 {
		t.Errorf("progressive log-loss %.4f, want ≤ log 2 − 0.02", r.progLoss)
	}
	if r.devAcc < 0.55 {
		t.Errorf("dev accuracy %.3f on unseen prompts, want ≥ 0.55", r.devAcc)
	}
}

// TestPayoffInputHelpsOnUnseenPrompts trains fold 0 of the dev split with
// and without FollowerPayoffInput and requires the Follower's refinements
// of answers to unseen prompts to win clearly more often with it: 0.561
// against 0.419 when the default was chosen. Runs are seeded, so the
// margin of 0.05 is not a matter of luck between runs, only of the fold.
func TestPayoffInputHelpsOnUnseenPrompts(t *testing.T) {
	if testing.Short() {
		t.Skip("trains on the bundled data twice")
	}
	cfg := DefaultConfig()
	cfg.Autodiff = AutodiffPlain
	cfg.FollowerPayoffInput = true
	on := meanDev(t, cfg, 1)
	cfg.FollowerPayoffInput = false
	off := meanDev(t, cfg, 1)
	t.Logf("follower win rate on fold 0: with payoff input %.3f (n %.0f), without %.3f (n %.0f)",
		on.winRate, on.winN, off.winRate, off.winN)
	if on.winRate < off.winRate+0.05 {
		t.Errorf("payoff input: win rate %.3f, without %.3f; want at least 0.05 better",
			on.winRate, off.winRate)
	}
}
