package datasets

import (
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/slhf-dev/slhf/schemas"
)

// publicData returns the folder of the public data sets, skipping the test
// when it is absent. The default is shared/data beside the repository
// (../../../shared/data from this package); SLHF_PUBLIC_DATA overrides it.
func publicData(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("SLHF_PUBLIC_DATA")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "data")
	}
	if _, err := os.Stat(filepath.Join(dir, "README.md")); err != nil {
		t.Skipf("public data not found in %s (set SLHF_PUBLIC_DATA): %v", dir, err)
	}
	return dir
}

// labelCounts counts rows by outcome: A won, B won, tie.
type labelCounts struct{ A, B, Tie int }

func countLabels(rows []schemas.Preference) labelCounts {
	var c labelCounts
	for _, r := range rows {
		switch r.Preference {
		case 1:
			c.A++
		case 0:
			c.B++
		case 0.5:
			c.Tie++
		}
	}
	return c
}

func distinct[T any](rows []T, key func(T) string) int {
	seen := map[string]bool{}
	for _, r := range rows {
		seen[key(r)] = true
	}
	return len(seen)
}

func TestPreferencesPublicData(t *testing.T) {
	root := publicData(t)
	type counts = map[string]int
	tests := []struct {
		name    string
		format  Format
		path    string
		st      Stats
		labels  labelCounts
		prompts int // distinct PromptIDs
		models  int // distinct model names; 0 when there are none
	}{
		{"hh-rlhf", HHRLHF, "hh-rlhf/harmless-base/test.jsonl.gz",
			Stats{2312, 2307, counts{SkipContextMismatch: 5}, counts{NoteEmptyResponse: 4}},
			labelCounts{1154, 1153, 0}, 2305, 0},
		{"pandalm", PandaLM, "pandalm-testset/data/testset-v1.json",
			Stats{999, 999, nil, counts{NoteBoolAsText: 6}}, labelCounts{422, 472, 105}, 170, 5},
		{"mt-bench", MTBench, "mt-bench-human-judgments/human_gpt_comparison.zip",
			Stats{3502, 1751, counts{SkipDuplicate: 1751}, nil}, labelCounts{294, 1040, 417}, 160, 6},
		{"llmbar all", LLMBar, "llmbar/Dataset", Stats{885, 885, nil, nil},
			labelCounts{440, 445, 0}, 757, 0},
		{"llmbar natural", LLMBar, "llmbar/Dataset/LLMBar/Natural/dataset.json",
			Stats{100, 100, nil, nil}, labelCounts{42, 58, 0}, 100, 0},
		{"llmbar neighbor", LLMBar, "llmbar/Dataset/LLMBar/Adversarial/Neighbor/dataset.json",
			Stats{134, 134, nil, nil}, labelCounts{75, 59, 0}, 134, 0},
		{"llmbar gptinst", LLMBar, "llmbar/Dataset/LLMBar/Adversarial/GPTInst/dataset.json",
			Stats{92, 92, nil, nil}, labelCounts{45, 47, 0}, 92, 0},
		{"llmbar gptout", LLMBar, "llmbar/Dataset/LLMBar/Adversarial/GPTOut/dataset.json",
			Stats{47, 47, nil, nil}, labelCounts{22, 25, 0}, 47, 0},
		{"llmbar manual", LLMBar, "llmbar/Dataset/LLMBar/Adversarial/Manual/dataset.json",
			Stats{46, 46, nil, nil}, labelCounts{22, 24, 0}, 46, 0},
		{"llmbar mt-bench", LLMBar, "llmbar/Dataset/Processed/MT-Bench/dataset.json",
			Stats{200, 200, nil, nil}, labelCounts{101, 99, 0}, 0, 0},
		{"llmbar faireval", LLMBar, "llmbar/Dataset/Processed/FairEval/dataset.json",
			Stats{66, 66, nil, nil}, labelCounts{41, 25, 0}, 0, 0},
		{"llmbar llmeval2", LLMBar, "llmbar/Dataset/Processed/LLMEval^2/dataset.json",
			Stats{200, 200, nil, nil}, labelCounts{92, 108, 0}, 0, 0},
		{"arena", Arena, "arena-bench-v1/model_judgment",
			Stats{2100, 6171, counts{SkipNoScore: 22}, nil}, labelCounts{2456, 2408, 1307}, 300, 7},
		{"alpaca gpt4_1106", AlpacaEval,
			"alpaca-eval/results/gpt4_1106_preview/alpaca_eval_gpt4/annotations.json",
			Stats{805, 804, counts{SkipNullLabel: 1}, counts{NoteIdenticalTie: 5}},
			labelCounts{16, 783, 5}, 804, 2},
		{"alpaca gpt35 gpt4", AlpacaEval,
			"alpaca-eval/results/gpt-3.5-turbo-0301/alpaca_eval_gpt4/annotations.json",
			Stats{805, 804, counts{SkipNullLabel: 1}, nil}, labelCounts{83, 716, 5}, 804, 2},
		{"alpaca gpt35 turbo_fn", AlpacaEval,
			"alpaca-eval/results/gpt-3.5-turbo-0301/alpaca_eval_gpt4_turbo_fn/annotations.json",
			Stats{805, 805, nil, nil}, labelCounts{740, 64, 1}, 805, 2},
		{"alpaca all", AlpacaEval, "alpaca-eval/results",
			Stats{2415, 2413, counts{SkipNullLabel: 2}, counts{NoteIdenticalTie: 5}},
			labelCounts{839, 1563, 11}, 805, 3},
		{"vicuna", VicunaBench, "fastchat-vicuna-bench-2023/table",
			Stats{1040, 1040, nil, nil}, labelCounts{277, 663, 100}, 80, 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			rows, st, err := loadDisk(filepath.Join(root, tt.path), tt.format)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("read %s in %v", tt.path, time.Since(start))
			delete(st.Notes, NoteSwapped)
			checkStats(t, st, tt.st)
			if got := countLabels(rows); got != tt.labels {
				t.Errorf("labels %+v, want %+v", got, tt.labels)
			}
			prompts := distinct(rows, func(p schemas.Preference) string { return p.PromptID })
			if tt.prompts != 0 && prompts != tt.prompts {
				t.Errorf("%d prompts, want %d", prompts, tt.prompts)
			}
			if got := countModels(rows); got != tt.models {
				t.Errorf("%d models, want %d", got, tt.models)
			}
			checkInvariants(t, rows)
		})
	}
}

