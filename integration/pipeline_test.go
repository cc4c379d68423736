package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/slhf-dev/slhf/config"
	"github.com/slhf-dev/slhf/internal/app"
	"github.com/slhf-dev/slhf/internal/kafkax"
	"github.com/slhf-dev/slhf/internal/testkit"
	"github.com/slhf-dev/slhf/schemas"
	"github.com/slhf-dev/slhf/sinks"
)

// pipeBrokerWait is how long a test waits for the shared broker at start:
// another test may be restarting it.
const pipeBrokerWait = 60 * time.Second

// TestPipelineOnRealKafka runs the whole `slhf run --bundled` pipeline on
// the real broker with three partitions per topic: the bundled real data,
// plus every malformed message of the schemas corpus and one replayed
// valid message. Every valid event must be learned exactly once, every
// bad message dead-lettered for its named reason with its source in the
// headers, and every response refined exactly once, keyed by request_id.
func TestPipelineOnRealKafka(t *testing.T) {
	cfg := testConfig(t)
	cfg.Kafka.Partitions = 3
	cfg.Embedded.RowsPerMessage = 32
	cfg.Stream.BatchEvents = 32
	pipeWaitBroker(t, cfg)

	bad, want := testkit.BadFeedbackCorpus(t, "..")
	bundle, err := app.LoadBundle(cfg.Embedded.HoldoutShare, cfg.Embedded.MaxFeedback,
		uint64(cfg.Learner.Seed))
	if err != nil {
		t.Fatal(err)
	}
	// The first bundled message again: every event in it is a duplicate,
	// so the whole message is dead-lettered as duplicate_event.
	inject := testkit.AppendReplay(t, bad, want, bundle.Feedback[:cfg.Embedded.RowsPerMessage])

	var out pipeOutputs
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	sum, err := app.RunBundled(ctx, cfg, app.EmbeddedOptions{
		Options: app.Options{Logger: testLogger()},
		Inject:  inject,
		AfterRun: func(run config.Config) error {
			out = pipeReadOutputs(t, run)
			return nil
		},
	})
	if err != nil {
		fatalf(t, "RunBundled: %v", err)
	}
	t.Logf("summary: %+v", sum)

	pipeCheckLearning(t, cfg, sum, len(bundle.Feedback), want)
	pipeCheckDeadLetters(t, out, want)
	pipeCheckRefined(t, out, bundle.Responses, sum)
	pipeCheckCheckpoint(t, out, sum)

	t.Logf("FIGURE pref_accuracy=%.4f", sum.PrefAccuracy)
	t.Logf("FIGURE pref_accuracy_n=%d", sum.PrefAccuracyN)
	t.Logf("FIGURE refined_win_rate=%.4f", sum.RefinedWinRate)
	t.Logf("FIGURE refined_win_rate_n=%d", sum.RefinedWinRateN)
	t.Logf("FIGURE random_switch_win_rate=%.4f", sum.RandomWinRate)
	t.Logf("FIGURE wall_seconds=%.2f", sum.WallSeconds)
}

// pipeOutputs is what a bundled run left on the broker and on disk, read
// before RunBundled returns.
type pipeOutputs struct {
	feedbackTopic string
	deadLetters   []kafka.Message
	refined       []kafka.Message
	feedbackEnd   map[int]int64 // end offset per feedback partition
	checkpoint    *sinks.Checkpoint
	checkpoints   int // files in the checkpoint dir
}

func pipeReadOutputs(t *testing.T, run config.Config) pipeOutputs {
	t.Helper()
	o := pipeOutputs{feedbackTopic: run.Topics.Feedback}
	o.deadLetters = pipeReadTopic(t, run, run.Topics.DeadLetter)
	o.refined = pipeReadTopic(t, run, run.Topics.Refined)
	o.feedbackEnd = pipeEndOffsets(t, run, run.Topics.Feedback)
	store, err := sinks.OpenCheckpointStore(run.Checkpoint.Dir, run.Checkpoint.Keep, nil, nil)
	if err != nil {
		t.Fatalf("open checkpoints: %v", err)
	}
	if o.checkpoint, err = store.LoadLatest(); err != nil {
		t.Fatalf("load latest checkpoint of %s: %v", run.Checkpoint.Dir, err)
	}
	files, err := store.List()
	if err != nil {
		t.Fatal(err)
	}
	o.checkpoints = len(files)
	return o
}

