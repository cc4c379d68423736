package datasets

import (
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/slhf-dev/slhf/schemas"
)

type arenaRating struct {
	QuestionID string   `json:"question_id"`
	Model      string   `json:"model"`
	UserPrompt string   `json:"user_prompt"`
	Score      *float64 `json:"score"`
}

// Markers of the judge template in an arena rating's user_prompt.
const (
	arenaQuestion = "[Question]\n"
	arenaRefStart = "\n\n[The Start of Reference Answer]"
	arenaAnsStart = "[The Start of Assistant's Answer]\n"
	arenaAnsEnd   = "\n[The End of Assistant's Answer]"
	jsonlExt      = ".jsonl"
)

// rated is one usable rating: a model's judged answer and its score.
type rated struct {
	model  string
	prompt string
	answer string
	score  float64
}

// arenaPreferences pairs the ratings found in the model_judgment folder
// dir: for each question (in lexical id order), every two rated models (in
// lexical name order) make one row, the higher score winning.
func arenaPreferences(fsys fs.FS, dir string) ([]schemas.Preference, Stats, error) {
	files, err := listFiles(fsys, dir, jsonlExt)
	if err != nil {
		return nil, Stats{}, err
	}
	var (
		st      Stats
		tags    []string
		byQuery = map[string]map[string]rated{}
	)
	for _, f := range files {
		tag, err := arenaReadRatings(fsys, f, byQuery, &st)
		if err != nil {
			return nil, st, err
		}
		tags = append(tags, tag)
	}
	src := origin{name: dir, tag: digest([]byte(strings.Join(tags, ",")))}
	return arenaPairs(byQuery, src, &st), st, nil
}

// arenaReadRatings adds the usable ratings of one judgment file to
// byQuery[question][model] and returns the file's digest.
func arenaReadRatings(
	fsys fs.FS, name string, byQuery map[string]map[string]rated, st *Stats,
) (string, error) {
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		return "", err
	}
	src := originOf(name, data)
	err = eachJSONLine(data, src, func(i int, r *arenaRating) error {
		st.Records++
		if r.Score == nil || *r.Score < 0 {
			st.skip(SkipNoScore)
			return nil
		}
		prompt, ans, ok := arenaJudged(r.UserPrompt)
		if !ok || r.QuestionID == "" || r.Model == "" {
			return src.errorf(i, "want question_id, model and a user_prompt in the judge template")
		}
		if byQuery[r.QuestionID] == nil {
			byQuery[r.QuestionID] = map[string]rated{}
		}
		if _, dup := byQuery[r.QuestionID][r.Model]; dup {
			st.skip(SkipDuplicate)
			return nil
		}
		byQuery[r.QuestionID][r.Model] = rated{r.Model, prompt, ans, *r.Score}
		return nil
	})
	return src.tag, err
}

// arenaJudged cuts the question and the rated answer out of the judge's
// user_prompt.
func arenaJudged(userPrompt string) (question, answer string, ok bool) {
	rest, ok := strings.CutPrefix(userPrompt, arenaQuestion)
	if !ok {
		return "", "", false
	}
	question, _, ok = strings.Cut(rest, arenaRefStart)
	if !ok {
		return "", "", false
	}
	_, after, ok := strings.Cut(rest, arenaAnsStart)
	if !ok {
		return "", "", false
	}
	answer, ok = strings.CutSuffix(after, arenaAnsEnd)
	return question, answer, ok
}

// arenaPairs makes the rows; pair k of the whole read has index k.
func arenaPairs(byQuery map[string]map[string]rated, src origin, st *Stats) []schemas.Preference {
	var rows []schemas.Preference
	for _, qid := range sortedKeys(byQuery) {
		models := sortedKeys(byQuery[qid])
		for i, ma := range models {
			for _, mb := range models[i+1:] {
				p := arenaPair(qid, byQuery[qid][ma], byQuery[qid][mb], src.id(Arena, len(rows)))
				if swapped(len(rows)) {
					swapPair(&p)
					st.note(NoteSwapped)
				}
				rows = append(rows, p)
			}
		}
	}
	return rows
}

func arenaPair(qid string, a, b rated, id string) schemas.Preference {
	pref := float32(0.5)
	switch {
	case a.score > b.score:
		pref = 1
	case a.score < b.score:
		pref = 0
	}
	return schemas.Preference{
		EventID: id, Prompt: a.prompt, PromptID: string(Arena) + ":" + qid,
		ResponseA: a.answer, ResponseB: b.answer, Preference: pref,
		ModelA: a.model, ModelB: b.model,
		RoleA: schemas.RoleExternal, RoleB: schemas.RoleExternal,
	}
}

type arenaQuestionRecord struct {
	QuestionID string   `json:"question_id"`
	Turns      []string `json:"turns"`
}

type arenaAnswer struct {
	QuestionID string `json:"question_id"`
	ModelID    string `json:"model_id"`
	Choices    []struct {
		Turns []string `json:"turns"`
	} `json:"choices"`
}

// arenaResponses reads model_answer/<model>.jsonl (name is one such file
// or the model_answer folder), with prompts from question.jsonl in the
// folder above model_answer and candidates from the other answer files.
// The questions have one turn; an answer's first turn is its reply (the
// one the judge rated) and later turns are ignored, counted as
// NoteExtraTurns.
func arenaResponses(fsys fs.FS, name string) ([]schemas.Response, Stats, error) {
	dir, err := isDir(fsys, name)
	if err != nil {
		return nil, Stats{}, err
	}
	answers := name
	if !dir {
		answers = path.Dir(name)
	}
	questions, err := arenaQuestions(fsys, path.Join(path.Dir(answers), "question.jsonl"))
	if err != nil {
		return nil, Stats{}, err
	}
	files, err := listFiles(fsys, answers, jsonlExt)
	if err != nil {
		return nil, Stats{}, err
	}
	if !dir && !slices.Contains(files, name) {
		return nil, Stats{}, fmt.Errorf("%s: want a .jsonl file", name)
	}
	var pool answerPool
	for _, f := range files {
		if err := pool.addArena(fsys, f, questions, dir || f == name); err != nil {
			return nil, Stats{}, err
		}
	}
	return pool.responses(Arena)
}

// arenaQuestions maps question ids to their single-turn prompts.
func arenaQuestions(fsys fs.FS, name string) (map[string]string, error) {
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, err
	}
	src := originOf(name, data)
	out := map[string]string{}
	err = eachJSONLine(data, src, func(i int, q *arenaQuestionRecord) error {
		if q.QuestionID == "" || len(q.Turns) != 1 {
			return src.errorf(i, "want question_id and exactly one turn")
		}
		out[q.QuestionID] = q.Turns[0]
		return nil
	})
	return out, err
}

// addArena adds the answers of one model_answer file.
func (p *answerPool) addArena(
	fsys fs.FS, name string, questions map[string]string, selected bool,
) error {
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		return err
	}
	src := originOf(name, data)
	return eachJSONLine(data, src, func(i int, a *arenaAnswer) error {
		if len(a.Choices) == 0 || len(a.Choices[0].Turns) == 0 || a.ModelID == "" {
			return src.errorf(i, "want model_id and a choice with a turn")
		}
		prompt, ok := questions[a.QuestionID]
		p.add(answer{
			model: a.ModelID, key: a.QuestionID, prompt: prompt, hasPrompt: ok,
			text: a.Choices[0].Turns[0], src: src, index: i, selected: selected,
			extraTurns: len(a.Choices[0].Turns) > 1,
		})
		return nil
	})
}
