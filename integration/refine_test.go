package integration

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/slhf-dev/slhf/config"
	"github.com/slhf-dev/slhf/internal/app"
	"github.com/slhf-dev/slhf/internal/kafkax"
	"github.com/slhf-dev/slhf/schemas"
	"github.com/slhf-dev/slhf/sinks"
)

const (
	refinerPartitions = 4   // of the responses topic
	refinerCopies     = 7   // copies of the 149 held-out responses: 1,043 in all
	refinerRowsPerMsg = 2   // responses per Kafka message
	refinerFeedback   = 960 // bundled feedback events the model learns from first
	refinerFirstShare = 0.6 // share of the responses produced before the stop
	refinerMinEach    = 10  // responses each worker refines before one is stopped
)

// TestTwoRefinersShareTheWork runs two refine-only processes of the real
// binary in one consumer group over a four-partition responses topic, with
// a model a learner wrote first. The group must split the partitions
// between them and both must refine; one is then stopped with SIGTERM
// while a backlog is pending and the other must take its partitions over.
// At the end every response is refined; duplicates are counted and may
// only be messages the group had not committed when the worker stopped.
func TestTwoRefinersShareTheWork(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two service processes")
	}
	start := time.Now()
	cfg := testConfig(t)
	cfg.Kafka.Partitions = refinerPartitions
	pipeWaitBroker(t, cfg)
	bin := slhfBinary(t)
	refinerCreateTopics(t, cfg)

	bundle, err := app.LoadBundle(cfg.Embedded.HoldoutShare, 0, uint64(cfg.Learner.Seed))
	if err != nil {
		t.Fatal(err)
	}
	version := refinerTrain(t, cfg, bundle.Feedback[:refinerFeedback])
	msgs, ids := refinerMessages(t, bundle.Responses)

	group := cfg.Kafka.GroupID + ".refine"
	a := refinerStart(t, bin, cfg, "a")
	b := refinerStart(t, bin, cfg, "b")
	split := refinerWaitMembers(t, cfg, group, 2)
	t.Logf("partitions split: %v", split)

	first := int(float64(len(msgs)) * refinerFirstShare)
	refinerProduce(t, cfg, msgs[:first], 0)
	before := refinerWaitBoth(t, a, b)
	committed := refinerCommitted(t, cfg, group)
	ends := pipeEndOffsets(t, cfg, cfg.Topics.Responses)
	inflight := refinerInFlight(committed, ends)
	if inflight == 0 {
		t.Fatalf("nothing in flight when %s stops (committed %v, ends %v): "+
			"the stop would not be mid-stream", a.name, committed, ends)
	}
	a.stop(t)
	refinerProduce(t, cfg, msgs[first:], 50*time.Millisecond)
	after := refinerWaitMembers(t, cfg, group, 1)
	refinerWaitCommitted(t, cfg, group)
	b.stop(t)

	got := refinerOutcome(t, cfg, ids)
	got.check(t, committed, ends, split, a, b)
	t.Logf("model version %d; refined before the stop: a=%d b=%d; after: %v",
		version, before[0], before[1], after)
	t.Logf("FIGURE refiner_responses=%d", len(ids))
	t.Logf("FIGURE refiner_a_refined=%d", a.lines(t))
	t.Logf("FIGURE refiner_b_refined=%d", b.lines(t))
	t.Logf("FIGURE refiner_inflight_at_stop_messages=%d", inflight)
	t.Logf("FIGURE duplicates=%d", got.duplicates)
	t.Logf("FIGURE refiner_commit_failures=%d", a.count("commit refined message")+
		b.count("commit refined message"))
	t.Logf("FIGURE refiner_wall_seconds=%.1f", time.Since(start).Seconds())
}

// refinerCreateTopics creates the test's four topics with cfg's
// partitions, as the service would at start.
func refinerCreateTopics(t *testing.T, cfg config.Config) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), pipeBrokerWait)
	defer cancel()
	var specs []kafkax.TopicSpec
	for _, name := range []string{cfg.Topics.Feedback, cfg.Topics.Responses,
		cfg.Topics.Refined, cfg.Topics.DeadLetter} {
		specs = append(specs, kafkax.TopicSpec{Name: name, Partitions: cfg.Kafka.Partitions,
			ReplicationFactor: 1})
	}
	if err := kafkax.EnsureTopics(ctx, pipeKafka(cfg), specs...); err != nil {
		fatalf(t, "create topics: %v", err)
	}
}

