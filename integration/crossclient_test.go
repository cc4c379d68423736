package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/slhf-dev/slhf/config"
	"github.com/slhf-dev/slhf/internal/app"
	"github.com/slhf-dev/slhf/internal/testkit"
	"github.com/slhf-dev/slhf/schemas"
	"github.com/slhf-dev/slhf/sinks"
)

const (
	crossFeedback = 640 // bundled preference rows the Python producer sends
	// crossCorrupt is what kcat writes to the feedback topic: not Arrow.
	crossCorrupt = "kcat: this is not an Arrow IPC stream"
)

// TestCrossClient feeds the service from other clients and reads its
// output with them: a Python producer (pyarrow, confluent-kafka) writes
// preference.v1 and response.v1 batches built with slhf_client, kcat
// writes a raw corrupt message; the service learns from every Python row,
// dead-letters kcat's message for a named reason and refines every
// response; a Python consumer then reads refined.v1 and checks its schema,
// and kcat reads raw refined values that pyarrow alone opens. Our records
// are plain Arrow IPC streams that any Arrow implementation reads.
func TestCrossClient(t *testing.T) {
	cfg := testConfig(t)
	python := crossPython(t)
	kcat := crossKcat(t)
	pipeWaitBroker(t, cfg)
	refinerCreateTopics(t, cfg)
	broker := strings.Join(cfg.Kafka.Brokers, ",")
	dir := t.TempDir()

	bundle, err := app.LoadBundle(cfg.Embedded.HoldoutShare, 0, uint64(cfg.Learner.Seed))
	if err != nil {
		t.Fatal(err)
	}
	feedback := bundle.Feedback[:crossFeedback]
	crossRun(t, []byte(crossCorrupt), kcat, "-b", broker, "-P", "-t", cfg.Topics.Feedback,
		"-k", "kcat")
	sent := crossProduce(t, python, cfg, "preference", cfg.Topics.Feedback,
		crossPreferenceRows(feedback), filepath.Join(dir, "feedback.jsonl"))
	crossProduce(t, python, cfg, "response", cfg.Topics.Responses,
		crossResponseRows(bundle.Responses), filepath.Join(dir, "responses.jsonl"))

	// Keyed messages fill every partition; a drained run over an empty
	// partition is TestPipelineDrainsWithEmptyPartition's subject.
	for p, end := range pipeEndOffsets(t, cfg, cfg.Topics.Feedback) {
		if end == 0 {
			t.Fatalf("feedback partition %d is empty; this test wants data in each", p)
		}
	}
	rep := crossServe(t, cfg)
	if rep.Learn.Learned != sent || rep.Learn.Duplicates != 0 {
		t.Errorf("learned %d events (%d duplicates), Python produced %d rows",
			rep.Learn.Learned, rep.Learn.Duplicates, sent)
	}
	wantDead := map[string]int{string(schemas.ReasonCorruptIPC): 1}
	if fmt.Sprint(rep.DeadLettered) != fmt.Sprint(wantDead) {
		t.Errorf("dead-lettered %v, want kcat's message only: %v", rep.DeadLettered, wantDead)
	}
	if rep.Refine.Refined != len(bundle.Responses) {
		t.Errorf("refined %d of %d responses Python produced",
			rep.Refine.Refined, len(bundle.Responses))
	}
	crossCheckDeadLetter(t, cfg)

	var want []string
	for _, r := range bundle.Responses {
		want = append(want, r.RequestID)
	}
	sort.Strings(want)
	crossCheckPythonConsumer(t, python, cfg, want)
	crossCheckKcatConsumer(t, kcat, python, cfg, want, dir)
	t.Logf("FIGURE cross_python_rows_learned=%d", rep.Learn.Learned)
	t.Logf("FIGURE cross_refined=%d", rep.Refine.Refined)
}

// crossPython returns the interpreter named by SLHF_PYTHON, or skips.
func crossPython(t *testing.T) string {
	t.Helper()
	py := os.Getenv(envPython)
	if py == "" {
		t.Skipf("cross-client test: set %s to a python with pyarrow and confluent-kafka "+
			"(e.g. the venv of clients/python/run_tests.sh)", envPython)
	}
	out, err := exec.Command(py, "-c", "import pyarrow, confluent_kafka").CombinedOutput()
	if err != nil {
		t.Fatalf("%s=%s cannot import pyarrow and confluent_kafka: %v\n%s", envPython, py, err, out)
	}
	return py
}

