// Package data embeds the real public preference data that `slhf run`
// replays when no Kafka cluster is configured:
//
//   - hh-rlhf: Anthropic HH-RLHF, harmless-base test split (MIT, see
//     hh-rlhf/LICENSE), 2,312 human-labelled pairs;
//   - pandalm: the PandaLM human-annotated test set (Apache-2.0, see
//     pandalm/LICENSE), 999 pairs over 170 prompts and five models, each
//     labelled by three annotators.
//
// The files are byte-for-byte copies of the originals.
package data

import (
	"embed"
	"io"
	"io/fs"
)

//go:embed hh-rlhf/harmless-base-test.jsonl.gz hh-rlhf/LICENSE
//go:embed pandalm/testset-v1.json pandalm/LICENSE
var files embed.FS

// Paths of the bundled datasets inside [FS].
const (
	HHRLHF  = "hh-rlhf/harmless-base-test.jsonl.gz"
	PandaLM = "pandalm/testset-v1.json"
)

// FS returns the bundled files, read-only.
func FS() fs.FS { return files }

// Open opens one bundled file; the caller closes it.
func Open(name string) (io.ReadCloser, error) { return files.Open(name) }