func pipeCheckLearning(t *testing.T, cfg config.Config, sum app.Summary, valid int,
	want map[string]int) {
	t.Helper()
	if sum.LearnedEvents != valid {
		t.Errorf("learned %d events, want every valid one exactly once: %d",
			sum.LearnedEvents, valid)
	}
	if sum.DuplicateEvents != cfg.Embedded.RowsPerMessage {
		t.Errorf("duplicates dropped = %d, want %d", sum.DuplicateEvents,
			cfg.Embedded.RowsPerMessage)
	}
	if fmt.Sprint(sum.DeadLettered) != fmt.Sprint(want) {
		t.Errorf("dead-lettered by reason (report):\n got %v\nwant %v", sum.DeadLettered, want)
	}
	if sum.Checkpoints < 2 || sum.PrefAccuracyN < valid*9/10 {
		t.Errorf("checkpoints %d, judged %d of %d", sum.Checkpoints, sum.PrefAccuracyN, valid)
	}
}

func pipeCheckDeadLetters(t *testing.T, out pipeOutputs, want map[string]int) {
	t.Helper()
	got := map[string]int{}
	seen := map[string]bool{} // partition/offset of each source message
	for _, m := range out.deadLetters {
		got[testkit.Header(m, sinks.HeaderReason)]++
		src := testkit.Header(m, sinks.HeaderSourcePartition) + "/" +
			testkit.Header(m, sinks.HeaderSourceOffset)
		if testkit.Header(m, sinks.HeaderSourceTopic) != out.feedbackTopic ||
			testkit.Header(m, sinks.HeaderSourcePartition) == "" ||
			testkit.Header(m, sinks.HeaderSourceOffset) == "" {
			t.Errorf("dead letter without its source: headers %v", m.Headers)
		}
		if testkit.Header(m, sinks.HeaderError) == "" {
			t.Errorf("dead letter %s without an error text", src)
		}
		if seen[src] {
			t.Errorf("source message %s dead-lettered twice", src)
		}
		seen[src] = true
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("dead-letter topic by %s header:\n got %v\nwant %v",
			sinks.HeaderReason, got, want)
	}
}

func pipeCheckRefined(t *testing.T, out pipeOutputs, sent []schemas.Response,
	sum app.Summary) {
	t.Helper()
	if sum.Refined != len(sent) || sum.Responses != len(sent) {
		t.Errorf("refined %d of %d responses sent (%d in bundle)",
			sum.Refined, sum.Responses, len(sent))
	}
	want := map[string]bool{}
	for _, r := range sent {
		want[r.RequestID] = true
	}
	counts := pipeRefinedIDs(t, out.refined)
	for id, n := range counts {
		if !want[id] {
			t.Errorf("refined topic holds %q, which was never sent", id)
		} else if n != 1 {
			t.Errorf("refined topic holds %q %d times, want once", id, n)
		}
	}
	if len(out.refined) != len(sent) || len(counts) != len(sent) {
		t.Errorf("refined topic: %d messages, %d request ids; want %d of each",
			len(out.refined), len(counts), len(sent))
	}
	if sum.RefinedWinRateN == 0 || sum.RandomWinRateN == 0 {
		t.Errorf("win rates measured on nothing: %+v", sum)
	}
}

// pipeRefinedIDs decodes refined.v1 messages, checks each holds one row
// keyed by its request_id, and counts messages per request_id.
func pipeRefinedIDs(t *testing.T, msgs []kafka.Message) map[string]int {
	t.Helper()
	dec := schemas.NewDecoder()
	counts := map[string]int{}
	for _, m := range msgs {
		rows, err := dec.DecodeRefined(m.Value)
		if err != nil {
			t.Errorf("refined %d@%d does not decode: %v", m.Partition, m.Offset, err)
			continue
		}
		if len(rows) != 1 || rows[0].RequestID != string(m.Key) {
			t.Errorf("refined %d@%d: %d rows, key %q; want one row keyed by its request_id",
				m.Partition, m.Offset, len(rows), m.Key)
			continue
		}
		if testkit.Header(m, sinks.HeaderSchema) != schemas.RefinedName+".v1" {
			t.Errorf("refined %d@%d: schema header %q", m.Partition, m.Offset,
				testkit.Header(m, sinks.HeaderSchema))
		}
		counts[rows[0].RequestID]++
	}
	return counts
}

