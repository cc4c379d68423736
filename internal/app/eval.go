package app

import (
	"sync"

	"github.com/slhf-dev/slhf/schemas"
)

// WinRate is how refined answers fared against the originals, judged by
// the held-out human labels.
type WinRate struct {
	// Rate is the mean P(refined ≻ original) over changed responses whose
	// pair a human judged (ties count ½); N is how many.
	Rate float64
	N    int
	// Unjudged counts changed responses whose pair no human compared.
	Unjudged int
	// RandomRate is the same figure for a uniformly random switch to
	// another candidate: the baseline the Follower must beat. RandomN is
	// the number of judged (response, candidate) pairs behind it.
	RandomRate float64
	RandomN    int
}

// judge collects refined records and scores them against the holdout.
type judge struct {
	h    *Holdout
	mu   sync.Mutex // protects rows
	rows map[string]schemas.Refined
}

func newJudge(h *Holdout) *judge {
	return &judge{h: h, rows: map[string]schemas.Refined{}}
}

// collect keeps the last refined record per request id: outputs are
// at-least-once, and a duplicate must not count twice.
func (j *judge) collect(rows []schemas.Refined) {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, r := range rows {
		j.rows[r.RequestID] = r
	}
}

func (j *judge) score() WinRate {
	j.mu.Lock()
	defer j.mu.Unlock()
	var w WinRate
	var sum, randSum float64
	for _, hp := range j.h.prompts {
		for req, orig := range hp.reqs {
			randSum += hp.randomSwitch(orig, &w.RandomN)
			r, ok := j.rows[req]
			if !ok || !r.Changed {
				continue
			}
			label, judged := hp.labels[[2]string{hp.byText[r.Refined], orig}]
			if !judged {
				w.Unjudged++
				continue
			}
			sum += label
			w.N++
		}
	}
	if w.N > 0 {
		w.Rate = sum / float64(w.N)
	}
	if w.RandomN > 0 {
		w.RandomRate = randSum / float64(w.RandomN)
	}
	return w
}

// randomSwitch sums P(c ≻ orig) over the judged candidates c of orig.
func (hp *heldPrompt) randomSwitch(orig string, n *int) float64 {
	var sum float64
	for _, m := range hp.order {
		if m == orig {
			continue
		}
		if label, ok := hp.labels[[2]string{m, orig}]; ok {
			sum += label
			*n++
		}
	}
	return sum
}
