package datasets

import (
	"github.com/slhf-dev/slhf/schemas"
)

// answer is one model's answer to one question, on its way to becoming a
// Response row or another row's candidate.
type answer struct {
	model     string
	key       string // groups the answers to one question
	prompt    string
	hasPrompt bool
	text      string
	src       origin
	index     int  // position in src
	selected  bool // becomes a row; the others are only candidates
	// extraTurns marks an answer with turns beyond the one kept.
	extraTurns bool
}

// answerPool gathers answers from several files and groups them by
// question. The zero value is empty and ready to use.
type answerPool struct {
	all   []answer
	byKey map[string][]int
}

func (p *answerPool) add(a answer) {
	if p.byKey == nil {
		p.byKey = map[string][]int{}
	}
	p.byKey[a.key] = append(p.byKey[a.key], len(p.all))
	p.all = append(p.all, a)
}

// responses returns a row per selected answer, in the order added, whose
// candidates are the other models' answers to the same question in the
// order added. Answers without a prompt are skipped as
// SkipMissingQuestion.
func (p *answerPool) responses(format Format) ([]schemas.Response, Stats, error) {
	var (
		rows []schemas.Response
		st   Stats
	)
	for _, a := range p.all {
		if !a.selected {
			continue
		}
		st.Records++
		if !a.hasPrompt {
			st.skip(SkipMissingQuestion)
			continue
		}
		if a.extraTurns {
			st.note(NoteExtraTurns)
		}
		rows = append(rows, schemas.Response{
			RequestID: a.src.id(format, a.index), Prompt: a.prompt,
			Response: a.text, Model: a.model, Candidates: p.candidates(a),
		})
	}
	return rows, st, nil
}

// candidates returns the answers of other models to a's question.
func (p *answerPool) candidates(a answer) []string {
	var out []string
	for _, j := range p.byKey[a.key] {
		if o := p.all[j]; o.model != a.model {
			out = append(out, o.text)
		}
	}
	return out
}
