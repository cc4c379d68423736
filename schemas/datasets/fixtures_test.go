package datasets

import (
	"errors"
	"io/fs"
	"os"
	"strings"
	"testing"

	"github.com/slhf-dev/slhf/schemas"
)

// row is the part of a Preference the fixture tests compare.
type row struct {
	Prompt, A, B   string
	Pref           float32
	ModelA, ModelB string
}

func rowOf(p schemas.Preference) row {
	return row{p.Prompt, p.ResponseA, p.ResponseB, p.Preference, p.ModelA, p.ModelB}
}

// winnerFirst undoes a position swap: the winner (or, for a tie, the
// lexically first model) becomes A.
func winnerFirst(r row) row {
	if r.Pref < 0.5 || (r.Pref == 0.5 && r.ModelA > r.ModelB) {
		r.A, r.B, r.ModelA, r.ModelB, r.Pref = r.B, r.A, r.ModelB, r.ModelA, 1-r.Pref
	}
	return r
}

func TestLoadPreferencesFixtures(t *testing.T) {
	fsys := os.DirFS("testdata")
	tests := []struct {
		name   string
		format Format
		path   string
		swaps  bool // compare with winnerFirst
		want   []row
		st     Stats // Emitted and Records, Skipped and Notes (Swapped ignored)
	}{
		{"hh", HHRLHF, "hh/good.jsonl", true, []row{
			{"Human: How do I bake bread?", "Mix flour and water.", "No.", 1, "", ""},
			{"Human: Hi\n\nAssistant: Hello!\n\nHuman: Tell me a secret", "", "Here is one.", 1, "", ""},
			{"Human: Same", "yes", "no", 1, "", ""},
		}, Stats{Records: 4, Emitted: 3, Skipped: map[string]int{SkipContextMismatch: 1},
			Notes: map[string]int{NoteEmptyResponse: 1}}},
		{"pandalm", PandaLM, "pandalm/good.json", false, []row{
			{"Rewrite this.\n\nA long sentence.", "Short.", "Shorter.", 1, "bloom-7b", "llama-7b"},
			{"Say yes.", "true", "yes", 0, "cerebras-gpt-6.7B", "opt-7b"},
			{"Say yes.", "ok", "false", 0.5, "llama-7b", "opt-7b"},
			{"Say yes.", "ok", "fine", 0.5, "llama-7b", "opt-7b"},
		}, Stats{Records: 4, Emitted: 4,
			Notes: map[string]int{NoteBoolAsText: 2, NoteSplitVoteTie: 1}}},
		{"mt-bench", MTBench, "mtbench/good.csv", false, []row{
			{"What is 2+2?", "4", "Four.", 0, "alpaca-13b", "gpt-4"},
			{"What is 2+2?",
				"4\n\nHuman: Say \"why\".\n\nAssistant: Because it's arithmetic.\nYes.",
				"Four.\n\nHuman: Say \"why\".\n\nAssistant: Counting.", 0.5, "alpaca-13b", "gpt-4"},
			{"What is 2+2?",
				"4\n\nHuman: Say \"why\".\n\nAssistant: Because it's arithmetic.\nYes.",
				"Four.\n\nHuman: Say \"why\".\n\nAssistant: Counting.", 1, "claude-v1", "llama-13b"},
			{"What is 2+2?", "4", "Four.", 0.5, "claude-v1", "llama-13b"},
		}, Stats{Records: 5, Emitted: 4, Skipped: map[string]int{SkipDuplicate: 1}}},
		{"llmbar", LLMBar, "llmbar/good.json", false, []row{
			{"Pick one.", "A", "B", 0, "", ""},
			{"Again.", "C", "D", 1, "", ""},
		}, Stats{Records: 2, Emitted: 2}},
		{"alpaca", AlpacaEval, "alpaca", false, []row{
			{"Name a fruit.", "one", "two", 1, "text_davinci_003", "gpt4_1106_preview"},
			{"Name a fruit.", "one", "two", 0, "text_davinci_003", "gpt4_1106_preview"},
			{"Name a fruit.", "one", "two", 0.5, "text_davinci_003", "gpt4_1106_preview"},
			{"Name a fruit.", "same", "same", 0.5, "text_davinci_003", "gpt4_1106_preview"},
			{"Name a fruit.", "one", "two", 0.75, "text_davinci_003", "gpt4_1106_preview"},
		}, Stats{Records: 6, Emitted: 5, Skipped: map[string]int{SkipNullLabel: 1},
			Notes: map[string]int{NoteIdenticalTie: 1}}},
		{"arena", Arena, "arena/model_judgment", true, []row{
			{"What is Go?", "A language.", "A board game (rated).", 1, "alpha", "beta"},
			{"Name a color.", "Red.", "Blue.", 0.5, "alpha", "beta"},
			{"Name a color.", "Green.", "Red.", 1, "gamma", "alpha"},
			{"Name a color.", "Green.", "Blue.", 1, "gamma", "beta"},
		}, Stats{Records: 6, Emitted: 4, Skipped: map[string]int{SkipNoScore: 1}}},
		{"vicuna", VicunaBench, "vicuna/table", false, []row{
			{"How to rest?", "Sleep.", "Relax.", 0, "alpaca-13b:v1", "bard:20230327"},
			{"Why sleep?", "Health.", "Memory.", 0.5, "alpaca-13b:v1", "bard:20230327"},
			{"How to rest?", "Relax.", "Sleep.", 1, "bard:20230327", "alpaca-13b:v1"},
		}, Stats{Records: 3, Emitted: 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, st, err := LoadPreferences(fsys, tt.path, tt.format)
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != len(tt.want) {
				t.Fatalf("got %d rows, want %d: %+v", len(rows), len(tt.want), rows)
			}
			for i, p := range rows {
				got := rowOf(p)
				if tt.swaps {
					got = winnerFirst(got)
				}
				if got != tt.want[i] {
					t.Errorf("row %d:\n got %+v\nwant %+v", i, got, tt.want[i])
				}
			}
			delete(st.Notes, NoteSwapped)
			checkStats(t, st, tt.st)
			checkInvariants(t, rows)
		})
	}
}

