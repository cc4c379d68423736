package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/slhf-dev/slhf/config"
	"github.com/slhf-dev/slhf/internal/app"
	"github.com/slhf-dev/slhf/schemas"
	"github.com/slhf-dev/slhf/sinks"
)

// Shape of TestBrokerRestart.
const (
	brokerFeedbackMsgs = 100 // messages of brokerRows events
	brokerRows         = 16
	brokerRespPerMsg   = 10                    // responses per message
	brokerStopAfter    = 30                    // feedback messages produced before the stop
	brokerPace         = 60 * time.Millisecond // between produced messages
)

// TestBrokerRestart stops the broker under a running service (role all)
// while feedback and responses stream in, and starts it again. The
// service must report the outage (readiness 503, its log), come back by
// itself (readiness 200, new checkpoints) and lose nothing: every
// produced event is learned exactly once, every response refined.
func TestBrokerRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("stops and restarts the shared broker")
	}
	cfg := testConfig(t)
	brokerKeepUp(t)
	cfg.Role = "all"
	cfg.Stream.BatchEvents = brokerRows
	cfg.Checkpoint.EverySteps = 1
	cfg.Metrics.Listen = crashFreeAddr(t)
	feedback := crashFeedback(t, brokerFeedbackMsgs*brokerRows, brokerRows)
	responses, ids := brokerResponses(t)
	crashEnsureTopics(t, cfg)

	logs := t.TempDir()
	bin, args := slhfBinary(t), crashArgs(cfg)
	p := crashStart(t, bin, args, filepath.Join(logs, "service-0.log"))
	probe := brokerWatch(t, cfg)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	prod := &brokerProducer{cfg: cfg}
	produced := make(chan error, 1)
	go func() { produced <- prod.run(ctx, feedback, responses) }()
	// A fresh service is ready once it has a model, after its first step.
	probe.await(t, p, "ready at start", time.Time{}, 60*time.Second, isReady)
	for prod.feedback.Load() < brokerStopAfter {
		if err := crashSleep(ctx, 20*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}

	stopAt := time.Now()
	brokerScript(t, "stop")
	down := probe.await(t, nil, "503 while the broker is down", stopAt, 30*time.Second, isDown)
	brokerScript(t, "restart")
	upAt := time.Now()
	restarts := 0
	if brokerExited(p) {
		t.Errorf("the service exited while the broker was down instead of retrying "+
			"(%v): %s", p.err, brokerExitLine(p.log))
		// Go on as a process supervisor would, to check that even so
		// nothing is lost.
		restarts++
		p = crashStart(t, bin, args, filepath.Join(logs, "service-1.log"))
	}
	ready := probe.await(t, p, "ready after the restart", upAt, 60*time.Second, isReady)
	stepAtUp := probe.stepAt(upAt)
	ckp := probe.await(t, p, "a new checkpoint after the restart", upAt, 60*time.Second,
		func(s brokerSample) bool { return s.step > stepAtUp })

	if err := <-produced; err != nil {
		fatalf(t, "producer: %v", err)
	}
	end := crashEndOffsets(t, cfg, cfg.Topics.Feedback)
	crashWaitOffsets(t, p, cfg, end, 90*time.Second)
	refined := brokerWaitRefined(t, p, cfg.Output.JSONL, ids, 60*time.Second)
	// The dashboards see the outage too, and the recovery.
	kafkaErrors := brokerMetric(t, cfg.Metrics.Listen, "slhf_ingest_kafka_errors_total")
	if kafkaErrors == 0 {
		t.Errorf("slhf_ingest_kafka_errors_total = 0 after a broker outage")
	}
	if r := brokerMetric(t, cfg.Metrics.Listen, "slhf_service_ready"); r != 1 {
		t.Errorf("slhf_service_ready = %v after recovery, want 1", r)
	}
	stopTook := crashStop(t, p, 45*time.Second)

	learned := brokerLogSum(t, logs, "stopped learned=")
	if want := brokerFeedbackMsgs * brokerRows; learned != want {
		t.Errorf("learned %d events, want %d: each produced event exactly once", learned, want)
	}
	outage := brokerLogCount(t, logs, "kafka reader error") +
		brokerLogCount(t, logs, "kafka call failed")
	if outage == 0 {
		t.Errorf("the service logged nothing about the outage; log tail:\n%s", crashTail(p.log))
	}
	if !strings.Contains(down.body, "kafka unreachable") {
		t.Errorf("readiness during the outage said %q, want it to name Kafka", down.body)
	}
	landed := crashTopicSize(t, cfg, cfg.Topics.Feedback)
	t.Logf("FIGURE broker_restart_outage_seconds=%.1f", upAt.Sub(stopAt).Seconds())
	t.Logf("FIGURE broker_restart_not_ready_after_seconds=%.1f", down.at.Sub(stopAt).Seconds())
	t.Logf("FIGURE broker_restart_recover_ready_seconds=%.2f", ready.at.Sub(upAt).Seconds())
	t.Logf("FIGURE broker_restart_recover_checkpoint_seconds=%.2f", ckp.at.Sub(upAt).Seconds())
	t.Logf("FIGURE broker_restart_service_restarts=%d", restarts)
	t.Logf("FIGURE broker_restart_events_learned=%d", learned)
	t.Logf("FIGURE broker_restart_feedback_messages_landed=%d", landed)
	t.Logf("FIGURE broker_restart_responses_refined=%d/%d", refined, len(ids))
	t.Logf("FIGURE broker_restart_producer_retries=%d", prod.retries.Load())
	t.Logf("FIGURE broker_restart_kafka_error_log_lines=%d", outage)
	t.Logf("FIGURE broker_restart_kafka_errors_metric=%.0f", kafkaErrors)
	t.Logf("FIGURE broker_restart_sigterm_exit_seconds=%.1f", stopTook.Seconds())
}

