package datasets

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/slhf-dev/slhf/schemas"
)

type vicunaQuestion struct {
	QuestionID json.Number `json:"question_id"`
	Text       *string     `json:"text"`
}

type vicunaAnswer struct {
	AnswerID   string      `json:"answer_id"`
	ModelID    string      `json:"model_id"`
	QuestionID json.Number `json:"question_id"`
	Text       *string     `json:"text"`
}

type vicunaReview struct {
	QuestionID json.Number     `json:"question_id"`
	Answer1ID  string          `json:"answer1_id"`
	Answer2ID  string          `json:"answer2_id"`
	Score      []float64       `json:"score"`
	ReviewerID json.RawMessage `json:"reviewer_id"`
}

// vicunaTable is what the table folder holds, minus the reviews.
type vicunaTable struct {
	questions map[string]string       // question_id → text
	answers   map[string]vicunaAnswer // answer_id → answer
	pool      answerPool
}

// vicunaPreferences reads every review/**/*.jsonl of the table folder dir
// and resolves its answer ids through answer/*.jsonl. The rows of a file
// byte-identical to an earlier one are skipped as SkipDuplicate.
func vicunaPreferences(fsys fs.FS, dir string) ([]schemas.Preference, Stats, error) {
	t, err := loadVicunaTable(fsys, dir, "")
	if err != nil {
		return nil, Stats{}, err
	}
	var files []string
	err = fs.WalkDir(fsys, path.Join(dir, "review"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, jsonlExt) {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		return nil, Stats{}, err
	}
	var (
		rows []schemas.Preference
		st   Stats
	)
	seen := map[string]bool{}
	for _, f := range files {
		n := len(rows)
		tag, err := t.addReviews(fsys, f, &rows, &st)
		if err != nil {
			return nil, st, err
		}
		if seen[tag] { // a byte-identical copy would repeat the ids
			st.Skipped = addCounts(st.Skipped, map[string]int{SkipDuplicate: len(rows) - n})
			rows = rows[:n]
		}
		seen[tag] = true
	}
	return rows, st, nil
}

// addReviews appends the rows of one review file to rows and returns the
// file's digest.
func (t *vicunaTable) addReviews(
	fsys fs.FS, name string, rows *[]schemas.Preference, st *Stats,
) (string, error) {
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		return "", err
	}
	src := originOf(name, data)
	err = eachJSONLine(data, src, func(i int, r *vicunaReview) error {
		st.Records++
		p, err := t.preference(r)
		if err != nil {
			return src.wrap(i, err)
		}
		p.EventID = src.id(VicunaBench, i)
		*rows = append(*rows, p)
		return nil
	})
	return src.tag, err
}

// preference resolves a review into a row without EventID.
func (t *vicunaTable) preference(r *vicunaReview) (schemas.Preference, error) {
	a, okA := t.answers[r.Answer1ID]
	b, okB := t.answers[r.Answer2ID]
	q, okQ := t.questions[r.QuestionID.String()]
	switch {
	case !okA || !okB:
		return schemas.Preference{}, fmt.Errorf("answer %q or %q not in answer files",
			r.Answer1ID, r.Answer2ID)
	case !okQ || a.QuestionID != r.QuestionID || b.QuestionID != r.QuestionID:
		return schemas.Preference{}, fmt.Errorf("question %s unknown or not its answers'", r.QuestionID)
	case len(r.Score) != 2:
		return schemas.Preference{}, fmt.Errorf("want two scores, got %d", len(r.Score))
	}
	pref := float32(0.5)
	if r.Score[0] != r.Score[1] {
		pref = float32(boolToInt(r.Score[0] > r.Score[1]))
	}
	return schemas.Preference{
		Prompt: q, PromptID: string(VicunaBench) + ":" + r.QuestionID.String(),
		ResponseA: *a.Text, ResponseB: *b.Text, Preference: pref,
		ModelA: a.ModelID, ModelB: b.ModelID,
		RoleA: schemas.RoleExternal, RoleB: schemas.RoleExternal,
		Annotator: hashAnnotator("vicuna-bench reviewer " + string(r.ReviewerID)),
	}, nil
}

func boolToInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// vicunaResponses reads the answers of the table folder (name is the
// folder or one answer/*.jsonl file in it) as responses; the other answer
// files supply the candidates.
func vicunaResponses(fsys fs.FS, name string) ([]schemas.Response, Stats, error) {
	dir, err := isDir(fsys, name)
	if err != nil {
		return nil, Stats{}, err
	}
	table, only := name, ""
	if !dir {
		table, only = path.Dir(path.Dir(name)), name
	}
	t, err := loadVicunaTable(fsys, table, only)
	if err != nil {
		return nil, Stats{}, err
	}
	return t.pool.responses(VicunaBench)
}

// loadVicunaTable reads question.jsonl and answer/*.jsonl of dir. Answers
// from the file only, or from all files if only is empty, are selected to
// become response rows.
func loadVicunaTable(fsys fs.FS, dir, only string) (*vicunaTable, error) {
	t := &vicunaTable{questions: map[string]string{}, answers: map[string]vicunaAnswer{}}
	if err := t.readQuestions(fsys, path.Join(dir, "question.jsonl")); err != nil {
		return nil, err
	}
	files, err := listFiles(fsys, path.Join(dir, "answer"), jsonlExt)
	if err != nil {
		return nil, err
	}
	if only != "" && !slices.Contains(files, only) {
		return nil, fmt.Errorf("%s is not an answer file of %s", only, dir)
	}
	for _, f := range files {
		if err := t.readAnswers(fsys, f, only == "" || f == only); err != nil {
			return nil, err
		}
	}
	return t, nil
}

func (t *vicunaTable) readQuestions(fsys fs.FS, name string) error {
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		return err
	}
	src := originOf(name, data)
	return eachJSONLine(data, src, func(i int, q *vicunaQuestion) error {
		if q.QuestionID == "" || q.Text == nil {
			return src.errorf(i, "want question_id and text")
		}
		t.questions[q.QuestionID.String()] = *q.Text
		return nil
	})
}

func (t *vicunaTable) readAnswers(fsys fs.FS, name string, selected bool) error {
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		return err
	}
	src := originOf(name, data)
	return eachJSONLine(data, src, func(i int, a *vicunaAnswer) error {
		if a.AnswerID == "" || a.ModelID == "" || a.Text == nil {
			return src.errorf(i, "want answer_id, model_id and text")
		}
		if _, dup := t.answers[a.AnswerID]; dup {
			return src.errorf(i, "answer_id %q repeats", a.AnswerID)
		}
		t.answers[a.AnswerID] = *a
		q, ok := t.questions[a.QuestionID.String()]
		t.pool.add(answer{
			model: a.ModelID, key: a.QuestionID.String(), prompt: q, hasPrompt: ok,
			text: *a.Text, src: src, index: i, selected: selected,
		})
		return nil
	})
}
