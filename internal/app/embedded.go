package app

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/slhf-dev/slhf/config"
	"github.com/slhf-dev/slhf/ingest"
	"github.com/slhf-dev/slhf/schemas"
	"github.com/slhf-dev/slhf/sinks"
)

// Summary is what `slhf run` prints at the end of an embedded run, and
// writes as JSON with --summary-json. Field names are the JSON keys.
type Summary struct {
	FeedbackEvents   int            `json:"feedback_events"`
	SourceSkipped    map[string]int `json:"source_rows_skipped"`
	FeedbackMessages int            `json:"feedback_messages"`
	LearnedEvents    int            `json:"learned_events"`
	DuplicateEvents  int            `json:"duplicate_events"`
	DeadLettered     map[string]int `json:"dead_lettered"`
	Checkpoints      int            `json:"checkpoints"`
	LearnerSteps     int            `json:"learner_steps"`
	ModelVersion     int64          `json:"model_version"`
	PrefAccuracy     float64        `json:"pref_accuracy"`
	PrefAccuracyN    int            `json:"pref_accuracy_n"`
	PrefLogLoss      float64        `json:"pref_logloss"`
	Responses        int            `json:"responses"`
	Refined          int            `json:"refined"`
	RefinedChanged   int            `json:"refined_changed"`
	MeanRounds       float64        `json:"refined_mean_rounds"`
	RefinedWinRate   float64        `json:"refined_win_rate"`
	RefinedWinRateN  int            `json:"refined_win_rate_n"`
	RefinedUnjudged  int            `json:"refined_unjudged"`
	RandomWinRate    float64        `json:"random_switch_win_rate"`
	RandomWinRateN   int            `json:"random_switch_win_rate_n"`
	HoldoutPrompts   int            `json:"holdout_prompts"`
	CheckpointDir    string         `json:"checkpoint_dir"`
	Brokers          []string       `json:"brokers"`
	Embedded         bool           `json:"embedded_broker"`
	WallSeconds      float64        `json:"wall_seconds"`
}

// EmbeddedOptions adds to Options what only the bundled-data run needs.
type EmbeddedOptions struct {
	Options
	// Inject are extra raw message values appended to the feedback topic
	// after the bundled data (tests inject malformed messages this way).
	Inject [][]byte
	// AfterRun, if set, is called with the configuration (brokers
	// included) once the stages stopped and before the broker does, so
	// tests can read the output topics.
	AfterRun func(cfg config.Config) error
}

// RunBundled replays the bundled real data into the feedback and
// responses topics, runs every stage until the input is drained, and
// returns the summary. With no brokers configured it first starts an
// in-process Kafka-protocol broker on 127.0.0.1 (`slhf run`'s default);
// the integration tests point it at a real cluster. State goes to a new
// directory beside cfg.Checkpoint.Dir, since the topics' offsets are new
// on each run.
func RunBundled(ctx context.Context, cfg config.Config, opts EmbeddedOptions) (Summary, error) {
	start := time.Now()
	embedded := cfg.UsesEmbeddedBroker()
	if embedded {
		cluster, err := kfake.NewCluster(kfake.Ports(0), kfake.NumBrokers(1))
		if err != nil {
			return Summary{}, fmt.Errorf("start embedded broker: %w", err)
		}
		defer cluster.Close()
		cfg.Kafka.Brokers = cluster.ListenAddrs()
	}
	if err := freshStateDirs(&cfg, start); err != nil {
		return Summary{}, err
	}
	if opts.Logger != nil {
		opts.Logger.Info("replaying bundled data", "brokers", cfg.Kafka.Brokers,
			"state", cfg.Ingest.StateDir)
	}
	bundle, err := LoadBundle(cfg.Embedded.HoldoutShare, cfg.Embedded.MaxFeedback,
		uint64(cfg.Learner.Seed))
	if err != nil {
		return Summary{}, err
	}
	if err := replayBundle(ctx, cfg, bundle, opts.Inject); err != nil {
		return Summary{}, err
	}
	j := newJudge(bundle.Holdout)
	rep, err := runDrained(ctx, cfg, opts.Options, j)
	if err != nil {
		return Summary{}, err
	}
	if opts.AfterRun != nil {
		if err := opts.AfterRun(cfg); err != nil {
			return Summary{}, err
		}
	}
	sum := summarize(cfg, bundle, rep, j, time.Since(start))
	sum.Embedded = embedded
	return sum, nil
}

func freshStateDirs(cfg *config.Config, now time.Time) error {
	stamp := now.UTC().Format("20060102-150405.000")
	root := filepath.Join(filepath.Dir(cfg.Checkpoint.Dir), "run-"+stamp)
	cfg.Checkpoint.Dir = filepath.Join(root, "checkpoints")
	cfg.Ingest.StateDir = filepath.Join(root, "ingest")
	if err := os.MkdirAll(cfg.Checkpoint.Dir, 0o755); err != nil {
		return fmt.Errorf("create state dir: %w", err)
	}
	return nil
}

