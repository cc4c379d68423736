package app

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/slhf-dev/slhf/data"
	"github.com/slhf-dev/slhf/schemas"
	"github.com/slhf-dev/slhf/schemas/datasets"
)

// Bundle is the bundled real data, split for the embedded run: feedback
// to learn from, and held-out PandaLM prompts whose responses go through
// the refine stage and are judged by their own human labels.
type Bundle struct {
	Feedback  []schemas.Preference
	Responses []schemas.Response
	Holdout   *Holdout
	// Skipped counts source rows our strict schema refuses, by reason;
	// HH-RLHF has four empty chosen replies.
	Skipped map[string]int
}

// LoadBundle reads the bundled HH-RLHF and PandaLM sets and holds out
// share of the PandaLM prompts (chosen by a hash of the prompt id, so the
// split is stable). maxFeedback > 0 caps the feedback events.
func LoadBundle(share float64, maxFeedback int, seed uint64) (*Bundle, error) {
	hh, _, err := datasets.LoadPreferences(data.FS(), data.HHRLHF, datasets.HHRLHF)
	if err != nil {
		return nil, fmt.Errorf("load bundled hh-rlhf: %w", err)
	}
	panda, _, err := datasets.LoadPreferences(data.FS(), data.PandaLM, datasets.PandaLM)
	if err != nil {
		return nil, fmt.Errorf("load bundled pandalm: %w", err)
	}
	b := &Bundle{Holdout: newHoldout(), Skipped: map[string]int{}}
	hh, panda = b.keepValid(hh), b.keepValid(panda)
	var learnPanda []schemas.Preference
	for _, p := range panda {
		if heldOut(p.PromptID, share) {
			b.Holdout.add(p)
		} else {
			learnPanda = append(learnPanda, p)
		}
	}
	b.Feedback = interleave(hh, learnPanda, seed)
	if maxFeedback > 0 && len(b.Feedback) > maxFeedback {
		b.Feedback = b.Feedback[:maxFeedback]
	}
	b.Responses = b.Holdout.responses()
	return b, nil
}

// keepValid drops rows preference.v1 refuses (4 HH-RLHF replies and 54
// PandaLM ones are empty) and counts them by reason.
func (b *Bundle) keepValid(rows []schemas.Preference) []schemas.Preference {
	valid, dropped := schemas.FilterPreferences(rows, schemas.Limits{})
	for reason, n := range dropped {
		b.Skipped[string(reason)] += n
	}
	return valid
}

func heldOut(promptID string, share float64) bool {
	h := fnv.New64a()
	h.Write([]byte(promptID))
	return float64(h.Sum64()%10_000)/10_000 < share
}

// interleave shuffles two streams together, as live feedback from two
// products would arrive, keeping each stream's own order.
func interleave(a, b []schemas.Preference, seed uint64) []schemas.Preference {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	out := make([]schemas.Preference, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		left := len(a) - i
		right := len(b) - j
		if rng.IntN(left+right) < left {
			out = append(out, a[i])
			i++
		} else {
			out = append(out, b[j])
			j++
		}
	}
	return out
}

// Holdout is the held-out PandaLM data: the answers of each model per
// prompt and the human majority label of each judged pair.
type Holdout struct {
	prompts map[string]*heldPrompt
}

type heldPrompt struct {
	prompt  string
	answers map[string]string     // model → answer
	byText  map[string]string     // answer → model
	labels  map[[2]string]float64 // (x, y) → P(x ≻ y), human majority
	reqs    map[string]string     // request id → original model
	order   []string              // models in first-seen order
}

func newHoldout() *Holdout { return &Holdout{prompts: map[string]*heldPrompt{}} }

func (h *Holdout) add(p schemas.Preference) {
	hp := h.prompts[p.PromptID]
	if hp == nil {
		hp = &heldPrompt{
			prompt: p.Prompt, answers: map[string]string{}, byText: map[string]string{},
			labels: map[[2]string]float64{}, reqs: map[string]string{},
		}
		h.prompts[p.PromptID] = hp
	}
	hp.answer(p.ModelA, p.ResponseA)
	hp.answer(p.ModelB, p.ResponseB)
	hp.labels[[2]string{p.ModelA, p.ModelB}] = float64(p.Preference)
	hp.labels[[2]string{p.ModelB, p.ModelA}] = 1 - float64(p.Preference)
}

func (hp *heldPrompt) answer(model, text string) {
	if _, ok := hp.answers[model]; ok {
		return // 17 of 779 (prompt, model) pairs carry two texts; keep the first
	}
	hp.answers[model] = text
	hp.order = append(hp.order, model)
	if _, taken := hp.byText[text]; !taken {
		hp.byText[text] = model
	}
}

// responses builds one response.v1 row per (prompt, model): that model's
// answer as the response, the other models' answers as candidates.
func (h *Holdout) responses() []schemas.Response {
	ids := make([]string, 0, len(h.prompts))
	for id := range h.prompts {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var out []schemas.Response
	for _, id := range ids {
		hp := h.prompts[id]
		for _, m := range hp.order {
			var cands []string
			for _, other := range hp.order {
				if other != m && hp.answers[other] != hp.answers[m] {
					cands = append(cands, hp.answers[other])
				}
			}
			req := fmt.Sprintf("pandalm-holdout-%s-%s", id, m)
			hp.reqs[req] = m
			out = append(out, schemas.Response{
				RequestID: req, TS: baseTime.Add(time.Duration(len(out)) * time.Millisecond),
				Prompt: hp.prompt, Response: hp.answers[m], Candidates: cands, Model: m,
			})
		}
	}
	return out
}

// baseTime stamps the held-out responses, so that a replay is
// byte-for-byte the same.
var baseTime = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Prompts is the number of held-out prompts.
func (h *Holdout) Prompts() int { return len(h.prompts) }