func brokerExited(p *crashProc) bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// brokerExitLine is the error line the binary printed on its way out.
func brokerExitLine(log string) string {
	b, _ := os.ReadFile(log)
	_, after, ok := strings.Cut(string(b), "\nslhf: ")
	if !ok {
		return "(no error line)"
	}
	line, _, _ := strings.Cut(after, "\n")
	return "slhf: " + line
}

// brokerLogs returns the service logs in dir.
func brokerLogs(t *testing.T, dir string) []string {
	t.Helper()
	logs, err := filepath.Glob(filepath.Join(dir, "service-*.log"))
	if err != nil || len(logs) == 0 {
		t.Fatalf("no service logs in %s (%v)", dir, err)
	}
	return logs
}

func brokerLogCount(t *testing.T, dir, s string) int {
	t.Helper()
	n := 0
	for _, log := range brokerLogs(t, dir) {
		n += crashLogCount(t, log, s)
	}
	return n
}

// brokerLogSum adds up the integers that follow prefix in every log line
// of every service log: with "stopped learned=", the events each process
// learned, from the line it logs on its way out.
func brokerLogSum(t *testing.T, dir, prefix string) int {
	t.Helper()
	sum := 0
	for _, log := range brokerLogs(t, dir) {
		b, err := os.ReadFile(log)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			_, after, ok := strings.Cut(line, prefix)
			if !ok {
				continue
			}
			digits, _, _ := strings.Cut(after, " ")
			n, err := strconv.Atoi(digits)
			if err != nil {
				t.Fatalf("%s: %q: %v", log, line, err)
			}
			sum += n
		}
	}
	return sum
}

// brokerKeepUp makes sure, at cleanup, that the shared broker runs again,
// whatever the test did to it.
func brokerKeepUp(t *testing.T) {
	t.Helper()
	dir := os.Getenv(envDataDir)
	if dir == "" {
		t.Skipf("needs %s to stop and start the broker", envDataDir)
	}
	t.Cleanup(func() {
		script := "../scripts/kafka/broker.sh"
		if exec.Command("bash", script, "status", dir).Run() == nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, "bash", script, "restart", dir).CombinedOutput()
		if err != nil {
			t.Errorf("broker left down; restart failed: %v\n%s", err, out)
		}
	})
}

// brokerResponses encodes the held-out real responses, brokerRespPerMsg
// per message, and returns their request ids.
func brokerResponses(t *testing.T) ([][]byte, []string) {
	t.Helper()
	b, err := app.LoadBundle(0.2, 1, 7)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Responses) < 50 {
		t.Fatalf("only %d held-out responses", len(b.Responses))
	}
	msgs, err := app.EncodeChunks(b.Responses, brokerRespPerMsg, 1<<20, schemas.EncodeResponses)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(b.Responses))
	for i, r := range b.Responses {
		ids[i] = r.RequestID
	}
	return msgs, ids
}