// crossKcat returns kcat's path, or skips.
func crossKcat(t *testing.T) string {
	t.Helper()
	k, err := exec.LookPath("kcat")
	if err != nil {
		t.Skip("cross-client test: kcat is not on PATH (Debian: apt-get install kcat)")
	}
	return k
}

// crossRun runs a command with stdin (nil: none), bounded to a minute, and returns
// its standard output; a failure fails the test with its stderr.
func crossRun(t *testing.T, stdin []byte, name string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	abs, err := filepath.Abs("../clients/python")
	if err != nil {
		t.Fatal(err)
	}
	cmd.Env = append(refinerEnv(), "PYTHONPATH="+abs)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		fatalf(t, "%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, stderr.String())
	}
	return out
}

func crossPreferenceRows(rows []schemas.Preference) []map[string]any {
	out := make([]map[string]any, len(rows))
	for i, p := range rows {
		out[i] = map[string]any{
			"event_id": p.EventID, "ts": p.TS.UnixMilli(), "prompt": p.Prompt,
			"response_a": p.ResponseA, "response_b": p.ResponseB, "preference": p.Preference,
			"prompt_id": crossOptional(p.PromptID), "model_a": crossOptional(p.ModelA),
			"model_b": crossOptional(p.ModelB),
		}
	}
	return out
}

func crossResponseRows(rows []schemas.Response) []map[string]any {
	out := make([]map[string]any, len(rows))
	for i, r := range rows {
		out[i] = map[string]any{
			"request_id": r.RequestID, "ts": r.TS.UnixMilli(), "prompt": r.Prompt,
			"response": r.Response, "candidates": r.Candidates, "model": crossOptional(r.Model),
		}
	}
	return out
}