// refinerTrain produces feedback and runs a learner until it has drained
// it, leaving a checkpoint in cfg.Checkpoint.Dir. It returns the model
// version.
func refinerTrain(t *testing.T, cfg config.Config, feedback []schemas.Preference) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	values, err := app.EncodeChunks(feedback, 32, 1<<20-16<<10, schemas.EncodePreferences)
	if err != nil {
		t.Fatal(err)
	}
	if err := app.Produce(ctx, cfg, cfg.Topics.Feedback, values); err != nil {
		fatalf(t, "produce feedback: %v", err)
	}
	cfg.Role = config.RoleLearner
	rep, err := app.Run(ctx, cfg, app.Options{
		Logger:   testLogger(),
		LearnEnd: pipeEndOffsets(t, cfg, cfg.Topics.Feedback),
	})
	if err != nil {
		fatalf(t, "learner: %v", err)
	}
	if rep.Learn.Learned != len(feedback) || rep.Learn.Checkpoints == 0 {
		t.Fatalf("learner learned %d of %d events, wrote %d checkpoints",
			rep.Learn.Learned, len(feedback), rep.Learn.Checkpoints)
	}
	return rep.ModelVersion
}

// refinerMessages builds the response messages: refinerCopies copies of
// the held-out responses with distinct request ids, refinerRowsPerMsg
// to a message keyed by its first request id. It returns them and every
// request id.
func refinerMessages(t *testing.T, held []schemas.Response) ([]sinks.Message, []string) {
	t.Helper()
	var rows []schemas.Response
	for c := range refinerCopies {
		for _, r := range held {
			r.RequestID = fmt.Sprintf("%s-copy%d", r.RequestID, c)
			rows = append(rows, r)
		}
	}
	var msgs []sinks.Message
	ids := make([]string, 0, len(rows))
	for i := 0; i < len(rows); i += refinerRowsPerMsg {
		chunk := rows[i:min(i+refinerRowsPerMsg, len(rows))]
		values, err := schemas.EncodeResponses(chunk, 1<<20)
		if err != nil || len(values) != 1 {
			t.Fatalf("encode responses: %v (%d messages)", err, len(values))
		}
		msgs = append(msgs, sinks.Message{Key: []byte(chunk[0].RequestID), Value: values[0]})
		for _, r := range chunk {
			ids = append(ids, r.RequestID)
		}
	}
	return msgs, ids
}

// refinerProduce writes msgs to the responses topic, 16 at a time, with
// pause between writes.
func refinerProduce(t *testing.T, cfg config.Config, msgs []sinks.Message, pause time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), pipeBrokerWait)
	defer cancel()
	w, err := sinks.NewKafkaWriter(pipeKafka(cfg), cfg.Topics.Responses)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for i := 0; i < len(msgs); i += 16 {
		if err := w.Write(ctx, msgs[i:min(i+16, len(msgs))]...); err != nil {
			fatalf(t, "produce responses: %v", err)
		}
		time.Sleep(pause)
	}
}

// refinerProc is one `slhf run --set role=refiner` process.
type refinerProc struct {
	name   string
	cmd    *exec.Cmd
	log    string // its stderr
	jsonl  string // its refined.jsonl
	metric string // base URL of its metrics listener
	done   chan struct{}
	err    error // of Wait, once done is closed
}

