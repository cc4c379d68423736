package learner

import (
	"math"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/slhf-dev/slhf/data"
	"github.com/slhf-dev/slhf/schemas"
	"github.com/slhf-dev/slhf/schemas/datasets"
)

func TestExplore(t *testing.T) {
	hh, _, _ := datasets.LoadPreferences(data.FS(), data.HHRLHF, datasets.HHRLHF)
	panda, _, _ := datasets.LoadPreferences(data.FS(), data.PandaLM, datasets.PandaLM)
	var pt []schemas.Preference
	for _, p := range nonEmpty(panda) {
		if shareOf("", p.PromptID) >= officialShare {
			pt = append(pt, p)
		}
	}
	feats := map[string]func(x, y string) float64{
		"loglen": func(x, y string) float64 { return math.Log1p(float64(utf8.RuneCountInString(y))) },
		"trunc":  func(x, y string) float64 { return -truncated(y) },
		"overlap": func(x, y string) float64 {
			p, _ := featurizer{enc: HashEncoder{D: 8}}.prompt(x, nil)
			return overlap(p.words, y)
		},
		"uniqwords": func(x, y string) float64 {
			seen := map[uint64]bool{}
			n := 0
			forEachWord(y, func(w uint64) { n++; seen[w] = true })
			if n == 0 {
				return 0
			}
			return float64(len(seen)) / float64(n)
		},
		"sorry": func(x, y string) float64 {
			l := strings.ToLower(y)
			if strings.Contains(l, "sorry") || strings.Contains(l, "i can't") || strings.Contains(l, "i cannot") || strings.Contains(l, "i'm not") {
				return 1
			}
			return 0
		},
		"question": func(x, y string) float64 {
			if strings.Contains(y, "?") {
				return 1
			}
			return 0
		},
	}
	for name, data := range map[string][]schemas.Preference{"hh": nonEmpty(hh), "panda": pt} {
		for fn, f := range feats {
			var win, n float64
			for _, p := range data {
				if p.Preference == 0.5 {
					continue
				}
				a, b := f(p.Prompt, p.ResponseA), f(p.Prompt, p.ResponseB)
				if a == b {
					continue
				}
				n++
				if (a > b) == (p.Preference > 0.5) {
					win++
				}
			}
			t.Logf("%s %-10s higher wins %.3f over %.0f", name, fn, win/n, n)
		}
	}
}