// brokerProducer streams messages through a broker outage: every write is
// retried with backoff until it is acknowledged or a minute has passed.
type brokerProducer struct {
	cfg      config.Config
	feedback atomic.Int64 // feedback messages acknowledged
	retries  atomic.Int64 // failed writes retried
}

// run writes one feedback message every brokerPace and, after every
// fourth, one response message (the rest at the end).
func (bp *brokerProducer) run(ctx context.Context, feedback, responses [][]byte) error {
	fw, err := sinks.NewKafkaWriter(crashKafka(bp.cfg), bp.cfg.Topics.Feedback,
		sinks.WithRetry(2, 100*time.Millisecond, 200*time.Millisecond))
	if err != nil {
		return err
	}
	defer fw.Close()
	rw, err := sinks.NewKafkaWriter(crashKafka(bp.cfg), bp.cfg.Topics.Responses,
		sinks.WithRetry(2, 100*time.Millisecond, 200*time.Millisecond))
	if err != nil {
		return err
	}
	defer rw.Close()
	for i, v := range feedback {
		key := fmt.Appendf(nil, "feedback-%d", i)
		if err := bp.write(ctx, fw, sinks.Message{Key: key, Value: v}); err != nil {
			return err
		}
		bp.feedback.Add(1)
		if i%4 == 3 && len(responses) > 0 {
			key := fmt.Appendf(nil, "responses-%d", i)
			if err := bp.write(ctx, rw, sinks.Message{Key: key, Value: responses[0]}); err != nil {
				return err
			}
			responses = responses[1:]
		}
		if err := crashSleep(ctx, brokerPace); err != nil {
			return err
		}
	}
	for i, v := range responses {
		key := fmt.Appendf(nil, "responses-tail-%d", i)
		if err := bp.write(ctx, rw, sinks.Message{Key: key, Value: v}); err != nil {
			return err
		}
	}
	return nil
}

// write retries a failed write with backoff from 100 ms doubling to
// 500 ms, for at most a minute.
func (bp *brokerProducer) write(ctx context.Context, w *sinks.KafkaWriter, m sinks.Message) error {
	deadline := time.Now().Add(time.Minute)
	backoff := 100 * time.Millisecond
	for {
		err := w.Write(ctx, m)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("write %s to %s: gave up: %w", m.Key, w.Topic(), err)
		}
		bp.retries.Add(1)
		if err := crashSleep(ctx, backoff); err != nil {
			return err
		}
		backoff = min(2*backoff, 500*time.Millisecond)
	}
}

// brokerSample is one poll of the service: /readyz and the newest
// checkpoint step.
type brokerSample struct {
	at   time.Time
	code int // HTTP status, 0 if the request failed
	body string
	step int64
}

func isReady(s brokerSample) bool { return s.code == http.StatusOK }
func isDown(s brokerSample) bool  { return s.code == http.StatusServiceUnavailable }

// brokerProbe polls a service every 100 ms until the test ends.
type brokerProbe struct {
	mu      sync.Mutex // protects samples
	samples []brokerSample
}

