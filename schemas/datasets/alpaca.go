package datasets

import (
	"io/fs"
	"path"
	"slices"

	"github.com/slhf-dev/slhf/schemas"
)

type alpacaAnnotation struct {
	Instruction string   `json:"instruction"`
	Output1     *string  `json:"output_1"`
	Generator1  string   `json:"generator_1"`
	Output2     *string  `json:"output_2"`
	Generator2  string   `json:"generator_2"`
	Annotator   string   `json:"annotator"`
	Preference  *float64 `json:"preference"`
}

// decodeAlpacaAnnotations decodes one AlpacaEval annotations.json.
func decodeAlpacaAnnotations(data []byte, src origin) ([]schemas.Preference, Stats, error) {
	list, err := decodeList[alpacaAnnotation](data, src)
	if err != nil {
		return nil, Stats{}, err
	}
	rows := make([]schemas.Preference, 0, len(list))
	st := Stats{Records: len(list)}
	for i, a := range list {
		if a.Output1 == nil || a.Output2 == nil {
			return nil, st, src.errorf(i, "want output_1 and output_2")
		}
		if a.Preference == nil {
			st.skip(SkipNullLabel)
			continue
		}
		pref, ok := alpacaPreference(*a.Preference, &st)
		if !ok {
			return nil, st, src.errorf(i, "preference %v not 0 or in [1, 2]", *a.Preference)
		}
		rows = append(rows, schemas.Preference{
			EventID: src.id(AlpacaEval, i), Prompt: a.Instruction,
			PromptID:  promptID(AlpacaEval, a.Instruction),
			ResponseA: *a.Output1, ResponseB: *a.Output2, Preference: pref,
			ModelA: a.Generator1, ModelB: a.Generator2,
			RoleA: schemas.RoleExternal, RoleB: schemas.RoleExternal,
			Annotator: hashAnnotator(a.Annotator),
		})
	}
	return rows, st, nil
}

// alpacaPreference maps an annotation preference p to P(A ≻ B) = 2 − p for
// p in [1, 2], and p = 0 (identical outputs) to a tie.
func alpacaPreference(p float64, st *Stats) (float32, bool) {
	switch {
	case p == 0:
		st.note(NoteIdenticalTie)
		return 0.5, true
	case p >= 1 && p <= 2:
		return float32(2 - p), true
	}
	return 0, false
}

type alpacaOutput struct {
	Instruction *string `json:"instruction"`
	Output      *string `json:"output"`
	Generator   string  `json:"generator"`
}

// alpacaResponses reads model_outputs.json files. name is one such file,
// <results>/<model>/model_outputs.json, or the <results> folder; the other
// models' files in <results> supply the candidates.
func alpacaResponses(fsys fs.FS, name string) ([]schemas.Response, Stats, error) {
	const base = "model_outputs.json"
	dir, err := isDir(fsys, name)
	if err != nil {
		return nil, Stats{}, err
	}
	results := name
	if !dir {
		results = path.Dir(path.Dir(name))
	}
	files, err := modelFiles(fsys, results, base)
	if err != nil {
		return nil, Stats{}, err
	}
	if !dir && !slices.Contains(files, name) {
		files = append(files, name)
	}
	var pool answerPool
	for _, f := range files {
		if err := pool.addAlpaca(fsys, f, dir || f == name); err != nil {
			return nil, Stats{}, err
		}
	}
	return pool.responses(AlpacaEval)
}

// addAlpaca adds the outputs of one model_outputs.json file.
func (p *answerPool) addAlpaca(fsys fs.FS, name string, selected bool) error {
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		return err
	}
	src := originOf(name, data)
	list, err := decodeList[alpacaOutput](data, src)
	if err != nil {
		return err
	}
	for i, o := range list {
		if o.Instruction == nil || o.Output == nil {
			return src.errorf(i, "want instruction and output")
		}
		p.add(answer{
			model: o.Generator, key: *o.Instruction, prompt: *o.Instruction,
			hasPrompt: true, text: *o.Output, src: src, index: i, selected: selected,
		})
	}
	return nil
}

// modelFiles returns <dir>/<sub>/<base> for every subfolder sub of dir that
// holds a file called base, in lexical order.
func modelFiles(fsys fs.FS, dir, base string) ([]string, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, e := range entries {
		f := path.Join(dir, e.Name(), base)
		if _, err := fs.Stat(fsys, f); e.IsDir() && err == nil {
			files = append(files, f)
		}
	}
	return files, nil
}
