// Package schemas owns the Arrow schemas of slhf's records, their versions,
// their strict validation, and the conversion of public preference datasets
// into records.
//
// Three record kinds travel through the service:
//
//   - preference.v1: human feedback, a prompt, two responses and P(a ≻ b);
//   - response.v1: production traffic to refine;
//   - refined.v1: what the refine stage emits downstream.
//
// Every Kafka message value is one Arrow IPC stream holding one or more
// record batches of one of these schemas. The schema name and version are
// stored in the schema metadata under [MetaSchemaName] and
// [MetaSchemaVersion].
package schemas

import "time"

// Schema metadata keys and the names of the record kinds.
const (
	// MetaSchemaName is the Arrow schema metadata key holding the record
	// kind, for example "preference".
	MetaSchemaName = "slhf.schema"
	// MetaSchemaVersion is the metadata key holding the version, e.g. "1".
	MetaSchemaVersion = "slhf.version"

	// PreferenceName names the preference.v1 record kind.
	PreferenceName = "preference"
	// ResponseName names the response.v1 record kind.
	ResponseName = "response"
	// RefinedName names the refined.v1 record kind.
	RefinedName = "refined"
)

// Role says which policy served a response in a preference event.
type Role string

// Roles a response may carry; the empty Role means unknown.
const (
	RoleLeader   Role = "leader"
	RoleFollower Role = "follower"
	RoleExternal Role = "external"
)

// Preference is one preference.v1 row: a person compared ResponseA and
// ResponseB for Prompt and said how likely A is the better one.
//
// Optional fields use their zero value (or nil) for "absent".
type Preference struct {
	EventID   string    // required, unique across the stream
	TS        time.Time // event time, millisecond precision, UTC
	Prompt    string    // the whole conversation before the last reply
	ResponseA string
	ResponseB string
	// Preference is P(a ≻ b) in [0, 1]; 0.5 is a tie.
	Preference float32

	PromptID      string
	ModelA        string
	ModelB        string
	RoleA         Role
	RoleB         Role
	ProbA         *float32 // behaviour probability of ResponseA, if logged
	ProbB         *float32 // behaviour probability of ResponseB, if logged
	PolicyVersion *int64   // version of the policy that served the pair
	Weight        *float32 // importance of the event; nil means 1
	Annotator     string   // hashed annotator id

	PromptEmbedding []float32 // nil when absent; all embeddings share one D
	EmbeddingA      []float32
	EmbeddingB      []float32
}

// Response is one response.v1 row: production traffic to refine.
type Response struct {
	RequestID  string // required; the stable key of the refined output
	TS         time.Time
	Prompt     string
	Response   string
	Candidates []string // alternative answers the Follower may pick from
	Model      string

	PromptEmbedding   []float32
	ResponseEmbedding []float32
}

// Refined is one refined.v1 row, emitted by the refine stage.
type Refined struct {
	RequestID    string
	TS           time.Time
	Prompt       string
	Original     string
	Refined      string
	Rounds       int32   // refinement rounds actually run
	Changed      bool    // Refined differs from Original
	FollowerProb float32 // ω(refined | previous) at the last round
	ModelVersion int64   // checkpoint step of the snapshot used
	LatencyUS    int64   // time spent refining, microseconds
	Reason       string  // why refinement stopped: "kept", "max_rounds", ...
}
