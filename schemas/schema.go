package schemas

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/apache/arrow-go/v18/arrow"
)

// Version is the only schema version of every record kind this build
// writes and decodes.
const Version = "1"

// colKind is the logical type of a column; it fixes its Arrow type.
type colKind int

const (
	kindText      colKind = iota // utf8
	kindTimestamp                // timestamp[ms, tz=UTC]
	kindFloat32                  // float32
	kindInt32                    // int32
	kindInt64                    // int64
	kindBool                     // bool
	kindTextList                 // list<item: utf8>
	kindEmbedding                // fixed_size_list<item: float32>[D]
)

// fieldDef describes one column of a record kind.
type fieldDef struct {
	name     string
	kind     colKind
	required bool
	meaning  string
}

var preferenceFields = []fieldDef{
	{"event_id", kindText, true, "unique id of the feedback event; duplicates are dropped"},
	{"ts", kindTimestamp, true, "event time, milliseconds since the Unix epoch, UTC"},
	{"prompt", kindText, true, "the whole conversation before the compared replies"},
	{"response_a", kindText, true, "first compared response"},
	{"response_b", kindText, true, "second compared response"},
	{"preference", kindFloat32, true, "P(a preferred over b) in [0, 1]; 0.5 is a tie"},
	{"prompt_id", kindText, false, "stable id of the prompt"},
	{"model_a", kindText, false, "model that wrote response_a"},
	{"model_b", kindText, false, "model that wrote response_b"},
	{"role_a", kindText, false, "policy that served response_a: leader, follower or external"},
	{"role_b", kindText, false, "policy that served response_b: leader, follower or external"},
	{"prob_a", kindFloat32, false, "behaviour probability of response_a, in [0, 1]"},
	{"prob_b", kindFloat32, false, "behaviour probability of response_b, in [0, 1]"},
	{"policy_version", kindInt64, false, "version (>= 0) of the policy that served the pair"},
	{"weight", kindFloat32, false, "importance of the event, finite and >= 0; null means 1"},
	{"annotator", kindText, false, "hashed annotator id"},
	{"prompt_embedding", kindEmbedding, false, "precomputed prompt embedding"},
	{"embedding_a", kindEmbedding, false, "precomputed embedding of response_a"},
	{"embedding_b", kindEmbedding, false, "precomputed embedding of response_b"},
}

var responseFields = []fieldDef{
	{"request_id", kindText, true, "stable key of the request; refined output reuses it"},
	{"ts", kindTimestamp, true, "request time, milliseconds since the Unix epoch, UTC"},
	{"prompt", kindText, true, "the whole conversation before the reply"},
	{"response", kindText, true, "the reply to refine"},
	{"candidates", kindTextList, false, "alternative replies the Follower may choose from"},
	{"model", kindText, false, "model that wrote response"},
	{"prompt_embedding", kindEmbedding, false, "precomputed prompt embedding"},
	{"response_embedding", kindEmbedding, false, "precomputed embedding of response"},
}

var refinedFields = []fieldDef{
	{"request_id", kindText, true, "request_id of the response.v1 row refined"},
	{"ts", kindTimestamp, true, "time the refinement finished, ms since the Unix epoch, UTC"},
	{"prompt", kindText, true, "the conversation before the reply"},
	{"original", kindText, true, "the reply as received"},
	{"refined", kindText, true, "the reply after refinement"},
	{"rounds", kindInt32, true, "refinement rounds run (>= 0)"},
	{"changed", kindBool, true, "whether refined differs from original"},
	{"follower_prob", kindFloat32, true, "Follower probability of the last choice, in [0, 1]"},
	{"model_version", kindInt64, true, "checkpoint step of the model snapshot used (>= 0)"},
	{"latency_us", kindInt64, true, "time spent refining, microseconds (>= 0)"},
	{"reason", kindText, true, "why refinement stopped, e.g. kept or max_rounds"},
}

// utc is the time zone string of every ts column.
const utc = "UTC"

