package datasets

import (
	"github.com/slhf-dev/slhf/schemas"
)

type llmbarRecord struct {
	Input   *string `json:"input"`
	Output1 *string `json:"output_1"`
	Output2 *string `json:"output_2"`
	Label   *int    `json:"label"`
}

// decodeLLMBar decodes one LLMBar dataset.json.
func decodeLLMBar(data []byte, src origin) ([]schemas.Preference, Stats, error) {
	list, err := decodeList[llmbarRecord](data, src)
	if err != nil {
		return nil, Stats{}, err
	}
	rows := make([]schemas.Preference, 0, len(list))
	st := Stats{Records: len(list)}
	for i, r := range list {
		if r.Input == nil || r.Output1 == nil || r.Output2 == nil || r.Label == nil {
			return nil, st, src.errorf(i, "want input, output_1, output_2 and label")
		}
		if *r.Label != 1 && *r.Label != 2 {
			return nil, st, src.errorf(i, "label %d not in {1, 2}", *r.Label)
		}
		rows = append(rows, schemas.Preference{
			EventID: src.id(LLMBar, i), Prompt: *r.Input, PromptID: promptID(LLMBar, *r.Input),
			ResponseA: *r.Output1, ResponseB: *r.Output2, Preference: float32(2 - *r.Label),
			RoleA: schemas.RoleExternal, RoleB: schemas.RoleExternal,
		})
	}
	return rows, st, nil
}