func countModels(rows []schemas.Preference) int {
	seen := map[string]bool{}
	for _, p := range rows {
		if p.ModelA != "" {
			seen[p.ModelA] = true
		}
		if p.ModelB != "" {
			seen[p.ModelB] = true
		}
	}
	return len(seen)
}

// TestMTBenchTurnsPublicData checks the vote split by turn and judge the
// data README states, and the shape of turn-2 rows.
func TestMTBenchTurnsPublicData(t *testing.T) {
	root := publicData(t)
	rows, err := ReadPreferences(
		filepath.Join(root, "mt-bench-human-judgments/human_gpt_comparison.zip"), MTBench)
	if err != nil {
		t.Fatal(err)
	}
	turns := map[string]int{}
	sharedFirst := 0
	for _, p := range rows {
		turn := p.PromptID[strings.LastIndex(p.PromptID, ":")+1:]
		turns[turn]++
		// The second question sits in the responses, or in the prompt
		// when both models gave the same first answer.
		inReply := strings.Contains(p.ResponseA, "\n\nHuman: ")
		inPrompt := strings.HasPrefix(p.Prompt, "Human: ")
		if turn == "2" && inReply == inPrompt {
			t.Fatalf("turn-2 row %s: second question in reply %v, in prompt %v",
				p.EventID, inReply, inPrompt)
		}
		if turn == "2" && inPrompt {
			sharedFirst++
		}
	}
	t.Logf("%d turn-2 votes where both models gave the same first answer", sharedFirst)
	if turns["1"] != 882 || turns["2"] != 869 {
		t.Errorf("votes by turn %v, want 1:882 2:869", turns)
	}
	if n := distinct(rows, func(p schemas.Preference) string { return p.Annotator }); n != 65 {
		t.Errorf("%d judges, want 65", n)
	}
}

