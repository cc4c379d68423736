// Package config holds slhf's one typed configuration tree, its defaults
// and its validation. Decoding (YAML file, SLHF_* environment variables,
// flags) happens in cmd/slhf; this package never reads files or the
// environment itself.
package config

import (
	"time"

	"github.com/slhf-dev/slhf/internal/kafkax"
	"github.com/slhf-dev/slhf/learner"
)

// Config is the whole configuration of one slhf process. The zero value
// is not useful; start from [Default].
type Config struct {
	// Role says which stages this process runs: "all" (default: learn
	// and refine), "learner", or "refiner" (refine only, with the newest
	// model read from checkpoint.dir; run several in one consumer group
	// to scale out).
	Role string
	// Kafka says how to reach the cluster. With no brokers, `slhf run`
	// starts an embedded broker and replays the bundled dataset.
	Kafka Kafka
	// Topics names the topics the service reads and writes.
	Topics Topics
	// Ingest bounds what one message may cost to decode.
	Ingest Ingest
	// Stream tunes micro-batching, queues and shutdown.
	Stream Stream
	// Checkpoint says where and how often model state is saved.
	Checkpoint Checkpoint
	// Refine tunes the refinement stage.
	Refine Refine
	// Output lists the local sinks of refined records.
	Output Output
	// Metrics is the HTTP listener for /metrics, /healthz and /readyz.
	Metrics Metrics
	// Learner is the model: features, preference model, StackelbergGDA.
	Learner learner.Config
	// Embedded tunes the self-contained run on the bundled data.
	Embedded Embedded
	// Log sets the log level and format.
	Log Log
}

// Kafka is the cluster connection. Password is a secret: [Config.Redacted]
// hides it.
type Kafka struct {
	Brokers       []string
	ClientID      string
	GroupID       string // consumer group of refine workers and of lag monitoring
	DialTimeout   time.Duration
	TLS           kafkax.TLSConfig
	SASL          kafkax.SASLConfig
	CreateTopics  bool // create missing topics at start (idempotent)
	Partitions    int  // partitions of topics created at start
	Replication   int  // replication factor of topics created at start
	MaxWait       time.Duration
	RetryBackoff  time.Duration // first delay between reconnect attempts
	RetryMaxDelay time.Duration // cap of the exponential backoff
}

// Topics names the service's topics.
type Topics struct {
	Feedback   string // preference.v1 input of the learner
	Responses  string // response.v1 input of the refine stage
	Refined    string // refined.v1 output of the refine stage
	DeadLetter string // rejected input messages, with reason headers
}

// Ingest bounds decoding. Zero means the decoder's default.
type Ingest struct {
	MaxMessageBytes int // larger message values are dead-lettered unread
	MaxRows         int // rows in one message
	MaxTextBytes    int // bytes of one prompt or response
	// PoisonCrashes is how many consecutive crashes with the same message
	// in flight make it poison: it is then dead-lettered undecoded.
	PoisonCrashes int
	// DedupeCapacity bounds the remembered event ids (per learner lineage).
	DedupeCapacity int
	// StateDir holds the in-flight marker of the crash-loop guard.
	StateDir string
}

// Stream tunes the stages.
type Stream struct {
	BatchEvents  int           // events per learner step (whole messages)
	BatchWait    time.Duration // a partial batch is flushed after this long
	QueueDepth   int           // decoded messages buffered between stages
	DrainTimeout time.Duration // hard deadline of a graceful stop
}

// Checkpoint says where model state goes.
type Checkpoint struct {
	Dir        string
	Keep       int           // checkpoints kept on disk
	EverySteps int           // checkpoint after this many learner steps
	Interval   time.Duration // and at least this often while learning
	// NewLineage starts a fresh model when the stored checkpoint's config
	// fingerprint differs; without it the learner refuses to start.
	NewLineage bool
}

// Refine tunes the refine stage.
type Refine struct {
	Enabled    bool
	MaxRounds  int           // Follower rounds per response
	ReloadPoll time.Duration // how often a refiner checks the checkpoint dir
}

// Output lists local sinks for refined records.
type Output struct {
	JSONL  string // path of a JSON-lines file; empty disables it
	Stdout bool   // print each refined record as a JSON line
}

// Metrics is the HTTP listener.
type Metrics struct {
	Listen string // host:port; 127.0.0.1 unless you mean to expose it
}

// Embedded tunes `slhf run` without brokers.
type Embedded struct {
	// HoldoutShare is the share of PandaLM prompts kept out of learning
	// and sent through the refine stage instead.
	HoldoutShare float64
	// MaxFeedback caps replayed feedback events (0 = all).
	MaxFeedback int
	// RowsPerMessage is the number of rows per replayed Kafka message.
	RowsPerMessage int
}

// Log sets logging.
type Log struct {
	Level  string // debug, info, warn, error
	Format string // text or json
}

// Default returns the configuration every other source overrides.
func Default() Config {
	return Config{
		Role: RoleAll,
		Kafka: Kafka{
			ClientID:      "slhf",
			GroupID:       "slhf",
			DialTimeout:   10 * time.Second,
			CreateTopics:  true,
			Partitions:    3,
			Replication:   1,
			MaxWait:       500 * time.Millisecond,
			RetryBackoff:  250 * time.Millisecond,
			RetryMaxDelay: 10 * time.Second,
		},
		Topics: Topics{
			Feedback:   "slhf.feedback",
			Responses:  "slhf.responses",
			Refined:    "slhf.refined",
			DeadLetter: "slhf.dead-letter",
		},
		Ingest: Ingest{
			MaxMessageBytes: 1 << 20,
			MaxRows:         10_000,
			MaxTextBytes:    64 << 10,
			PoisonCrashes:   3,
			DedupeCapacity:  1 << 20,
			StateDir:        "slhf-state",
		},
		Stream: Stream{
			BatchEvents:  64,
			BatchWait:    200 * time.Millisecond,
			QueueDepth:   64,
			DrainTimeout: 30 * time.Second,
		},
		Checkpoint: Checkpoint{
			Dir:        "slhf-state/checkpoints",
			Keep:       3,
			EverySteps: 20,
			Interval:   30 * time.Second,
		},
		Refine: Refine{
			Enabled:    true,
			MaxRounds:  3,
			ReloadPoll: 2 * time.Second,
		},
		Output:   Output{JSONL: "slhf-state/refined.jsonl"},
		Metrics:  Metrics{Listen: "127.0.0.1:9464"},
		Learner:  learner.DefaultConfig(),
		Embedded: Embedded{HoldoutShare: 0.2, RowsPerMessage: 100},
		Log:      Log{Level: "info", Format: "text"},
	}
}

// Roles of a process.
const (
	RoleAll     = "all"
	RoleLearner = "learner"
	RoleRefiner = "refiner"
)

// Learns reports whether the process runs the learn stage.
func (c *Config) Learns() bool { return c.Role != RoleRefiner }

// Refines reports whether the process runs the refine stage.
func (c *Config) Refines() bool { return c.Role != RoleLearner && c.Refine.Enabled }

// UsesEmbeddedBroker reports whether no cluster is configured, in which
// case `slhf run` starts its own broker on 127.0.0.1.
func (c *Config) UsesEmbeddedBroker() bool { return len(c.Kafka.Brokers) == 0 }
