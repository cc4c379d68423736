package datasets

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/slhf-dev/slhf/schemas"
)

type pandaRecord struct {
	CmpKey      string          `json:"cmp_key"`
	Instruction string          `json:"instruction"`
	Input       string          `json:"input"`
	Response1   json.RawMessage `json:"response1"`
	Response2   json.RawMessage `json:"response2"`
	Annotator1  *int            `json:"annotator1"`
	Annotator2  *int            `json:"annotator2"`
	Annotator3  *int            `json:"annotator3"`
}

// pandaModels are the model names PandaLM joins with "_" in cmp_key. The
// names themselves hold no "_", so the key splits at its only one.
func pandaModels(key string) (a, b string, ok bool) {
	a, b, ok = strings.Cut(key, "_")
	return a, b, ok && a != "" && b != "" && !strings.Contains(b, "_")
}

// decodePandaLM decodes PandaLM's testset-v1.json.
func decodePandaLM(data []byte, src origin) ([]schemas.Preference, Stats, error) {
	list, err := decodeList[pandaRecord](data, src)
	if err != nil {
		return nil, Stats{}, err
	}
	rows := make([]schemas.Preference, 0, len(list))
	var st Stats
	for i := range list {
		st.Records++
		p, err := pandaPreference(&list[i], src, i, &st)
		if err != nil {
			return nil, st, err
		}
		rows = append(rows, p)
	}
	return rows, st, nil
}

func pandaPreference(r *pandaRecord, src origin, i int, st *Stats) (schemas.Preference, error) {
	modelA, modelB, ok := pandaModels(r.CmpKey)
	if !ok {
		return schemas.Preference{}, src.errorf(i, "cmp_key %q is not <model>_<model>", r.CmpKey)
	}
	a, errA := pandaText(r.Response1, st)
	b, errB := pandaText(r.Response2, st)
	if errA != nil || errB != nil {
		return schemas.Preference{}, src.errorf(i, "response is neither string nor boolean")
	}
	pref, err := pandaMajority(r, st)
	if err != nil {
		return schemas.Preference{}, src.wrap(i, err)
	}
	prompt := r.Instruction
	if r.Input != "" {
		prompt += "\n\n" + r.Input
	}
	return schemas.Preference{
		EventID: src.id(PandaLM, i), Prompt: prompt,
		PromptID:  promptID(PandaLM, r.Instruction, r.Input),
		ResponseA: a, ResponseB: b, Preference: pref, ModelA: modelA, ModelB: modelB,
		RoleA: schemas.RoleExternal, RoleB: schemas.RoleExternal,
	}, nil
}

// pandaText returns a response: a JSON string, or a JSON boolean kept as
// its text (six responses of the test set are `true`).
func pandaText(raw json.RawMessage, st *Stats) (string, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var b bool
	if err := json.Unmarshal(raw, &b); err != nil {
		return "", err
	}
	st.note(NoteBoolAsText)
	return string(raw), nil
}

// pandaMajority returns P(A ≻ B) from the three annotator labels
// (1 → A, 2 → B, 0 → tie): the label at least two annotators gave, or a
// tie when all three differ.
func pandaMajority(r *pandaRecord, st *Stats) (float32, error) {
	var votes [3]int
	for _, l := range []*int{r.Annotator1, r.Annotator2, r.Annotator3} {
		if l == nil || *l < 0 || *l > 2 {
			return 0, errBadLabel(l)
		}
		votes[*l]++
	}
	switch {
	case votes[1] >= 2:
		return 1, nil
	case votes[2] >= 2:
		return 0, nil
	case votes[0] < 2:
		st.note(NoteSplitVoteTie)
	}
	return 0.5, nil
}

func errBadLabel(l *int) error {
	if l == nil {
		return errors.New("annotator label missing")
	}
	return fmt.Errorf("annotator label %d not in {0, 1, 2}", *l)
}