// pipeCheckCheckpoint checks that the newest checkpoint is the final
// model and resumes after every feedback message, dead-lettered or not.
func pipeCheckCheckpoint(t *testing.T, out pipeOutputs, sum app.Summary) {
	t.Helper()
	ck := out.checkpoint
	if out.checkpoints == 0 || ck.Step != sum.ModelVersion {
		t.Errorf("%d checkpoint files, newest at step %d, final model version %d",
			out.checkpoints, ck.Step, sum.ModelVersion)
	}
	got := ck.Offsets[out.feedbackTopic]
	if len(got) != len(out.feedbackEnd) {
		t.Errorf("checkpoint offsets %v, want one per feedback partition %v", got, out.feedbackEnd)
	}
	for p, end := range out.feedbackEnd {
		if got[int32(p)] != end {
			t.Errorf("checkpoint resumes partition %d at %d, want its end %d", p, got[int32(p)], end)
		}
	}
}

// pipeKafka is cfg's cluster connection.
func pipeKafka(cfg config.Config) kafkax.Config {
	return kafkax.Config{
		Brokers: cfg.Kafka.Brokers, ClientID: cfg.Kafka.ClientID,
		DialTimeout: cfg.Kafka.DialTimeout,
	}
}

// pipeWaitBroker waits up to pipeBrokerWait for the broker to answer.
func pipeWaitBroker(t *testing.T, cfg config.Config) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), pipeBrokerWait)
	defer cancel()
	if err := kafkax.WaitReady(ctx, pipeKafka(cfg)); err != nil {
		fatalf(t, "broker not reachable within %v: %v", pipeBrokerWait, err)
	}
}

// pipeEndOffsets returns the next offset of every partition of topic.
func pipeEndOffsets(t *testing.T, cfg config.Config, topic string) map[int]int64 {
	t.Helper()
	return testkit.EndOffsets(onBroker(t), cfg.Kafka.Brokers, topic)
}

// pipeReadTopic returns every message of topic, reading each partition
// from its first offset up to the end it has when called.
func pipeReadTopic(t *testing.T, cfg config.Config, topic string) []kafka.Message {
	t.Helper()
	return testkit.ReadTopic(onBroker(t), cfg.Kafka.Brokers, topic)
}

// TestPipelineDrainsWithEmptyPartition runs a drained learner (end
// offsets given, as `slhf run --bundled` and every drained run do) over a
// feedback topic where all messages share one key, so only one of its
// three partitions holds data. A drained run must stop once every
// partition is read to its end, empty ones included, and not wait for
// its context.
func TestPipelineDrainsWithEmptyPartition(t *testing.T) {
	cfg := testConfig(t)
	cfg.Kafka.Partitions = 3
	cfg.Role = config.RoleLearner
	pipeWaitBroker(t, cfg)
	refinerCreateTopics(t, cfg)
	bundle, err := app.LoadBundle(cfg.Embedded.HoldoutShare, 200, uint64(cfg.Learner.Seed))
	if err != nil {
		t.Fatal(err)
	}
	values, err := app.EncodeChunks(bundle.Feedback, 32, 1<<20-16<<10, schemas.EncodePreferences)
	if err != nil {
		t.Fatal(err)
	}
	pipeProduceKeyed(t, cfg, cfg.Topics.Feedback, "one-session", values)
	ends := pipeEndOffsets(t, cfg, cfg.Topics.Feedback)
	empty := 0
	for _, end := range ends {
		if end == 0 {
			empty++
		}
	}
	if empty != len(ends)-1 {
		t.Fatalf("end offsets %v: want the messages in one partition", ends)
	}

	const limit = 30 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	start := time.Now()
	rep, err := app.Run(ctx, cfg, app.Options{Logger: testLogger(), LearnEnd: ends})
	if err != nil {
		fatalf(t, "learner: %v", err)
	}
	if ctx.Err() != nil {
		t.Errorf("drained learner did not stop by itself within %v (end offsets %v, %d "+
			"empty partitions); it stopped only when its context ended", limit, ends, empty)
	}
	if rep.Learn.Learned != len(bundle.Feedback) {
		t.Errorf("learned %d of %d events", rep.Learn.Learned, len(bundle.Feedback))
	}
	t.Logf("FIGURE empty_partition_drain_seconds=%.1f", time.Since(start).Seconds())
}

// pipeProduceKeyed writes values to topic, all under one key.
func pipeProduceKeyed(t *testing.T, cfg config.Config, topic, key string, values [][]byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), pipeBrokerWait)
	defer cancel()
	w, err := sinks.NewKafkaWriter(pipeKafka(cfg), topic)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	msgs := make([]sinks.Message, len(values))
	for i, v := range values {
		msgs[i] = sinks.Message{Key: []byte(key), Value: v}
	}
	if err := w.Write(ctx, msgs...); err != nil {
		fatalf(t, "produce to %s: %v", topic, err)
	}
}