// refinerStart starts a refiner named name in cfg's consumer group, on
// cfg's checkpoint dir, with its own state, output file and client id.
func refinerStart(t *testing.T, bin string, cfg config.Config, name string) *refinerProc {
	t.Helper()
	dir := t.TempDir()
	p := &refinerProc{name: name, log: filepath.Join(dir, "stderr.log"),
		jsonl: filepath.Join(dir, "refined.jsonl"), done: make(chan struct{})}
	sets := map[string]string{
		"role": config.RoleRefiner, "kafka.group_id": cfg.Kafka.GroupID,
		"kafka.client_id": "refiner-" + name, "kafka.partitions": strconv.Itoa(cfg.Kafka.Partitions),
		"topics.feedback": cfg.Topics.Feedback, "topics.responses": cfg.Topics.Responses,
		"topics.refined": cfg.Topics.Refined, "topics.dead_letter": cfg.Topics.DeadLetter,
		"checkpoint.dir": cfg.Checkpoint.Dir, "ingest.state_dir": filepath.Join(dir, "state"),
		"output.jsonl": p.jsonl, "metrics.listen": "127.0.0.1:0",
		"refine.reload_poll": "500ms",
	}
	args := []string{"run", "--brokers", strings.Join(cfg.Kafka.Brokers, ",")}
	for k, v := range sets {
		args = append(args, "--set", k+"="+v)
	}
	logf, err := os.Create(p.log)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = refinerEnv()
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start refiner %s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	t.Cleanup(func() { p.kill(t) })
	p.metric = p.waitListening(t)
	return p
}

// refinerEnv is the test's environment without SLHF_* variables: the
// refiners get their configuration from flags only.
func refinerEnv() []string {
	return slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "SLHF_")
	})
}

var refinerListenRE = regexp.MustCompile(`addr=http://([0-9.:]+)/metrics`)

// waitListening reads the process log until it names its metrics address.
func (p *refinerProc) waitListening(t *testing.T) string {
	t.Helper()
	deadline := time.Now().Add(pipeBrokerWait)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(p.log)
		if m := refinerListenRE.FindSubmatch(b); m != nil {
			return "http://" + string(m[1])
		}
		select {
		case <-p.done:
			fatalf(t, "refiner %s exited at start: %v\n%s", p.name, p.err, p.tail())
		case <-time.After(100 * time.Millisecond):
		}
	}
	fatalf(t, "refiner %s never served metrics\n%s", p.name, p.tail())
	return ""
}

// refined returns the responses the process has refined so far, from its
// slhf_refine_responses_total counter.
func (p *refinerProc) refined() (int, error) {
	resp, err := http.Get(p.metric + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	total := 0.0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "slhf_refine_responses_total{") {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			return 0, fmt.Errorf("parse %q: %w", line, err)
		}
		total += v
	}
	return int(total), sc.Err()
}

// stop sends SIGTERM and requires a clean exit within the drain deadline.
func (p *refinerProc) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("signal refiner %s: %v", p.name, err)
	}
	select {
	case <-p.done:
	case <-time.After(45 * time.Second):
		p.kill(t)
		fatalf(t, "refiner %s did not stop within 45 s of SIGTERM\n%s", p.name, p.tail())
	}
	if p.err != nil {
		t.Errorf("refiner %s exited with %v after SIGTERM, want 0\n%s", p.name, p.err, p.tail())
	}
}

// kill ends the process if it still runs (test cleanup).
func (p *refinerProc) kill(t *testing.T) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Kill()
	<-p.done
	t.Logf("refiner %s killed at cleanup\n%s", p.name, p.tail())
}

