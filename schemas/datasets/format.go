package datasets

import (
	"errors"
	"fmt"
	"strings"
)

// Format names a public dataset layout. The zero value is not a format.
type Format string

// The formats this package reads. See the package documentation for what a
// path means for each.
const (
	// HHRLHF is Anthropic's HH-RLHF: Prompt is the dialogue shared by chosen
	// and rejected up to their final "\n\nAssistant:" turn (leading blank
	// lines removed), the responses are the two final replies (spaces
	// trimmed; four chosen replies in the harmless-base test split are
	// empty and kept, counted as NoteEmptyResponse). Pairs whose contexts
	// differ are skipped as SkipContextMismatch.
	HHRLHF Format = "hh-rlhf"
	// PandaLM is the PandaLM human test set: the label is the majority of
	// annotator1..3 (1 → A, 2 → B, 0 → tie); a three-way split is a tie,
	// counted as NoteSplitVoteTie. A JSON boolean response becomes its JSON
	// text ("true"), counted as NoteBoolAsText. Prompt is the instruction,
	// followed by a blank line and the input when the input is not empty.
	PandaLM Format = "pandalm"
	// MTBench is the joined MT-Bench human judgment CSV: votes are
	// deduplicated on (question_id, model_a, model_b, judge_x, turn_x),
	// winner model_a → 1, model_b → 0, tie → 0.5. Prompt is the part of
	// the two conversations they share before the judged answer; each
	// response is the rest of its conversation up to and including the
	// judged answer, so a turn-2 response reads
	// "<answer 1>\n\nHuman: <question 2>\n\nAssistant: <answer 2>".
	MTBench Format = "mt-bench"
	// LLMBar is LLMBar's {input, output_1, output_2, label} lists: label 1
	// → A, 2 → B. There are no model names.
	LLMBar Format = "llmbar"
	// Arena is arena-bench-v1. Preferences pair the GPT-4 1–10 ratings of
	// two models on the same question (higher wins, equal is a tie); the
	// prompt and the rated answer come from the judge's user_prompt,
	// because some rated answers differ from model_answer. Ratings without
	// a score are skipped as SkipNoScore.
	Arena Format = "arena"
	// AlpacaEval is AlpacaEval. Annotation preference p in [1, 2] gives
	// P(A ≻ B) = 2 − p (1 → A, 2 → B, 1.5 → tie); p = 0 marks identical
	// outputs and becomes a tie, counted as NoteIdenticalTie; null is
	// skipped as SkipNullLabel.
	AlpacaEval Format = "alpaca-eval"
	// VicunaBench is the March 2023 Vicuna GPT-4 review table: each review
	// scores answer1 and answer2, the higher score wins, equal is a tie.
	VicunaBench Format = "vicuna-bench"
)

// Sentinel errors.
var (
	// ErrUnknownFormat is returned by ParseFormat and the readers for a
	// name that is not one of Formats.
	ErrUnknownFormat = errors.New("unknown dataset format")
	// ErrUnsupported is returned when a format has no rows of the asked
	// kind (e.g. responses from hh-rlhf) or when the input cannot provide
	// them (e.g. a single stream for a format that needs a folder).
	ErrUnsupported = errors.New("unsupported by this dataset format")
)

// Formats returns every Format in a fixed order. The caller owns the slice.
func Formats() []Format {
	return []Format{HHRLHF, PandaLM, MTBench, LLMBar, Arena, AlpacaEval, VicunaBench}
}

// ParseFormat returns the Format named s, ignoring case and surrounding
// space. An unknown name returns an error wrapping ErrUnknownFormat that
// lists the known names.
func ParseFormat(s string) (Format, error) {
	want := strings.ToLower(strings.TrimSpace(s))
	for _, f := range Formats() {
		if string(f) == want {
			return f, nil
		}
	}
	return "", fmt.Errorf("parse format %q: %w (known: %s)", s, ErrUnknownFormat, formatList())
}

func formatList() string {
	names := make([]string, 0, len(Formats()))
	for _, f := range Formats() {
		names = append(names, string(f))
	}
	return strings.Join(names, ", ")
}