func checkStats(t *testing.T, got, want Stats) {
	t.Helper()
	if got.Records != want.Records || got.Emitted != want.Emitted ||
		!sameCounts(got.Skipped, want.Skipped) || !sameCounts(got.Notes, want.Notes) {
		t.Errorf("stats %+v, want %+v", got, want)
	}
}

func sameCounts(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// checkInvariants asserts what every read promises: unique ids, TS one ms
// apart from the epoch, labels in [0, 1], a prompt and a prompt id.
func checkInvariants(t *testing.T, rows []schemas.Preference) {
	t.Helper()
	ids := map[string]bool{}
	for i, p := range rows {
		if ids[p.EventID] || p.EventID == "" {
			t.Fatalf("row %d: EventID %q empty or repeated", i, p.EventID)
		}
		ids[p.EventID] = true
		if d := p.TS.Sub(epoch).Milliseconds(); d != int64(i) || p.TS.Location().String() != "UTC" {
			t.Fatalf("row %d: TS %v is not epoch + %d ms UTC", i, p.TS, i)
		}
		if p.Preference < 0 || p.Preference > 1 || p.Prompt == "" || p.PromptID == "" {
			t.Fatalf("row %d: preference %v, prompt %q, prompt id %q", i, p.Preference, p.Prompt, p.PromptID)
		}
	}
}

func TestLoadPreferencesBadFixtures(t *testing.T) {
	fsys := os.DirFS("testdata")
	tests := []struct {
		name   string
		format Format
		path   string
		index  int    // want a *RecordError at this record; -1 for another error
		substr string // in the message
	}{
		{"hh no turn", HHRLHF, "hh/bad_no_turn.jsonl", 1, "no \"\\n\\nAssistant:\" turn"},
		{"hh type", HHRLHF, "hh/bad_type.jsonl", 0, "cannot unmarshal number"},
		{"pandalm label", PandaLM, "pandalm/bad_label.json", 0, "label 3"},
		{"pandalm key", PandaLM, "pandalm/bad_key.json", 0, "cmp_key"},
		{"pandalm response", PandaLM, "pandalm/bad_response.json", 0, "neither string"},
		{"mt-bench conflict", MTBench, "mtbench/bad_conflict.csv", 1, "disagrees"},
		{"mt-bench winner", MTBench, "mtbench/bad_winner.csv", 0, "model_c"},
		{"mt-bench turn", MTBench, "mtbench/bad_turn.csv", 0, "judged turn is 3"},
		{"mt-bench literal", MTBench, "mtbench/bad_literal.csv", 0, "bad conversation literal"},
		{"mt-bench header", MTBench, "mtbench/bad_header.csv", -1, `no column "model_b"`},
		{"llmbar label", LLMBar, "llmbar/bad_label.json", 0, "label 0"},
		{"llmbar missing", LLMBar, "llmbar/bad_missing.json", 0, "want input"},
		{"alpaca preference", AlpacaEval, "alpaca/bad_preference.json", 0, "preference 3"},
		{"missing file", PandaLM, "pandalm/nope.json", -1, "nope.json"},
		{"arena not folder", Arena, "arena/question.jsonl", -1, "not a directory"},
		{"unknown format", Format("csv"), "llmbar/good.json", -1, "unknown dataset format"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := LoadPreferences(fsys, tt.path, tt.format)
			if err == nil {
				t.Fatal("no error")
			}
			var re *RecordError
			if isRec := errors.As(err, &re); isRec != (tt.index >= 0) || (isRec && re.Index != tt.index) {
				t.Errorf("error %v: RecordError %v, want index %d", err, re, tt.index)
			}
			if tt.name == "missing file" && !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("error %v is not fs.ErrNotExist", err)
			}
			if tt.format == "csv" && !errors.Is(err, ErrUnknownFormat) {
				t.Errorf("error %v is not ErrUnknownFormat", err)
			}
			if !strings.Contains(err.Error(), tt.substr) {
				t.Errorf("error %q lacks %q", err, tt.substr)
			}
		})
	}
}
