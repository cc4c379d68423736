package datasets

import (
	"fmt"
)

// Reasons a record is skipped, the keys of Stats.Skipped.
const (
	// SkipContextMismatch: an hh-rlhf pair whose two dialogues differ
	// before their final reply, so no single prompt fits both.
	SkipContextMismatch = "context_mismatch"
	// SkipNullLabel: an alpaca-eval annotation whose preference is null
	// (the judge call failed).
	SkipNullLabel = "null_label"
	// SkipNoScore: an arena rating whose score is null or negative.
	SkipNoScore = "no_score"
	// SkipDuplicate: a repeat of a record already read (the joined
	// MT-Bench file repeats each human vote once per GPT-4 turn; a model
	// rated twice on one arena question; every record of a file
	// byte-identical to one read before it in a folder read).
	SkipDuplicate = "duplicate"
	// SkipMissingQuestion: an answer whose question is not in the
	// question file, so it has no prompt.
	SkipMissingQuestion = "missing_question"
)

// Notes on records kept with a documented rewrite, the keys of Stats.Notes.
const (
	// NoteBoolAsText: a JSON boolean response kept as its text "true" or
	// "false" (PandaLM).
	NoteBoolAsText = "bool_as_text"
	// NoteSplitVoteTie: a three-way annotator split turned into a tie
	// (PandaLM).
	NoteSplitVoteTie = "split_vote_tie"
	// NoteIdenticalTie: identical outputs (alpaca-eval preference 0)
	// turned into a tie.
	NoteIdenticalTie = "identical_tie"
	// NoteEmptyResponse: a row kept although one response is empty.
	NoteEmptyResponse = "empty_response"
	// NoteExtraTurns: an arena answer with more turns than its one-turn
	// question; the first turn is kept.
	NoteExtraTurns = "extra_turns"
	// NoteSwapped: a row whose A and B were swapped against the source
	// order (hh-rlhf, arena pairs); see the package documentation.
	NoteSwapped = "swapped"
)

// Stats accounts for every source record a read saw. The zero value is an
// empty account; the maps are nil until a key is counted.
type Stats struct {
	// Records is the number of source records read: pairs, votes,
	// annotations, answers, or (for arena preferences) ratings.
	Records int
	// Emitted is the number of rows returned. It differs from Records
	// minus the skips only for arena preferences, whose rows are pairs
	// derived from ratings.
	Emitted int
	// Skipped counts records left out, by reason (the Skip* constants).
	Skipped map[string]int
	// Notes counts rows kept with a rewrite, by kind (the Note* constants).
	Notes map[string]int
}

func (s *Stats) skip(reason string) {
	if s.Skipped == nil {
		s.Skipped = map[string]int{}
	}
	s.Skipped[reason]++
}

func (s *Stats) note(kind string) {
	if s.Notes == nil {
		s.Notes = map[string]int{}
	}
	s.Notes[kind]++
}

// merge adds o's counts to s.
func (s *Stats) merge(o Stats) {
	s.Records += o.Records
	s.Emitted += o.Emitted
	s.Skipped = addCounts(s.Skipped, o.Skipped)
	s.Notes = addCounts(s.Notes, o.Notes)
}

func addCounts(dst, src map[string]int) map[string]int {
	if dst == nil && len(src) > 0 {
		dst = make(map[string]int, len(src))
	}
	for k, v := range src {
		dst[k] += v
	}
	return dst
}

// RecordError reports a malformed source record. Source names the file
// (its path inside the read's file system, or the source given to
// DecodePreferences), Index is the record's 0-based position in it.
type RecordError struct {
	Source string
	Index  int
	Err    error
}

// Error implements error.
func (e *RecordError) Error() string {
	return fmt.Sprintf("%s: record %d: %v", e.Source, e.Index, e.Err)
}

// Unwrap returns the underlying error.
func (e *RecordError) Unwrap() error { return e.Err }
