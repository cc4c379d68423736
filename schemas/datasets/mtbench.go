package datasets

import (
	"archive/zip"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/slhf-dev/slhf/schemas"
)

// mtColumns are the CSV columns the MT-Bench reader needs.
var mtColumns = []string{
	"question_id", "model_a", "model_b", "winner_x", "judge_x",
	"conversation_a_x", "conversation_b_x", "turn_x",
}

// mtVote is one human vote: the CSV fields named by mtColumns.
type mtVote struct {
	qid, modelA, modelB, winner, judge, convA, convB, turn string
}

// decodeMTBench decodes the joined MT-Bench CSV, zipped or plain.
func decodeMTBench(data []byte, src origin) ([]schemas.Preference, Stats, error) {
	body, err := mtCSV(data)
	if err != nil {
		return nil, Stats{}, err
	}
	r := csv.NewReader(body)
	r.ReuseRecord = true
	col, err := mtHeader(r)
	if err != nil {
		return nil, Stats{}, fmt.Errorf("%s: %w", src.name, err)
	}
	return mtRows(r, col, src)
}

// mtCSV returns a reader of the CSV: data itself, or the single .csv file
// of the zip archive data.
func mtCSV(data []byte) (io.Reader, error) {
	if !bytes.HasPrefix(data, []byte("PK\x03\x04")) {
		return bytes.NewReader(data), nil
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("open zip: %w", err)
	}
	var found *zip.File
	for _, f := range zr.File {
		if path.Ext(f.Name) == ".csv" {
			if found != nil {
				return nil, errors.New("zip holds more than one .csv file")
			}
			found = f
		}
	}
	if found == nil {
		return nil, errors.New("zip holds no .csv file")
	}
	return found.Open()
}

// mtHeader reads the header and returns the index of each mtColumns name.
func mtHeader(r *csv.Reader) ([]int, error) {
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("read csv header: %w", err)
	}
	pos := make(map[string]int, len(header))
	for i, h := range header {
		pos[strings.TrimPrefix(h, "\ufeff")] = i
	}
	col := make([]int, len(mtColumns))
	for i, name := range mtColumns {
		at, ok := pos[name]
		if !ok {
			return nil, fmt.Errorf("csv has no column %q", name)
		}
		col[i] = at
	}
	return col, nil
}

// mtRows reads the votes after the header, dropping repeats.
func mtRows(r *csv.Reader, col []int, src origin) ([]schemas.Preference, Stats, error) {
	var (
		rows []schemas.Preference
		st   Stats
		seen = map[[5]string]mtVote{}
	)
	for i := 0; ; i++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return rows, st, nil
		}
		if err != nil {
			return nil, st, src.wrap(i, err)
		}
		st.Records++
		v := mtVote{rec[col[0]], rec[col[1]], rec[col[2]], rec[col[3]],
			rec[col[4]], rec[col[5]], rec[col[6]], rec[col[7]]}
		key := [5]string{v.qid, v.modelA, v.modelB, v.judge, v.turn}
		if prev, dup := seen[key]; dup {
			if prev != v {
				return nil, st, src.errorf(i, "repeat of vote %v disagrees with it", key)
			}
			st.skip(SkipDuplicate)
			continue
		}
		seen[key] = v
		p, err := mtPreference(&v, src, i)
		if err != nil {
			return nil, st, err
		}
		rows = append(rows, p)
	}
}

// mtPreference turns one vote, the i-th CSV record, into a row.
func mtPreference(v *mtVote, src origin, i int) (schemas.Preference, error) {
	pref, ok := mtWinner(v.winner)
	if !ok {
		return schemas.Preference{}, src.errorf(i, "winner_x %q", v.winner)
	}
	convA, errA := parseConversation(v.convA)
	convB, errB := parseConversation(v.convB)
	if err := errors.Join(errA, errB); err != nil {
		return schemas.Preference{}, src.wrap(i, err)
	}
	prompt, a, b, err := judgedSplit(convA, convB, v.turn)
	if err != nil {
		return schemas.Preference{}, src.wrap(i, err)
	}
	return schemas.Preference{
		EventID: src.id(MTBench, i), Prompt: prompt,
		PromptID:  string(MTBench) + ":" + v.qid + ":" + v.turn,
		ResponseA: a, ResponseB: b, Preference: pref, ModelA: v.modelA, ModelB: v.modelB,
		RoleA: schemas.RoleExternal, RoleB: schemas.RoleExternal,
		Annotator: hashAnnotator(v.judge),
	}, nil
}

// mtWinner maps winner_x to P(A ≻ B).
func mtWinner(w string) (float32, bool) {
	switch w {
	case "model_a":
		return 1, true
	case "model_b":
		return 0, true
	case "tie", "tie (bothbad)":
		return 0.5, true
	}
	return 0, false
}

// judgedSplit cuts two conversations at the judged answer, the turn-th
// assistant message of each. The prompt is the messages both share before
// it; each response is the rest of its conversation up to and including
// the judged answer (see MTBench).
func judgedSplit(a, b []message, turn string) (prompt, respA, respB string, err error) {
	endA, errA := assistantTurn(a, turn)
	endB, errB := assistantTurn(b, turn)
	if err := errors.Join(errA, errB); err != nil {
		return "", "", "", err
	}
	shared := 0
	for shared < min(endA, endB) && a[shared] == b[shared] {
		shared++
	}
	if shared == 0 {
		return "", "", "", errors.New("conversations share no opening message")
	}
	prompt = renderDialogue(a[:shared])
	return prompt, renderReply(a[shared : endA+1]), renderReply(b[shared : endB+1]), nil
}

// assistantTurn returns the index of the turn-th (1-based, decimal)
// assistant message of conv.
func assistantTurn(conv []message, turn string) (int, error) {
	want := 0
	if _, err := fmt.Sscanf(turn, "%d", &want); err != nil || want < 1 {
		return 0, fmt.Errorf("turn %q is not a positive number", turn)
	}
	seen := 0
	for i, m := range conv {
		if m.Role == "assistant" {
			seen++
			if seen == want {
				return i, nil
			}
		}
	}
	return 0, fmt.Errorf("conversation has %d assistant turns, judged turn is %d", seen, want)
}

// renderDialogue writes a conversation prefix as text: a lone user message
// as itself, anything longer as "Human: …\n\nAssistant: …" turns.
func renderDialogue(msgs []message) string {
	if len(msgs) == 1 && msgs[0].Role == "user" {
		return msgs[0].Text
	}
	var b strings.Builder
	for i, m := range msgs {
		if i > 0 {
			b.WriteString("\n\n")
		}
		b.WriteString(roleLabel(m.Role) + ": " + m.Text)
	}
	return b.String()
}

// renderReply writes the messages from a reply on: the first as itself,
// each later one as "\n\n<Role>: text".
func renderReply(msgs []message) string {
	var b strings.Builder
	for i, m := range msgs {
		if i > 0 {
			b.WriteString("\n\n" + roleLabel(m.Role) + ": ")
		}
		b.WriteString(m.Text)
	}
	return b.String()
}

func roleLabel(role string) string {
	switch role {
	case "user":
		return "Human"
	case "assistant":
		return "Assistant"
	}
	return role
}