// replayBundle creates the topics and produces the bundle.
func replayBundle(ctx context.Context, cfg config.Config, b *Bundle, inject [][]byte) error {
	svc := &service{cfg: cfg, kc: kafkaConfig(cfg), health: &ingest.Health{}}
	if err := svc.connect(ctx); err != nil {
		return err
	}
	per, limit := cfg.Embedded.RowsPerMessage, maxBytes(cfg)
	feedback, err := EncodeChunks(b.Feedback, per, limit, schemas.EncodePreferences)
	if err != nil {
		return fmt.Errorf("encode feedback: %w", err)
	}
	feedback = append(feedback, inject...)
	if err := Produce(ctx, cfg, cfg.Topics.Feedback, feedback); err != nil {
		return err
	}
	responses, err := EncodeChunks(b.Responses, per, limit, schemas.EncodeResponses)
	if err != nil {
		return fmt.Errorf("encode responses: %w", err)
	}
	if err := Produce(ctx, cfg, cfg.Topics.Responses, responses); err != nil {
		return err
	}
	return nil
}

// maxBytes is the largest message value we produce: the topic's limit
// less room for the record batch framing.
func maxBytes(cfg config.Config) int {
	return cfg.Ingest.MaxMessageBytes - 16<<10
}

// EncodeChunks encodes rows into messages of at most per rows, each also
// kept under limit bytes by the encoder.
func EncodeChunks[T any](rows []T, per, limit int,
	enc func([]T, int, ...schemas.EncodeOption) ([][]byte, error)) ([][]byte, error) {
	var out [][]byte
	for i := 0; i < len(rows); i += per {
		msgs, err := enc(rows[i:min(i+per, len(rows))], limit)
		if err != nil {
			return nil, err
		}
		out = append(out, msgs...)
	}
	return out, nil
}

// Produce writes values to topic with acknowledgement from all replicas,
// spreading them over partitions.
func Produce(ctx context.Context, cfg config.Config, topic string, values [][]byte) error {
	w, err := sinks.NewKafkaWriter(kafkaConfig(cfg), topic,
		sinks.WithMaxMessageBytes(cfg.Ingest.MaxMessageBytes))
	if err != nil {
		return fmt.Errorf("producer for %s: %w", topic, err)
	}
	defer w.Close()
	const batch = 64
	for i := 0; i < len(values); i += batch {
		var msgs []sinks.Message
		for j, v := range values[i:min(i+batch, len(values))] {
			msgs = append(msgs, sinks.Message{Key: fmt.Appendf(nil, "replay-%d", i+j), Value: v})
		}
		if err := w.Write(ctx, msgs...); err != nil {
			return fmt.Errorf("produce to %s: %w", topic, err)
		}
	}
	return nil
}

// runDrained runs the service until both inputs are drained.
func runDrained(ctx context.Context, cfg config.Config, opts Options, j *judge) (Report, error) {
	rcfg := readerConfig(cfg, cfg.Topics.Feedback, &service{cfg: cfg, health: &ingest.Health{}})
	dialer, err := kafkaConfig(cfg).Dialer()
	if err != nil {
		return Report{}, err
	}
	rcfg.Dialer = dialer
	var rerr error
	if opts.LearnEnd, rerr = ingest.EndOffsets(ctx, rcfg); rerr != nil {
		return Report{}, rerr
	}
	rcfg.Topic = cfg.Topics.Responses
	if opts.RefineEnd, rerr = ingest.EndOffsets(ctx, rcfg); rerr != nil {
		return Report{}, rerr
	}
	opts.RefineAfterLearn = true
	prev := opts.Refined
	opts.Refined = func(rows []schemas.Refined) {
		j.collect(rows)
		if prev != nil {
			prev(rows)
		}
	}
	return Run(ctx, cfg, opts)
}

func summarize(cfg config.Config, b *Bundle, rep Report, j *judge,
	wall time.Duration) Summary {
	w := j.score()
	s := Summary{
		FeedbackEvents: rep.Learn.Events, FeedbackMessages: rep.Learn.Messages,
		SourceSkipped: b.Skipped,
		LearnedEvents: rep.Learn.Learned, DuplicateEvents: rep.Learn.Duplicates,
		DeadLettered: rep.DeadLettered, Checkpoints: rep.Learn.Checkpoints,
		LearnerSteps: rep.Learn.Steps, ModelVersion: rep.ModelVersion,
		PrefAccuracyN: rep.Learn.Judged,
		Responses:     len(b.Responses), Refined: rep.Refine.Refined,
		RefinedChanged: rep.Refine.Changed,
		RefinedWinRate: w.Rate, RefinedWinRateN: w.N, RefinedUnjudged: w.Unjudged,
		RandomWinRate: w.RandomRate, RandomWinRateN: w.RandomN,
		HoldoutPrompts: b.Holdout.Prompts(), CheckpointDir: cfg.Checkpoint.Dir,
		Brokers:     cfg.Kafka.Brokers,
		WallSeconds: wall.Seconds(),
	}
	if rep.Learn.Judged > 0 {
		s.PrefAccuracy = float64(rep.Learn.Correct) / float64(rep.Learn.Judged)
	}
	if rep.Learn.Learned > 0 {
		s.PrefLogLoss = rep.Learn.LogLossSum / float64(rep.Learn.Learned)
	}
	if rep.Refine.Refined > 0 {
		s.MeanRounds = float64(rep.Refine.Rounds) / float64(rep.Refine.Refined)
	}
	return s
}
