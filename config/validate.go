package config

import (
	"errors"
	"fmt"
	"net"
	"strings"

	"crypto/sha256"
	"encoding/hex"
)

// ErrInvalid is wrapped by every error [Config.Validate] returns.
var ErrInvalid = errors.New("invalid config")

// Validate checks every section and returns all problems at once, each
// naming the offending key.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s: %s", ErrInvalid, key, fmt.Sprintf(format, args...)))
	}
	switch c.Role {
	case RoleAll, RoleLearner, RoleRefiner:
	default:
		bad("role", "must be all, learner or refiner, got %q", c.Role)
	}
	c.validateKafka(bad)
	c.validateTopics(bad)
	c.validateStages(bad)
	if err := c.Learner.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("%w: learner: %w", ErrInvalid, err))
	}
	return errors.Join(errs...)
}

func (c *Config) validateKafka(bad func(string, string, ...any)) {
	k := c.Kafka
	for _, b := range k.Brokers {
		if _, _, err := net.SplitHostPort(b); err != nil {
			bad("kafka.brokers", "%q is not host:port", b)
		}
	}
	if k.GroupID == "" {
		bad("kafka.group_id", "must not be empty")
	}
	if k.Partitions < 1 {
		bad("kafka.partitions", "must be at least 1, got %d", k.Partitions)
	}
	if k.Replication < 1 {
		bad("kafka.replication", "must be at least 1, got %d", k.Replication)
	}
	// kafka-go uses MaxWait as a socket deadline too; short values cause
	// spurious timeouts (measured), so refuse them.
	if k.MaxWait < 500_000_000 {
		bad("kafka.max_wait", "must be at least 500ms, got %s", k.MaxWait)
	}
	switch k.SASL.Mechanism {
	case "", "plain", "scram-sha-256", "scram-sha-512":
	default:
		bad("kafka.sasl.mechanism", "unknown mechanism %q", k.SASL.Mechanism)
	}
}

func (c *Config) validateTopics(bad func(string, string, ...any)) {
	names := map[string]string{
		"topics.feedback":    c.Topics.Feedback,
		"topics.responses":   c.Topics.Responses,
		"topics.refined":     c.Topics.Refined,
		"topics.dead_letter": c.Topics.DeadLetter,
	}
	seen := map[string]string{}
	for key, name := range names {
		if name == "" {
			bad(key, "must not be empty")
			continue
		}
		if other, dup := seen[name]; dup {
			bad(key, "same topic %q as %s", name, other)
		}
		seen[name] = key
	}
}

func (c *Config) validateStages(bad func(string, string, ...any)) {
	positive := map[string]int{
		"ingest.poison_crashes":     c.Ingest.PoisonCrashes,
		"ingest.dedupe_capacity":    c.Ingest.DedupeCapacity,
		"stream.batch_events":       c.Stream.BatchEvents,
		"stream.queue_depth":        c.Stream.QueueDepth,
		"checkpoint.keep":           c.Checkpoint.Keep,
		"checkpoint.every_steps":    c.Checkpoint.EverySteps,
		"refine.max_rounds":         c.Refine.MaxRounds,
		"embedded.rows_per_message": c.Embedded.RowsPerMessage,
	}
	for key, v := range positive {
		if v < 1 {
			bad(key, "must be at least 1, got %d", v)
		}
	}
	// Refined records are encoded with the schemas package's default
	// text limit; a larger input limit would admit responses whose
	// refined record cannot be written.
	if c.Ingest.MaxTextBytes > 256<<10 {
		bad("ingest.max_text_bytes", "must be at most 256 KiB, got %d", c.Ingest.MaxTextBytes)
	}
	if c.Stream.BatchWait <= 0 {
		bad("stream.batch_wait", "must be positive")
	}
	if c.Checkpoint.Dir == "" {
		bad("checkpoint.dir", "must not be empty")
	}
	if c.Embedded.HoldoutShare < 0 || c.Embedded.HoldoutShare >= 1 {
		bad("embedded.holdout_share", "must be in [0, 1), got %g", c.Embedded.HoldoutShare)
	}
	if _, _, err := net.SplitHostPort(c.Metrics.Listen); c.Metrics.Listen != "" && err != nil {
		bad("metrics.listen", "%q is not host:port", c.Metrics.Listen)
	}
	switch strings.ToLower(c.Log.Format) {
	case "text", "json":
	default:
		bad("log.format", "must be text or json, got %q", c.Log.Format)
	}
}

// Redacted returns a copy safe to print: secrets are replaced.
func (c Config) Redacted() Config {
	if c.Kafka.SASL.Password != "" {
		c.Kafka.SASL.Password = "<redacted>"
	}
	c.Kafka.Brokers = append([]string(nil), c.Kafka.Brokers...)
	return c
}

// Fingerprint identifies everything that gives a model lineage its
// meaning: the learner configuration and the feedback topic. A checkpoint
// written under another fingerprint is not silently continued.
func (c *Config) Fingerprint() string {
	h := sha256.New()
	fmt.Fprintf(h, "learner=%s\nfeedback=%s\n", c.Learner.Fingerprint(), c.Topics.Feedback)
	return hex.EncodeToString(h.Sum(nil))[:16]
}