// tail is the end of the process log, for failure messages.
func (p *refinerProc) tail() string {
	b, _ := os.ReadFile(p.log)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// count is how many times text occurs in the process log.
func (p *refinerProc) count(text string) int {
	b, _ := os.ReadFile(p.log)
	return strings.Count(string(b), text)
}

// lines counts the records in the process's JSON-lines output.
func (p *refinerProc) lines(t *testing.T) int {
	t.Helper()
	f, err := os.Open(p.jsonl)
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	r := bufio.NewReader(f)
	for {
		line, err := r.ReadBytes('\n')
		if len(strings.TrimSpace(string(line))) > 0 {
			n++
		}
		if err == io.EOF {
			return n
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// refinerWaitBoth waits until each process has refined refinerMinEach
// responses and returns their counts.
func refinerWaitBoth(t *testing.T, a, b *refinerProc) [2]int {
	t.Helper()
	var got [2]int
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		for i, p := range []*refinerProc{a, b} {
			n, err := p.refined()
			if err != nil {
				fatalf(t, "metrics of refiner %s: %v\n%s", p.name, err, p.tail())
			}
			got[i] = n
		}
		if got[0] >= refinerMinEach && got[1] >= refinerMinEach {
			return got
		}
		time.Sleep(50 * time.Millisecond)
	}
	fatalf(t, "both refiners should work: refined a=%d b=%d\n--- a:\n%s\n--- b:\n%s",
		got[0], got[1], a.tail(), b.tail())
	return got
}

// refinerWaitMembers waits until group is stable with n members whose
// assignments of the responses topic are disjoint and cover every
// partition, and returns client id → partitions.
func refinerWaitMembers(t *testing.T, cfg config.Config, group string, n int) map[string][]int {
	t.Helper()
	c := &kafka.Client{Addr: kafka.TCP(cfg.Kafka.Brokers...), Timeout: 10 * time.Second}
	deadline := time.Now().Add(90 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		split, state, err := refinerDescribe(c, group, cfg.Topics.Responses)
		last = fmt.Sprintf("state %q, assignment %v, err %v", state, split, err)
		if err == nil && state == "Stable" && len(split) == n && refinerCovers(split, cfg) {
			return split
		}
		time.Sleep(200 * time.Millisecond)
	}
	fatalf(t, "group %s never had %d members sharing %d partitions: %s",
		group, n, cfg.Kafka.Partitions, last)
	return nil
}

func refinerDescribe(c *kafka.Client, group, topic string) (map[string][]int, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := c.DescribeGroups(ctx, &kafka.DescribeGroupsRequest{GroupIDs: []string{group}})
	if err != nil {
		return nil, "", err
	}
	if len(resp.Groups) != 1 || resp.Groups[0].Error != nil {
		return nil, "", fmt.Errorf("describe %s: %+v", group, resp.Groups)
	}
	split := map[string][]int{}
	for _, m := range resp.Groups[0].Members {
		for _, mt := range m.MemberAssignments.Topics {
			if mt.Topic == topic {
				split[m.ClientID] = append(split[m.ClientID], mt.Partitions...)
			}
		}
	}
	return split, resp.Groups[0].GroupState, nil
}

// refinerCovers reports whether every member has a partition and the
// assignment is a partition of the topic's partitions.
func refinerCovers(split map[string][]int, cfg config.Config) bool {
	seen := map[int]bool{}
	for _, ps := range split {
		if len(ps) == 0 {
			return false
		}
		for _, p := range ps {
			if seen[p] {
				return false
			}
			seen[p] = true
		}
	}
	return len(seen) == cfg.Kafka.Partitions
}

// refinerCommitted returns group's committed offset of every partition of
// the responses topic (0 where nothing is committed yet).
func refinerCommitted(t *testing.T, cfg config.Config, group string) map[int]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	parts := make([]int, cfg.Kafka.Partitions)
	for i := range parts {
		parts[i] = i
	}
	c := &kafka.Client{Addr: kafka.TCP(cfg.Kafka.Brokers...)}
	resp, err := c.OffsetFetch(ctx, &kafka.OffsetFetchRequest{
		GroupID: group, Topics: map[string][]int{cfg.Topics.Responses: parts},
	})
	if err != nil {
		fatalf(t, "committed offsets of %s: %v", group, err)
	}
	out := map[int]int64{}
	for _, p := range resp.Topics[cfg.Topics.Responses] {
		if p.Error != nil {
			fatalf(t, "committed offset of %s/%d: %v", group, p.Partition, p.Error)
		}
		out[p.Partition] = max(p.CommittedOffset, 0)
	}
	return out
}

// refinerInFlight counts messages produced but not committed.
func refinerInFlight(committed, ends map[int]int64) int64 {
	var n int64
	for p, end := range ends {
		n += end - committed[p]
	}
	return n
}

// refinerWaitCommitted waits until the group has committed every
// response message.
func refinerWaitCommitted(t *testing.T, cfg config.Config, group string) {
	t.Helper()
	ends := pipeEndOffsets(t, cfg, cfg.Topics.Responses)
	deadline := time.Now().Add(90 * time.Second)
	var committed map[int]int64
	for time.Now().Before(deadline) {
		committed = refinerCommitted(t, cfg, group)
		if refinerInFlight(committed, ends) == 0 {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	fatalf(t, "group %s committed %v of %v", group, committed, ends)
}

// refinerResult is what the refined topic shows at the end.
type refinerResult struct {
	counts     map[string]int      // request id → refined messages
	pos        map[string][2]int64 // request id → partition, offset of its response
	messages   int                 // refined messages in all
	duplicates int                 // messages - distinct request ids
	want       map[string]bool     // every request id produced
}

func refinerOutcome(t *testing.T, cfg config.Config, ids []string) refinerResult {
	t.Helper()
	r := refinerResult{pos: map[string][2]int64{}, want: map[string]bool{}}
	for _, id := range ids {
		r.want[id] = true
	}
	dec := schemas.NewDecoder()
	for _, m := range pipeReadTopic(t, cfg, cfg.Topics.Responses) {
		rows, err := dec.DecodeResponses(m.Value)
		if err != nil {
			t.Fatalf("responses %d@%d: %v", m.Partition, m.Offset, err)
		}
		for _, row := range rows {
			r.pos[row.RequestID] = [2]int64{int64(m.Partition), m.Offset}
		}
	}
	refined := pipeReadTopic(t, cfg, cfg.Topics.Refined)
	r.counts = pipeRefinedIDs(t, refined)
	r.messages = len(refined)
	r.duplicates = r.messages - len(r.counts)
	return r
}

// check requires every response refined, nothing else, and duplicates
// only where at-least-once allows them: a worker refines a message,
// writes the result, then commits. A message committed before the stop
// is never delivered again, so a duplicate must be a message at or after
// the group's committed offset when the worker was stopped.
func (r refinerResult) check(t *testing.T, committed, ends map[int]int64,
	split map[string][]int, a, b *refinerProc) {
	t.Helper()
	for id := range r.want {
		if r.counts[id] == 0 {
			t.Errorf("response %s never refined", id)
		}
	}
	for id := range r.counts {
		if !r.want[id] {
			t.Errorf("refined %s was never produced", id)
		}
	}
	if len(r.pos) != len(r.want) {
		t.Errorf("responses topic holds %d request ids, produced %d", len(r.pos), len(r.want))
	}
	owner := map[int64]string{}
	for client, ps := range split {
		for _, p := range ps {
			owner[int64(p)] = client
		}
	}
	var inflight, later, stopped int
	dupMsgs := map[[2]int64]bool{}
	for id, n := range r.counts {
		if n == 1 {
			continue
		}
		p, off := r.pos[id][0], r.pos[id][1]
		dupMsgs[r.pos[id]] = true
		t.Logf("duplicate: %s ×%d, partition %d (owner %s) offset %d, committed %d, end %d",
			id, n, p, owner[p], off, committed[int(p)], ends[int(p)])
		switch {
		case off < committed[int(p)]:
			t.Errorf("%s refined %d times but its message %d@%d was committed (%d) "+
				"before the stop", id, n, p, off, committed[int(p)])
		case off < ends[int(p)]:
			inflight += n - 1
		default:
			later += n - 1
		}
		if owner[p] == "refiner-"+a.name {
			stopped += n - 1
		}
	}
	t.Logf("duplicates: %d in all (%d response messages); %d of messages in flight at "+
		"the stop, %d of messages produced after it; %d on partitions of the stopped worker",
		r.duplicates, len(dupMsgs), inflight, later, stopped)
	// Each duplicated message was uncommitted at the stop (checked above),
	// so there can be no more of them than messages in flight then.
	if limit := refinerInFlight(committed, ends); int64(len(dupMsgs)) > limit {
		t.Errorf("%d response messages refined twice, more than the %d in flight at the stop",
			len(dupMsgs), limit)
	}
	// Both sinks get every batch; a topic write cut short by the stop
	// leaves at most the stopped worker's last message in its file only.
	if la, lb := a.lines(t), b.lines(t); la+lb < r.messages ||
		la+lb-r.messages > refinerRowsPerMsg {
		t.Errorf("workers wrote %d + %d JSON lines, refined topic holds %d messages",
			la, lb, r.messages)
	}
}