func brokerWatch(t *testing.T, cfg config.Config) *brokerProbe {
	t.Helper()
	pr := &brokerProbe{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	client := &http.Client{Timeout: time.Second}
	url := "http://" + cfg.Metrics.Listen + "/readyz"
	go func() {
		defer close(done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			s := brokerSample{at: time.Now(), step: crashNewestStep(cfg.Checkpoint.Dir)}
			if resp, err := client.Get(url); err == nil {
				b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
				resp.Body.Close()
				s.code, s.body = resp.StatusCode, strings.TrimSpace(string(b))
			}
			pr.mu.Lock()
			pr.samples = append(pr.samples, s)
			pr.mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return pr
}

// await returns the first sample taken after since that satisfies ok,
// waiting at most limit, and fails if the service p (unless nil) exits
// first.
func (pr *brokerProbe) await(t *testing.T, p *crashProc, what string, since time.Time,
	limit time.Duration, ok func(brokerSample) bool) brokerSample {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		pr.mu.Lock()
		for _, s := range pr.samples {
			if s.at.After(since) && ok(s) {
				pr.mu.Unlock()
				return s
			}
		}
		var last brokerSample
		if n := len(pr.samples); n > 0 {
			last = pr.samples[n-1]
		}
		pr.mu.Unlock()
		if time.Now().After(deadline) {
			fatalf(t, "no %s within %v (last /readyz %d %q)", what, limit, last.code,
				last.body)
		}
		if p != nil && brokerExited(p) {
			fatalf(t, "service exited (%v) waiting for %s; log tail:\n%s", p.err, what,
				crashTail(p.log))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stepAt is the checkpoint step of the last sample taken before at.
func (pr *brokerProbe) stepAt(at time.Time) int64 {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	step := int64(-1)
	for _, s := range pr.samples {
		if s.at.Before(at) {
			step = s.step
		}
	}
	return step
}

// brokerWaitRefined waits until the refined JSON-lines file holds a
// record for every id, and returns how many distinct ids it holds.
func brokerWaitRefined(t *testing.T, p *crashProc, path string, ids []string,
	limit time.Duration) int {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		seen, err := brokerRefinedIDs(path)
		if err != nil {
			t.Fatal(err)
		}
		missing := 0
		for _, id := range ids {
			if !seen[id] {
				missing++
			}
		}
		if missing == 0 {
			return len(seen)
		}
		if time.Now().After(deadline) {
			fatalf(t, "%d of %d responses never refined; log tail:\n%s", missing, len(ids),
				crashTail(p.log))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func brokerRefinedIDs(path string) (map[string]bool, error) {
	seen := map[string]bool{}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return seen, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var r struct {
			RequestID string `json:"request_id"`
		}
		if json.Unmarshal(sc.Bytes(), &r) == nil && r.RequestID != "" {
			seen[r.RequestID] = true
		}
	}
	return seen, nil // a torn last line is read again next time
}

// brokerMetric scrapes one unlabelled sample from /metrics.
func brokerMetric(t *testing.T, addr, name string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("scrape metrics: %v", err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metric %s: %v", name, err)
			}
			return f
		}
	}
	t.Fatalf("metric %s not exported", name)
	return 0
}

// TestRejectedRecordIsAnError writes a record the broker refuses (1.5 MB
// against its default 1 MiB message.max.bytes) through a writer whose own
// size limit was raised so that the pre-check lets it pass. The write must
// fail with the broker's error, and the topic must not grow: a rejected
// record is an error in our code, never a silent loss. With the default
// limit, the pre-check refuses it before anything is sent.
func TestRejectedRecordIsAnError(t *testing.T) {
	cfg := testConfig(t)
	cfg.Kafka.Partitions = 1
	crashEnsureTopics(t, cfg)
	topic := cfg.Topics.Feedback
	big := make([]byte, 1_500_000)
	for i := range big {
		big[i] = byte(i*7919 + i>>9) // incompressible enough, and no compression is set
	}
	tests := []struct {
		name      string
		opts      []sinks.KafkaOption
		wantError error // errors.Is target
	}{
		{"broker rejects", []sinks.KafkaOption{sinks.WithMaxMessageBytes(4 << 20)},
			kafka.MessageSizeTooLarge},
		{"pre-check refuses", nil, sinks.ErrMessageTooLarge},
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := sinks.NewKafkaWriter(crashKafka(cfg), topic, tt.opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			before := crashTopicSize(t, cfg, topic)
			start := time.Now()
			err = w.Write(ctx, sinks.Message{Key: []byte("too-large"), Value: big})
			took := time.Since(start)
			if !errors.Is(err, tt.wantError) {
				fatalf(t, "write of %d bytes: error %v, want one wrapping %v", len(big), err,
					tt.wantError)
			}
			if after := crashTopicSize(t, cfg, topic); after != before {
				t.Fatalf("topic grew from %d to %d messages after a failed write", before, after)
			}
			// The writer is still usable: the next small record lands.
			if err := w.Write(ctx, sinks.Message{Key: []byte("small"), Value: []byte("ok")}); err != nil {
				fatalf(t, "small write after the rejection: %v", err)
			}
			if after := crashTopicSize(t, cfg, topic); after != before+1 {
				t.Fatalf("topic has %d messages after one small write, want %d", after, before+1)
			}
			t.Logf("FIGURE rejected_record_%s_ms=%d (%v)", strings.ReplaceAll(tt.name, " ", "_"),
				took.Milliseconds(), err)
		})
	}
}
