// Package datasets turns public preference and multi-model answer datasets
// into slhf records: [schemas.Preference] rows (feedback) and
// [schemas.Response] rows (traffic to refine).
//
// # Formats and what a path means
//
// Each [Format] reads one public layout. "File" below means the path names
// one file; "folder" means it names a directory that is searched.
//
//   - hh-rlhf: a file of JSON lines {chosen, rejected}, gzipped or plain
//     (detected from the gzip magic bytes). Preferences only.
//   - pandalm: the testset-v1.json file. Preferences only.
//   - mt-bench: the human_gpt_comparison.zip file, or the CSV it holds.
//     Preferences only.
//   - llmbar: one dataset.json file, or a folder searched for every
//     dataset.json below it. Preferences only.
//   - arena: preferences read the model_judgment folder (every *.jsonl in it);
//     responses read one model_answer/<model>.jsonl file or the whole
//     model_answer folder, with prompts from question.jsonl next to that
//     folder and candidates from the other answer files in it.
//   - alpaca-eval: preferences read one annotations.json file or a folder
//     searched for every annotations.json below it; responses read one
//     <model>/model_outputs.json file or the results folder, with
//     candidates from the other <model>/model_outputs.json files.
//   - vicuna-bench: preferences and responses read the table folder
//     (question.jsonl, answer/*.jsonl, review/**/*.jsonl); responses also
//     accept one answer/*.jsonl file.
//
// # Identity and time
//
// Every row gets an id "<format>/<source>/<index>" (EventID or RequestID):
// source is the first 12 hex digits of the SHA-256 of the file the row came
// from (of all contributing files, for derived arena pairs), and index is
// the record's position in that source. The ids are therefore stable across
// runs, machines and copies of the same bytes, so replaying a file twice is
// idempotent. TS is 2024-01-01T00:00:00Z plus the row's position in the
// returned slice, in milliseconds.
//
// # Labels
//
// Preference is P(A ≻ B): 1 when A won, 0 when B won, 0.5 for a tie. Where
// the source always lists the winner first (hh-rlhf) or in a fixed model
// order (arena pairs), A and B are swapped for a deterministic half of the
// rows, chosen by a hash of the index, so a learner cannot key on position.
// Other formats keep the source order, whose position bias is part of the
// data. Per-format rules (vote aggregation, ties, identical outputs) are on
// the Format constants.
//
// # Nothing silently dropped
//
// Records are either returned, or skipped for a documented reason counted
// in [Stats].Skipped, or the read fails with an error (a malformed record
// yields a [*RecordError]). [LoadPreferences] and [LoadResponses] return the
// Stats; the short forms discard them.
package datasets