// TestHHWinnerIsChosenPublicData checks, against a plain reading of the
// file, that every row's winner is the "chosen" reply.
func TestHHWinnerIsChosenPublicData(t *testing.T) {
	path := filepath.Join(publicData(t), "hh-rlhf/harmless-base/test.jsonl.gz")
	rows, err := ReadPreferences(path, HHRLHF)
	if err != nil {
		t.Fatal(err)
	}
	chosen := readChosenReplies(t, path)
	for _, p := range rows {
		i, _ := strconv.Atoi(p.EventID[strings.LastIndex(p.EventID, "/")+1:])
		winner := p.ResponseA
		if p.Preference == 0 {
			winner = p.ResponseB
		}
		if winner != chosen[i] {
			t.Fatalf("row %s: winner %.80q, chosen %.80q", p.EventID, winner, chosen[i])
		}
	}
}

func readChosenReplies(t *testing.T, path string) []string {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	dec := json.NewDecoder(zr)
	for dec.More() {
		var r struct{ Chosen string }
		if err := dec.Decode(&r); err != nil {
			t.Fatal(err)
		}
		reply := r.Chosen[strings.LastIndex(r.Chosen, "\n\nAssistant:")+len("\n\nAssistant:"):]
		out = append(out, strings.TrimSpace(reply))
	}
	return out
}

func TestResponsesPublicData(t *testing.T) {
	root := publicData(t)
	tests := []struct {
		name       string
		format     Format
		path       string
		st         Stats
		models     int
		candidates int // per row, every row
	}{
		{"arena all", Arena, "arena-bench-v1/model_answer",
			Stats{5100, 5100, nil, map[string]int{NoteExtraTurns: 18}}, 17, 16},
		{"arena claude-1", Arena, "arena-bench-v1/model_answer/claude-1.jsonl",
			Stats{300, 300, nil, nil}, 1, 16},
		{"alpaca all", AlpacaEval, "alpaca-eval/results", Stats{7245, 7245, nil, nil}, 9, 8},
		{"alpaca gemini", AlpacaEval, "alpaca-eval/results/gemini-pro/model_outputs.json",
			Stats{805, 805, nil, nil}, 1, 8},
		{"vicuna all", VicunaBench, "fastchat-vicuna-bench-2023/table",
			Stats{560, 560, nil, nil}, 7, 6},
		{"vicuna bard", VicunaBench, "fastchat-vicuna-bench-2023/table/answer/answer_bard.jsonl",
			Stats{80, 80, nil, nil}, 1, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			fsys, name, err := diskFS(filepath.Join(root, tt.path))
			if err != nil {
				t.Fatal(err)
			}
			rows, st, err := LoadResponses(fsys, name, tt.format)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("read %s in %v", tt.path, time.Since(start))
			checkStats(t, st, tt.st)
			if n := distinct(rows, func(r schemas.Response) string { return r.Model }); n != tt.models {
				t.Errorf("%d models, want %d", n, tt.models)
			}
			if n := distinct(rows, func(r schemas.Response) string { return r.RequestID }); n != len(rows) {
				t.Errorf("%d distinct RequestIDs for %d rows", n, len(rows))
			}
			for _, r := range rows {
				if len(r.Candidates) != tt.candidates || r.Prompt == "" {
					t.Fatalf("row %s: %d candidates, prompt %q", r.RequestID, len(r.Candidates), r.Prompt)
				}
			}
		})
	}
}

func loadDisk(p string, format Format) ([]schemas.Preference, Stats, error) {
	fsys, name, err := diskFS(p)
	if err != nil {
		return nil, Stats{}, err
	}
	return LoadPreferences(fsys, name, format)
}