func crossOptional(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// crossProduce writes rows to a JSON-lines file and has the Python
// example producer send them as kind to topic; it returns the rows sent.
func crossProduce(t *testing.T, python string, cfg config.Config, kind, topic string,
	rows []map[string]any, path string) int {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for _, r := range rows {
		if err := enc.Encode(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out := crossRun(t, nil, python, "../clients/python/examples/produce_feedback.py",
		"--brokers", strings.Join(cfg.Kafka.Brokers, ","), "--topic", topic,
		"--kind", kind, "--key-by-first-id", path)
	var sum struct{ Rows, Messages int }
	if err := json.Unmarshal(out, &sum); err != nil {
		t.Fatalf("producer summary %q: %v", out, err)
	}
	if sum.Rows != len(rows) || sum.Messages < len(rows)/32 {
		t.Fatalf("Python sent %d rows in %d messages, want %d rows", sum.Rows, sum.Messages, len(rows))
	}
	t.Logf("Python produced %d %s rows in %d messages", sum.Rows, kind, sum.Messages)
	return sum.Rows
}

// crossServe runs every stage in process until both inputs are drained.
func crossServe(t *testing.T, cfg config.Config) app.Report {
	t.Helper()
	const limit = 90 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	rep, err := app.Run(ctx, cfg, app.Options{
		Logger:           testLogger(),
		LearnEnd:         pipeEndOffsets(t, cfg, cfg.Topics.Feedback),
		RefineEnd:        pipeEndOffsets(t, cfg, cfg.Topics.Responses),
		RefineAfterLearn: true,
	})
	if err != nil {
		fatalf(t, "service: %v", err)
	}
	if ctx.Err() != nil {
		fatalf(t, "service did not drain its inputs within %v: learned %d, refined %d",
			limit, rep.Learn.Learned, rep.Refine.Refined)
	}
	return rep
}

// crossCheckDeadLetter requires kcat's message, unchanged, on the
// dead-letter topic with its reason and source.
func crossCheckDeadLetter(t *testing.T, cfg config.Config) {
	t.Helper()
	dead := pipeReadTopic(t, cfg, cfg.Topics.DeadLetter)
	if len(dead) != 1 {
		t.Fatalf("dead-letter topic holds %d messages, want kcat's one", len(dead))
	}
	m := dead[0]
	if string(m.Value) != crossCorrupt || string(m.Key) != "kcat" ||
		testkit.Header(m, sinks.HeaderReason) != string(schemas.ReasonCorruptIPC) ||
		testkit.Header(m, sinks.HeaderSourceTopic) != cfg.Topics.Feedback {
		t.Errorf("dead letter: key %q value %q headers %v", m.Key, m.Value, m.Headers)
	}
}

// crossCheckPythonConsumer runs the Python example consumer on the
// refined topic and requires every response, once, with the schema.
func crossCheckPythonConsumer(t *testing.T, python string, cfg config.Config, want []string) {
	t.Helper()
	out := crossRun(t, nil, python, "../clients/python/examples/consume_refined.py",
		"--brokers", strings.Join(cfg.Kafka.Brokers, ","), "--topic", cfg.Topics.Refined,
		"--group", cfg.Kafka.GroupID+".python", "--expect", fmt.Sprint(len(want)),
		"--timeout", "45")
	var got struct {
		Rows, Messages, Distinct, Invalid, Changed int
		SchemaMismatches                           int      `json:"schema_mismatches"`
		RequestIDs                                 []string `json:"request_ids"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("consumer summary %q: %v", out, err)
	}
	if got.Rows != len(want) || got.Messages != len(want) || got.Invalid != 0 ||
		got.SchemaMismatches != 0 || !slices.Equal(got.RequestIDs, want) {
		t.Errorf("Python read %d rows in %d messages, %d distinct, %d invalid, %d with a "+
			"schema other than refined.v1; want %d of each and none invalid",
			got.Rows, got.Messages, got.Distinct, got.Invalid, got.SchemaMismatches, len(want))
	}
	t.Logf("FIGURE cross_python_refined_rows=%d", got.Rows)
	t.Logf("FIGURE cross_python_refined_changed=%d", got.Changed)
}

// crossPyOpen opens one raw message value with pyarrow alone.
const crossPyOpen = `import json, sys, pyarrow as pa
t = pa.ipc.open_stream(open(sys.argv[1], "rb").read()).read_all()
t.validate(full=True)
print(json.dumps({"rows": t.num_rows, "kind": t.schema.metadata[b"slhf.schema"].decode(),
    "version": t.schema.metadata[b"slhf.version"].decode(), "columns": t.schema.names,
    "request_id": t.column("request_id")[0].as_py()}))`

// crossCheckKcatConsumer has kcat read the refined topic raw: every key,
// and the first value of partition 0, which must be the bytes Go reads
// there and which pyarrow must open as a one-row refined.v1 stream.
func crossCheckKcatConsumer(t *testing.T, kcat, python string, cfg config.Config,
	want []string, dir string) {
	t.Helper()
	broker := strings.Join(cfg.Kafka.Brokers, ",")
	keys := strings.Fields(string(crossRun(t, nil, kcat, "-b", broker, "-C",
		"-t", cfg.Topics.Refined, "-o", "beginning", "-e", "-q", "-f", "%k\n")))
	sort.Strings(keys)
	if !slices.Equal(keys, want) {
		t.Errorf("kcat read %d refined keys, want the %d request ids", len(keys), len(want))
	}
	value := crossRun(t, nil, kcat, "-b", broker, "-C", "-t", cfg.Topics.Refined,
		"-p", "0", "-o", "beginning", "-c", "1", "-e", "-q", "-f", "%s")
	var goFirst []byte
	var goKey string
	for _, m := range pipeReadTopic(t, cfg, cfg.Topics.Refined) {
		if m.Partition == 0 && goFirst == nil {
			goFirst, goKey = m.Value, string(m.Key)
		}
	}
	if !bytes.Equal(value, goFirst) {
		t.Fatalf("kcat read %d bytes at partition 0, Go read %d", len(value), len(goFirst))
	}
	path := filepath.Join(dir, "refined-0.arrow")
	if err := os.WriteFile(path, value, 0o644); err != nil {
		t.Fatal(err)
	}
	out := crossRun(t, nil, python, "-c", crossPyOpen, path)
	var got struct {
		Rows      int
		Kind      string
		Version   string
		Columns   []string
		RequestID string `json:"request_id"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("pyarrow summary %q: %v", out, err)
	}
	if got.Rows != 1 || got.Kind != schemas.RefinedName || got.Version != "1" ||
		got.RequestID != goKey || len(got.Columns) != 11 {
		t.Errorf("pyarrow opened kcat's value as %+v, want one refined.v1 row keyed %q", got, goKey)
	}
	t.Logf("FIGURE cross_kcat_refined_keys=%d", len(keys))
}