// arrowType returns the Arrow type of a column of kind k; dim is the
// embedding dimension, used by kindEmbedding only.
func arrowType(k colKind, dim int) arrow.DataType {
	switch k {
	case kindText:
		return arrow.BinaryTypes.String
	case kindTimestamp:
		return &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: utc}
	case kindFloat32:
		return arrow.PrimitiveTypes.Float32
	case kindInt32:
		return arrow.PrimitiveTypes.Int32
	case kindInt64:
		return arrow.PrimitiveTypes.Int64
	case kindBool:
		return arrow.FixedWidthTypes.Boolean
	case kindTextList:
		return arrow.ListOf(arrow.BinaryTypes.String)
	case kindEmbedding:
		return arrow.FixedSizeListOf(int32(dim), arrow.PrimitiveTypes.Float32)
	}
	panic(fmt.Sprintf("schemas: unknown column kind %d", k))
}

// buildSchema makes the Arrow schema of a kind. Embedding columns are
// included only when dim > 0.
func buildSchema(name string, defs []fieldDef, dim int) *arrow.Schema {
	fields := make([]arrow.Field, 0, len(defs))
	for _, d := range defs {
		if d.kind == kindEmbedding && dim <= 0 {
			continue
		}
		fields = append(fields, arrow.Field{
			Name:     d.name,
			Type:     arrowType(d.kind, dim),
			Nullable: !d.required,
		})
	}
	md := arrow.NewMetadata(
		[]string{MetaSchemaName, MetaSchemaVersion},
		[]string{name, Version},
	)
	return arrow.NewSchema(fields, &md)
}

// PreferenceSchema returns the preference.v1 Arrow schema. The embedding
// columns (prompt_embedding, embedding_a, embedding_b) are present, as
// fixed_size_list<float32>[dim], only when dim > 0. Required columns are
// non-nullable, optional ones nullable; the schema metadata carries the
// kind and version. The result is freshly built and owned by the caller.
func PreferenceSchema(dim int) *arrow.Schema {
	return buildSchema(PreferenceName, preferenceFields, dim)
}

// ResponseSchema returns the response.v1 Arrow schema; embedding columns
// are present only when dim > 0, as in [PreferenceSchema].
func ResponseSchema(dim int) *arrow.Schema {
	return buildSchema(ResponseName, responseFields, dim)
}

// RefinedSchema returns the refined.v1 Arrow schema. All its columns are
// required.
func RefinedSchema() *arrow.Schema {
	return buildSchema(RefinedName, refinedFields, 0)
}

// FieldSpec describes one column for people, as printed by `slhf schema`.
type FieldSpec struct {
	Name     string // column name
	Type     string // Arrow type, with D standing for the embedding dimension
	Required bool   // a required column must be present and never null
	Meaning  string // one line
}

// Spec describes one record kind.
type Spec struct {
	Name    string // record kind, e.g. "preference"
	Version string // schema version, e.g. "1"
	Fields  []FieldSpec
}

// ID returns the kind and version joined as in the design, e.g.
// "preference.v1".
func (s Spec) ID() string { return s.Name + ".v" + s.Version }

// Specs returns the description of every record kind, in the order
// preference, response, refined. The result is freshly built.
func Specs() []Spec {
	return []Spec{
		specOf(PreferenceName, preferenceFields),
		specOf(ResponseName, responseFields),
		specOf(RefinedName, refinedFields),
	}
}

func specOf(name string, defs []fieldDef) Spec {
	s := Spec{Name: name, Version: Version, Fields: make([]FieldSpec, len(defs))}
	for i, d := range defs {
		s.Fields[i] = FieldSpec{
			Name:     d.name,
			Type:     typeName(d.kind),
			Required: d.required,
			Meaning:  d.meaning,
		}
	}
	return s
}

func typeName(k colKind) string {
	if k == kindEmbedding {
		return "fixed_size_list<float32>[D]"
	}
	return arrowType(k, 0).String()
}

// Describe writes a human-readable table of every record kind to w: for
// each field its name, Arrow type, required or optional, and meaning.
func Describe(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for i, s := range Specs() {
		if i > 0 {
			fmt.Fprintln(tw)
		}
		fmt.Fprintf(tw, "%s\t(metadata %s=%s, %s=%s)\n",
			s.ID(), MetaSchemaName, s.Name, MetaSchemaVersion, s.Version)
		for _, f := range s.Fields {
			req := "optional"
			if f.Required {
				req = "required"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", f.Name, f.Type, req, f.Meaning)
		}
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("describe schemas: %w", err)
	}
	return nil
}
