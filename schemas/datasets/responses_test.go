package datasets

import (
	"errors"
	"os"
	"slices"
	"testing"
)

func TestLoadResponsesFixtures(t *testing.T) {
	fsys := os.DirFS("testdata")
	type resp struct {
		Model, Prompt, Text string
		Candidates          []string
	}
	tests := []struct {
		name   string
		format Format
		path   string
		want   []resp
		st     Stats
	}{
		{"arena folder", Arena, "arena/model_answer", []resp{
			{"alpha", "What is Go?", "A language.", []string{"A board game.", "Unsure."}},
			{"alpha", "Name a color.", "Red.", []string{"Blue."}},
			{"beta", "What is Go?", "A board game.", []string{"A language.", "Unsure."}},
			{"beta", "Name a color.", "Blue.", []string{"Red."}},
			{"gamma", "What is Go?", "Unsure.", []string{"A language.", "A board game."}},
		}, Stats{Records: 6, Emitted: 5, Skipped: map[string]int{SkipMissingQuestion: 1},
			Notes: map[string]int{NoteExtraTurns: 1}}},
		{"arena file", Arena, "arena/model_answer/gamma.jsonl", []resp{
			{"gamma", "What is Go?", "Unsure.", []string{"A language.", "A board game."}},
		}, Stats{Records: 1, Emitted: 1}},
		{"vicuna file", VicunaBench, "vicuna/table/answer/answer_b.jsonl", []resp{
			{"bard:20230327", "How to rest?", "Relax.", []string{"Sleep."}},
			{"bard:20230327", "Why sleep?", "Memory.", []string{"Health."}},
		}, Stats{Records: 2, Emitted: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, st, err := LoadResponses(fsys, tt.path, tt.format)
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != len(tt.want) {
				t.Fatalf("got %d rows, want %d", len(rows), len(tt.want))
			}
			ids := map[string]bool{}
			for i, r := range rows {
				w := tt.want[i]
				if r.Model != w.Model || r.Prompt != w.Prompt || r.Response != w.Text ||
					!slices.Equal(r.Candidates, w.Candidates) {
					t.Errorf("row %d: got %+v, want %+v", i, r, w)
				}
				if ids[r.RequestID] || r.TS.Sub(epoch).Milliseconds() != int64(i) {
					t.Errorf("row %d: RequestID %q repeated or TS %v off", i, r.RequestID, r.TS)
				}
				ids[r.RequestID] = true
			}
			checkStats(t, st, tt.st)
		})
	}
}

func TestLoadResponsesUnsupported(t *testing.T) {
	fsys := os.DirFS("testdata")
	for _, f := range []Format{HHRLHF, PandaLM, MTBench, LLMBar} {
		if _, _, err := LoadResponses(fsys, "llmbar/good.json", f); !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s: error %v, want ErrUnsupported", f, err)
		}
	}
	if _, _, err := LoadResponses(fsys, "x", "nope"); !errors.Is(err, ErrUnknownFormat) {
		t.Errorf("unknown format: error %v, want ErrUnknownFormat", err)
	}
}
