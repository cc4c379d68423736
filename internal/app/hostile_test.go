package app

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/slhf-dev/slhf/config"
	"github.com/slhf-dev/slhf/ingest"
	"github.com/slhf-dev/slhf/internal/testkit"
	"github.com/slhf-dev/slhf/schemas"
	"github.com/slhf-dev/slhf/sinks"
)

// hostileSeed fixes every random choice of TestHostileInput.
const hostileSeed = 0x51f0_2026

// Outcomes a hostile case intends. A named reason means "rejected for
// exactly this reason"; these two are the others.
const (
	wantAdmit  = "admit"  // the message must be admitted
	wantReject = "reject" // rejected, for any named reason (random bytes)
	wantOracle = ""       // whatever the decoder says (random mutations)
)

// hostileCase is one message value and what should become of it.
type hostileCase struct {
	name  string
	value []byte
	want  string
}

// TestHostileInput feeds both input topics a seeded mix of valid and
// hostile messages (random bytes of many sizes, byte flips and
// truncations of valid messages, valid Arrow of the wrong shape,
// semantically hostile rows, the poison corpus), runs the whole service
// until both topics are drained, and checks the accounting: every message
// read is admitted or dead-lettered with a named reason and its source
// position, every valid event is learned exactly once, every admitted
// response gives exactly one refined record whose text is the original or
// one of its candidates, the run ends, and no goroutine outlives it.
func TestHostileInput(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end run")
	}
	t.Run("mix", testHostileMix)
	t.Run("dead-letter-overflow", testDeadLetterOverflow)
}

func testHostileMix(t *testing.T) {
	rng := rand.New(rand.NewPCG(hostileSeed, 0xbad))
	cfg := testConfig(t)
	cfg.Kafka.Brokers = startBroker(t)
	cfg.Ingest.MaxMessageBytes = 512 << 10 // below the topic's 1 MiB, so bigger ones exist
	cfg.Checkpoint.EverySteps = 4

	bundle, err := LoadBundle(cfg.Embedded.HoldoutShare, 0, hostileSeed)
	if err != nil {
		t.Fatal(err)
	}
	feedback := hostileFeedback(t, rng, cfg, bundle)
	responses := hostileResponses(t, rng, cfg, bundle)
	intent := map[string]hostileCase{}
	for _, c := range append(slices.Clone(feedback), responses...) {
		intent[string(c.value)] = c // identical values carry the same intent
	}

	// The producer may send up to the topic's limit; the service's own
	// limit is lower, so just-over messages reach it.
	producer := cfg
	producer.Ingest.MaxMessageBytes = 1 << 20
	ctx := context.Background()
	if err := produceAfterTopics(ctx, producer, values(feedback)); err != nil {
		t.Fatal(err)
	}
	if err := Produce(ctx, producer, cfg.Topics.Responses, values(responses)); err != nil {
		t.Fatal(err)
	}
	fbIn := testkit.ReadTopic(t, cfg.Kafka.Brokers, cfg.Topics.Feedback)
	respIn := testkit.ReadTopic(t, cfg.Kafka.Brokers, cfg.Topics.Responses)
	if len(fbIn) != len(feedback) || len(respIn) != len(responses) {
		t.Fatalf("produced %d+%d messages, topics hold %d+%d",
			len(feedback), len(responses), len(fbIn), len(respIn))
	}

	rep, reg, refinedSeen := runHostile(t, cfg)

	dead := testkit.ReadTopic(t, cfg.Kafka.Brokers, cfg.Topics.DeadLetter)
	bySource := deadLettersBySource(t, dead)
	dec := schemas.NewDecoder(schemas.WithLimits(decodeLimits(cfg.Ingest)))

	checkFeedback(t, cfg, rep, dec, fbIn, bySource, intent)
	admitted := checkResponses(t, cfg, rep, dec, respIn, bySource, intent)
	checkRefined(t, cfg, rep, admitted, refinedSeen)
	checkDeadLetterTotals(t, rep, reg, dead, bySource, len(fbIn)+len(respIn))
}

// testDeadLetterOverflow sends, between valid messages, a malformed
// message whose Kafka key or headers fill the topic's message size: its
// dead letter cannot fit even without its value. The promise still holds:
// the message is dead-lettered (what cannot fit is dropped and said so),
// the run ends without error, and the valid messages around it are learned.
func testDeadLetterOverflow(t *testing.T) {
	cfg := singlePartition(t, startBroker(t))
	good := feedbackMessages(t, cfg, 48)
	ctx := context.Background()
	if err := produceAfterTopics(ctx, cfg, good[:1]); err != nil {
		t.Fatal(err)
	}
	w, err := sinks.NewKafkaWriter(kafkaConfig(cfg), cfg.Topics.Feedback)
	if err != nil {
		t.Fatal(err)
	}
	fill := bytes.Repeat([]byte("h"), 1<<20-256)
	err = w.Write(ctx,
		sinks.Message{Key: []byte("big-header"), Value: []byte("not arrow"),
			Headers: []sinks.Header{{Key: "trace", Value: fill}}},
		sinks.Message{Key: fill, Value: []byte("not arrow either")})
	w.Close()
	if err != nil {
		t.Fatalf("produce: %v", err)
	}
	if err := Produce(ctx, cfg, cfg.Topics.Feedback, good[1:]); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	end, err := ingest.EndOffsets(ctx, ingest.ReaderConfig{
		Brokers: cfg.Kafka.Brokers, Topic: cfg.Topics.Feedback})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(ctx, cfg, Options{Logger: testLogger(t), LearnEnd: end})
	if err != nil {
		t.Errorf("run: %v (a malformed message with a large key or header stops the "+
			"learn stage; on restart it fails on the same message again)", err)
	}
	if err != nil {
		// Restarted, the learner resumes before the same message and fails
		// on it again: the partition is stalled for good.
		_, err2 := Run(ctx, cfg, Options{Logger: testLogger(t), LearnEnd: end})
		t.Logf("restart: %v", err2)
	}
	if rep.Learn.Learned != 48 || rep.Offsets[0] != end[0] {
		t.Errorf("learned %d of 48 events, stopped at offset %d of %d", rep.Learn.Learned,
			rep.Offsets[0], end[0])
	}
	if n := rep.DeadLettered[string(schemas.ReasonCorruptIPC)]; n != 2 {
		t.Errorf("dead-lettered %v, want both malformed messages as %s", rep.DeadLettered,
			schemas.ReasonCorruptIPC)
	}
}

func values(cs []hostileCase) [][]byte {
	out := make([][]byte, len(cs))
	for i, c := range cs {
		out[i] = c.value
	}
	return out
}

// runHostile runs the service over both drained topics with a hard
// deadline, and checks that it returned in time, without error, and left
// no goroutine behind.
func runHostile(t *testing.T, cfg config.Config) (Report, *prometheus.Registry, []schemas.Refined) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	rc := ingest.ReaderConfig{Brokers: cfg.Kafka.Brokers, Topic: cfg.Topics.Feedback}
	learnEnd, err := ingest.EndOffsets(ctx, rc)
	if err != nil {
		t.Fatal(err)
	}
	rc.Topic = cfg.Topics.Responses
	refineEnd, err := ingest.EndOffsets(ctx, rc)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	var mu sync.Mutex
	var seen []schemas.Refined
	opts := Options{
		Logger: testLogger(t), Registry: reg, LearnEnd: learnEnd, RefineEnd: refineEnd,
		RefineAfterLearn: true,
		Refined: func(rows []schemas.Refined) {
			mu.Lock()
			seen = append(seen, rows...)
			mu.Unlock()
		},
	}
	before := runtime.NumGoroutine()
	type result struct {
		rep Report
		err error
	}
	done := make(chan result, 1)
	start := time.Now()
	go func() {
		rep, err := Run(ctx, cfg, opts)
		done <- result{rep, err}
	}()
	var res result
	select {
	case res = <-done:
	case <-time.After(45 * time.Second):
		t.Fatalf("run did not return within 45 s (stall); goroutines:\n%s", goroutineDump())
	}
	if ctx.Err() != nil {
		t.Errorf("run only ended because its 40 s deadline passed (stall): err %v", res.err)
	}
	if res.err != nil {
		t.Fatalf("run: %v", res.err)
	}
	t.Logf("run took %v: learn %+v refine %+v dead-lettered %v",
		time.Since(start).Round(time.Millisecond), res.rep.Learn, res.rep.Refine,
		res.rep.DeadLettered)
	checkGoroutines(t, before)
	mu.Lock()
	defer mu.Unlock()
	return res.rep, reg, slices.Clone(seen)
}

// checkGoroutines waits a little for goroutines of the run to end and
// fails if more than a few outlive it.
func checkGoroutines(t *testing.T, before int) {
	t.Helper()
	const tolerance = 4
	deadline := time.Now().Add(5 * time.Second)
	after := runtime.NumGoroutine()
	for after > before+tolerance && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		after = runtime.NumGoroutine()
	}
	if after > before+tolerance {
		t.Errorf("goroutine leak: %d before the run, %d five seconds after it returned:\n%s",
			before, after, goroutineDump())
	}
}

func goroutineDump() string {
	var b strings.Builder
	pprof.Lookup("goroutine").WriteTo(&b, 1)
	s := b.String()
	if len(s) > 12000 {
		s = s[:12000] + "\n..."
	}
	return s
}

// position is a message's place in its topic.
type position struct {
	topic     string
	partition int
	offset    int64
}

func deadLettersBySource(t *testing.T, dead []kafka.Message) map[position][]kafka.Message {
	t.Helper()
	out := map[position][]kafka.Message{}
	for _, m := range dead {
		p, err := strconv.Atoi(testkit.Header(m, sinks.HeaderSourcePartition))
		o, err2 := strconv.ParseInt(testkit.Header(m, sinks.HeaderSourceOffset), 10, 64)
		if err != nil || err2 != nil {
			t.Errorf("dead letter at %d@%d without a source position: %v", m.Partition,
				m.Offset, m.Headers)
			continue
		}
		pos := position{testkit.Header(m, sinks.HeaderSourceTopic), p, o}
		out[pos] = append(out[pos], m)
	}
	return out
}

// checkDeadLetter checks one dead letter of the source message src.
func checkDeadLetter(t *testing.T, src kafka.Message, dl kafka.Message, reason string) {
	t.Helper()
	got := testkit.Header(dl, sinks.HeaderReason)
	if got == "" || got == "unknown" || got == ingest.ReasonDecoder {
		t.Errorf("%s/%d@%d: dead letter without a named reason: %q", src.Topic, src.Partition,
			src.Offset, got)
	}
	if reason != "" && got != reason {
		t.Errorf("%s/%d@%d: dead-letter reason %q, want %q", src.Topic, src.Partition,
			src.Offset, got, reason)
	}
	if dropped := testkit.Header(dl, sinks.HeaderValueDropped); dropped != "" {
		if dropped != strconv.Itoa(len(src.Value)) || len(dl.Value) != 0 {
			t.Errorf("%s/%d@%d: value dropped header %q for %d bytes, dead letter holds %d",
				src.Topic, src.Partition, src.Offset, dropped, len(src.Value), len(dl.Value))
		}
	} else if !bytes.Equal(dl.Value, src.Value) {
		t.Errorf("%s/%d@%d: dead letter value (%d bytes) differs from the original (%d)",
			src.Topic, src.Partition, src.Offset, len(dl.Value), len(src.Value))
	}
	if !bytes.Equal(dl.Key, src.Key) {
		t.Errorf("%s/%d@%d: dead letter key %q, original %q", src.Topic, src.Partition,
			src.Offset, dl.Key, src.Key)
	}
}

// checkIntent compares the decoder's verdict on a value with what its
// case meant.
func checkIntent(t *testing.T, c hostileCase, ok bool, reason string) {
	t.Helper()
	switch c.want {
	case wantOracle:
	case wantAdmit:
		if !ok {
			t.Errorf("case %s: rejected as %s, want admitted", c.name, reason)
		}
	case wantReject:
		if ok {
			t.Errorf("case %s: admitted, want rejected", c.name)
		}
	default:
		if reason != c.want {
			t.Errorf("case %s: verdict %q, want %q", c.name, or(reason, "admitted"), c.want)
		}
	}
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// checkFeedback checks the learn stage's accounting against the decoder's
// verdict on every feedback message.
func checkFeedback(t *testing.T, cfg config.Config, rep Report, dec *schemas.Decoder,
	in []kafka.Message, dead map[position][]kafka.Message, intent map[string]hostileCase) {
	t.Helper()
	var events, rejected, admittedMsgs int
	idCount := map[string]int{}       // event id → rows carrying it, admitted messages
	msgIDs := map[position][]string{} // admitted message → its ids
	for _, m := range in {
		pos := position{m.Topic, m.Partition, m.Offset}
		rows, err := dec.DecodePreferences(m.Value)
		reason := string(schemas.ReasonOf(err))
		checkIntent(t, intent[string(m.Value)], err == nil, reason)
		dls := dead[pos]
		if err != nil {
			rejected++
			if len(dls) != 1 {
				t.Errorf("feedback %d@%d (%s, %s): %d dead letters, want 1", m.Partition,
					m.Offset, intent[string(m.Value)].name, reason, len(dls))
				continue
			}
			checkDeadLetter(t, m, dls[0], reason)
			continue
		}
		admittedMsgs++
		events += len(rows)
		for _, r := range rows {
			idCount[r.EventID]++
			msgIDs[pos] = append(msgIDs[pos], r.EventID)
		}
		for _, dl := range dls {
			checkDeadLetter(t, m, dl, string(schemas.ReasonDuplicateEvent))
		}
		if len(dls) > 1 {
			t.Errorf("feedback %d@%d: %d dead letters for one message", m.Partition,
				m.Offset, len(dls))
		}
	}
	// A message holding an id no other row holds must not be called a
	// duplicate, and one repeating an id inside itself must be.
	for pos, ids := range msgIDs {
		shared, inner := false, false
		local := map[string]int{}
		for _, id := range ids {
			local[id]++
			shared = shared || idCount[id] > 1
			inner = inner || local[id] > 1
		}
		n := len(dead[pos])
		if !shared && n > 0 {
			t.Errorf("feedback %d@%d: dead-lettered as duplicate, but its ids are unique",
				pos.partition, pos.offset)
		}
		if inner && n == 0 {
			t.Errorf("feedback %d@%d: repeats an event id within itself, not dead-lettered",
				pos.partition, pos.offset)
		}
	}
	t.Logf("feedback: %d messages, %d admitted (%d events, %d distinct ids), %d rejected",
		len(in), admittedMsgs, events, len(idCount), rejected)
	l := rep.Learn
	if l.Messages != len(in) {
		t.Errorf("learn stage read %d feedback messages, topic holds %d", l.Messages, len(in))
	}
	if l.Events != events {
		t.Errorf("learn stage admitted %d events, decoder admits %d", l.Events, events)
	}
	if l.Learned != len(idCount) {
		t.Errorf("learned %d events, want each of %d distinct valid ids once", l.Learned,
			len(idCount))
	}
	if l.Duplicates != events-len(idCount) {
		t.Errorf("duplicates %d, want %d", l.Duplicates, events-len(idCount))
	}
	ends := map[int]int64{}
	for _, m := range in {
		ends[m.Partition] = max(ends[m.Partition], m.Offset+1)
	}
	for p, end := range ends {
		if rep.Offsets[p] != end {
			t.Errorf("feedback partition %d: next offset %d, want %d (partition stalled)", p,
				rep.Offsets[p], end)
		}
	}
}

// checkResponses checks the refine stage's admissions and rejections and
// returns the admitted rows by request id.
func checkResponses(t *testing.T, cfg config.Config, rep Report, dec *schemas.Decoder,
	in []kafka.Message, dead map[position][]kafka.Message,
	intent map[string]hostileCase) map[string][]schemas.Response {
	t.Helper()
	admitted := map[string][]schemas.Response{}
	rows := 0
	for _, m := range in {
		got, err := dec.DecodeResponses(m.Value)
		reason := string(schemas.ReasonOf(err))
		checkIntent(t, intent[string(m.Value)], err == nil, reason)
		dls := dead[position{m.Topic, m.Partition, m.Offset}]
		if err == nil {
			if len(dls) != 0 {
				t.Errorf("responses %d@%d: admitted but dead-lettered as %s", m.Partition,
					m.Offset, testkit.Header(dls[0], sinks.HeaderReason))
			}
			for _, r := range got {
				admitted[r.RequestID] = append(admitted[r.RequestID], r)
			}
			rows += len(got)
			continue
		}
		if len(dls) != 1 {
			t.Errorf("responses %d@%d (%s, %s): %d dead letters, want 1", m.Partition,
				m.Offset, intent[string(m.Value)].name, reason, len(dls))
			continue
		}
		checkDeadLetter(t, m, dls[0], reason)
	}
	t.Logf("responses: %d messages, %d admitted rows", len(in), rows)
	if rep.Refine.Messages != len(in) {
		t.Errorf("refine stage read %d response messages, topic holds %d",
			rep.Refine.Messages, len(in))
	}
	if rep.Refine.Refined != rows {
		t.Errorf("refined %d records, want one per admitted row: %d", rep.Refine.Refined, rows)
	}
	return admitted
}

// checkRefined reads the refined topic and matches every record to an
// admitted row: one record per row, and the refined text is the row's
// response or one of its candidates.
func checkRefined(t *testing.T, cfg config.Config, rep Report,
	admitted map[string][]schemas.Response, seen []schemas.Refined) {
	t.Helper()
	dec := schemas.NewDecoder()
	var out []schemas.Refined
	for _, m := range testkit.ReadTopic(t, cfg.Kafka.Brokers, cfg.Topics.Refined) {
		rows, err := dec.DecodeRefined(m.Value)
		if err != nil {
			t.Errorf("refined %d@%d does not decode: %v", m.Partition, m.Offset, err)
			continue
		}
		if len(rows) != 1 || string(m.Key) != rows[0].RequestID {
			t.Errorf("refined %d@%d: %d rows under key %q", m.Partition, m.Offset,
				len(rows), m.Key)
		}
		out = append(out, rows...)
	}
	if len(seen) != len(out) {
		t.Errorf("refined topic holds %d records, the observer saw %d", len(out), len(seen))
	}
	left := map[string][]schemas.Response{}
	for id, rs := range admitted {
		left[id] = slices.Clone(rs)
	}
	for _, r := range out {
		i := slices.IndexFunc(left[r.RequestID], func(in schemas.Response) bool {
			return in.Prompt == r.Prompt && in.Response == r.Original &&
				(r.Refined == in.Response || slices.Contains(in.Candidates, r.Refined))
		})
		if i < 0 {
			t.Errorf("refined %q (changed %v, reason %s): no admitted row it refines, "+
				"or refined text is neither the original nor a candidate", r.RequestID,
				r.Changed, r.Reason)
			continue
		}
		in := left[r.RequestID][i]
		left[r.RequestID] = slices.Delete(left[r.RequestID], i, i+1)
		if r.Changed != (r.Refined != r.Original) {
			t.Errorf("refined %q: changed=%v but texts equal=%v", r.RequestID, r.Changed,
				r.Refined == r.Original)
		}
		if allEqual(in.Candidates, in.Response) && r.Changed {
			t.Errorf("refined %q: changed although every candidate equals the response",
				r.RequestID)
		}
	}
	for id, rs := range left {
		if len(rs) > 0 {
			t.Errorf("admitted response %q: %d rows without a refined record", id, len(rs))
		}
	}
}

func allEqual(cands []string, s string) bool {
	for _, c := range cands {
		if c != s {
			return false
		}
	}
	return true
}

// checkDeadLetterTotals compares the dead-letter topic with the report and
// the metrics.
func checkDeadLetterTotals(t *testing.T, rep Report, reg *prometheus.Registry,
	dead []kafka.Message, bySource map[position][]kafka.Message, read int) {
	t.Helper()
	topic := map[string]int{}
	dropped := 0
	for _, m := range dead {
		topic[testkit.Header(m, sinks.HeaderReason)]++
		if testkit.Header(m, sinks.HeaderValueDropped) != "" {
			dropped++
		}
	}
	t.Logf("dead letters: %d, %d of them without their value", len(dead), dropped)
	if dropped == 0 {
		t.Errorf("no dead letter dropped its value: the near-limit case did not test it")
	}
	if fmt.Sprint(topic) != fmt.Sprint(rep.DeadLettered) {
		t.Errorf("dead-letter topic by reason %v, report %v", topic, rep.DeadLettered)
	}
	gate := counterByLabel(t, reg, "slhf_ingest_dead_lettered_total", "reason")
	sink := counterByLabel(t, reg, "slhf_sink_dead_letter_written_total", "reason")
	if fmt.Sprint(gate) != fmt.Sprint(topic) || fmt.Sprint(sink) != fmt.Sprint(topic) {
		t.Errorf("dead-letter metrics: gate %v, sink %v; topic %v", gate, sink, topic)
	}
	consumed := counterByLabel(t, reg, "slhf_ingest_consumed_total", "topic")
	total := 0
	for _, n := range consumed {
		total += n
	}
	if total != read {
		t.Errorf("slhf_ingest_consumed_total %v sums to %d, want %d", consumed, total, read)
	}
}

func counterByLabel(t *testing.T, reg *prometheus.Registry, name, label string) map[string]int {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && m.GetCounter().GetValue() > 0 {
					out[l.GetValue()] += int(m.GetCounter().GetValue())
				}
			}
		}
	}
	return out
}

// ---- hostile feedback ----

var hostileTS = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// hostileFeedback builds the feedback topic's messages, shuffled.
func hostileFeedback(t *testing.T, rng *rand.Rand, cfg config.Config, b *Bundle) []hostileCase {
	t.Helper()
	valid, err := EncodeChunks(b.Feedback[:256], 16, maxBytes(cfg), schemas.EncodePreferences)
	if err != nil {
		t.Fatal(err)
	}
	var cs []hostileCase
	for i, v := range valid {
		cs = append(cs, hostileCase{fmt.Sprintf("bundle-%d", i), v, wantAdmit})
	}
	// A valid message replayed: all of its events are duplicates.
	cs = append(cs, hostileCase{"replayed-message", valid[0], wantAdmit})
	cs = append(cs, randomCases(rng, cfg.Ingest.MaxMessageBytes)...)
	cs = append(cs, mutations(rng, valid, "feedback", 40)...)
	cs = append(cs, poisonCases(t)...)
	cs = append(cs, wrongShapeFeedback(t)...)
	cs = append(cs, semanticFeedback(t)...)
	rng.Shuffle(len(cs), func(i, j int) { cs[i], cs[j] = cs[j], cs[i] })
	return cs
}

// randomCases are random bytes of sizes around every boundary, plus one
// near the topic's limit whose dead letter cannot hold its value.
func randomCases(rng *rand.Rand, limit int) []hostileCase {
	sizes := []int{1, 7, 64, 4 << 10, limit - 1, limit}
	cs := []hostileCase{{"empty", nil, string(schemas.ReasonEmptyMessage)}}
	for _, n := range sizes {
		cs = append(cs, hostileCase{fmt.Sprintf("random-%d", n), randomBytes(rng, n), wantReject})
	}
	cs = append(cs,
		hostileCase{"random-over-limit", randomBytes(rng, limit+1),
			string(schemas.ReasonOversizedMessage)},
		hostileCase{"random-near-topic-limit", randomBytes(rng, 1<<20-128),
			string(schemas.ReasonOversizedMessage)})
	// Arrow's stream magic followed by garbage.
	garbage := append([]byte{0xff, 0xff, 0xff, 0xff, 0x10, 0, 0, 0}, randomBytes(rng, 200)...)
	cs = append(cs, hostileCase{"continuation-then-garbage", garbage, wantReject})
	return cs
}

func randomBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// mutations flips bytes of, and truncates, randomly chosen valid messages.
func mutations(rng *rand.Rand, valid [][]byte, kind string, n int) []hostileCase {
	var cs []hostileCase
	for i := range n {
		src := valid[rng.IntN(len(valid))]
		v := bytes.Clone(src)
		var name string
		switch i % 4 {
		case 0: // one byte
			p := rng.IntN(len(v))
			v[p] ^= byte(1 + rng.IntN(255))
			name = fmt.Sprintf("%s-flip1@%d", kind, p)
		case 1: // several bytes anywhere
			for range 2 + rng.IntN(8) {
				v[rng.IntN(len(v))] ^= byte(1 + rng.IntN(255))
			}
			name = kind + "-flipN"
		case 2: // one byte within the header, where lengths live
			p := rng.IntN(min(len(v), 1024))
			v[p] ^= byte(1 + rng.IntN(255))
			name = fmt.Sprintf("%s-headerflip@%d", kind, p)
		case 3:
			cut := rng.IntN(len(v))
			v = v[:cut]
			name = fmt.Sprintf("%s-truncate@%d", kind, cut)
		}
		if cut := len(v); i%4 == 3 && cut == 0 {
			cs = append(cs, hostileCase{name, v, string(schemas.ReasonEmptyMessage)})
			continue
		}
		cs = append(cs, hostileCase{name, v, wantOracle})
	}
	return cs
}

func poisonCases(t *testing.T) []hostileCase {
	t.Helper()
	files, _ := filepath.Glob("../../schemas/testdata/poison/*.arrow")
	if len(files) != 3 {
		t.Fatalf("want the 3 poison files, found %d", len(files))
	}
	var cs []hostileCase
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		cs = append(cs, hostileCase{"poison-" + filepath.Base(f), b,
			string(schemas.ReasonCorruptIPC)})
	}
	return cs
}

// prefFields returns preference.v1's required fields with one changed by
// edit (nil: unchanged), and the schema metadata.
func prefFields(edit func([]arrow.Field) []arrow.Field) *arrow.Schema {
	s := schemas.PreferenceSchema(0)
	fields := s.Fields()[:6]
	if edit != nil {
		fields = edit(slices.Clone(fields))
	}
	md := s.Metadata()
	return arrow.NewSchema(fields, &md)
}

func replaceField(name string, f arrow.Field) func([]arrow.Field) []arrow.Field {
	return func(fs []arrow.Field) []arrow.Field {
		for i := range fs {
			if fs[i].Name == name {
				fs[i] = f
			}
		}
		return fs
	}
}

// wrongShapeFeedback is valid Arrow that is not a valid preference.v1
// message.
func wrongShapeFeedback(t *testing.T) []hostileCase {
	t.Helper()
	str := arrow.BinaryTypes.String
	dict := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: str}
	meta := func(kind, version string) *arrow.Schema {
		md := arrow.NewMetadata([]string{schemas.MetaSchemaName, schemas.MetaSchemaVersion},
			[]string{kind, version})
		return arrow.NewSchema(prefFields(nil).Fields(), &md)
	}
	cases := []struct {
		name   string
		schema *arrow.Schema
		rows   int
		want   schemas.Reason
	}{
		{"extra-column", prefFields(func(fs []arrow.Field) []arrow.Field {
			return append(fs, arrow.Field{Name: "bogus", Type: str, Nullable: true})
		}), 3, schemas.ReasonWrongSchema},
		{"missing-preference", prefFields(func(fs []arrow.Field) []arrow.Field {
			return fs[:5]
		}), 3, schemas.ReasonMissingField},
		{"duplicate-prompt", prefFields(func(fs []arrow.Field) []arrow.Field {
			return append(fs, fs[2])
		}), 3, schemas.ReasonWrongSchema},
		{"preference-float64", prefFields(replaceField("preference",
			arrow.Field{Name: "preference", Type: arrow.PrimitiveTypes.Float64})),
			3, schemas.ReasonWrongType},
		{"event-id-dictionary", prefFields(replaceField("event_id",
			arrow.Field{Name: "event_id", Type: dict})), 3, schemas.ReasonWrongType},
		{"prompt-large-utf8", prefFields(replaceField("prompt",
			arrow.Field{Name: "prompt", Type: arrow.BinaryTypes.LargeString})),
			3, schemas.ReasonWrongType},
		{"prompt-nested-list", prefFields(replaceField("prompt",
			arrow.Field{Name: "prompt", Type: arrow.ListOf(arrow.ListOf(str))})),
			3, schemas.ReasonWrongType},
		{"ts-nanoseconds", prefFields(replaceField("ts", arrow.Field{Name: "ts",
			Type: &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}})),
			3, schemas.ReasonWrongType},
		{"ts-other-zone", prefFields(replaceField("ts", arrow.Field{Name: "ts",
			Type: &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "Asia/Tokyo"}})),
			3, schemas.ReasonWrongType},
		{"zero-rows", prefFields(nil), 0, schemas.ReasonEmptyMessage},
		{"no-metadata", arrow.NewSchema(prefFields(nil).Fields(), nil), 3,
			schemas.ReasonWrongSchema},
		{"version-2", meta(schemas.PreferenceName, "2"), 3, schemas.ReasonUnknownVersion},
		{"kind-response", meta(schemas.ResponseName, "1"), 3, schemas.ReasonWrongSchema},
	}
	var cs []hostileCase
	for _, c := range cases {
		v := ipcOf(t, c.schema, func(b *array.RecordBuilder) { fillAny(b, c.rows, c.name) })
		cs = append(cs, hostileCase{"shape-" + c.name, v, string(c.want)})
	}
	// Tiny rows, one over the row limit and exactly at it (ingest.max_rows).
	cs = append(cs,
		hostileCase{"shape-too-many-rows", tinyRows(t, "over", 10_001),
			string(schemas.ReasonTooManyRows)},
		hostileCase{"shape-rows-at-limit", tinyRows(t, "at", 10_000), wantAdmit})
	// Embedding columns that disagree on D, and one of D = 0.
	emb := func(name string, d int32) arrow.Field {
		return arrow.Field{Name: name, Nullable: true,
			Type: arrow.FixedSizeListOf(d, arrow.PrimitiveTypes.Float32)}
	}
	for _, c := range []struct {
		name string
		add  []arrow.Field
	}{
		{"dims-disagree", []arrow.Field{emb("prompt_embedding", 4), emb("embedding_a", 8)}},
		{"dim-zero", []arrow.Field{emb("embedding_b", 0)}},
	} {
		s := prefFields(func(fs []arrow.Field) []arrow.Field { return append(fs, c.add...) })
		v := ipcOf(t, s, func(b *array.RecordBuilder) { fillAny(b, 2, c.name) })
		cs = append(cs, hostileCase{"shape-" + c.name, v, string(schemas.ReasonInvalidEmbedding)})
	}
	// A required column declared nullable holding a null.
	nullable := prefFields(func(fs []arrow.Field) []arrow.Field {
		fs[0].Nullable = true
		return fs
	})
	v := ipcOf(t, nullable, func(b *array.RecordBuilder) {
		fillAny(b, 3, "null-id")
		b.Field(0).(*array.StringBuilder).AppendNull()
		fillRow(b, 1, 1, "null-id-tail")
	})
	cs = append(cs, hostileCase{"shape-null-event-id", v, string(schemas.ReasonMissingField)})
	// Valid data in two record batches is one valid message.
	cs = append(cs, hostileCase{"two-batches", ipcBatches(t, prefFields(nil), "two-batches"),
		wantAdmit})
	// Two valid streams glued together, and one without its end marker.
	one := ipcOf(t, prefFields(nil), func(b *array.RecordBuilder) { fillAny(b, 2, "glued") })
	cs = append(cs,
		hostileCase{"two-streams", append(slices.Clone(one), one...), string(schemas.ReasonCorruptIPC)},
		hostileCase{"no-end-marker", one[:len(one)-8], string(schemas.ReasonTruncatedIPC)})
	return cs
}

// ipcOf writes one record batch built by fill as an IPC stream.
func ipcOf(t *testing.T, s *arrow.Schema, fill func(*array.RecordBuilder)) []byte {
	t.Helper()
	b := array.NewRecordBuilder(memory.DefaultAllocator, s)
	defer b.Release()
	fill(b)
	rec := b.NewRecordBatch()
	defer rec.Release()
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(s))
	if err := w.Write(rec); err != nil {
		t.Fatalf("write ipc: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("close ipc: %v", err)
	}
	return buf.Bytes()
}

// ipcBatches writes two valid record batches of two rows each.
func ipcBatches(t *testing.T, s *arrow.Schema, tag string) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(s))
	for i := range 2 {
		b := array.NewRecordBuilder(memory.DefaultAllocator, s)
		fillAny(b, 2, fmt.Sprintf("%s-%d", tag, i))
		rec := b.NewRecordBatch()
		if err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
		rec.Release()
		b.Release()
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// fillAny appends n rows of plausible values to every column, whatever
// its type; texts carry tag so that event ids are unique per case.
func fillAny(b *array.RecordBuilder, n int, tag string) {
	for i := range n {
		fillRow(b, 0, i, tag)
	}
}

// fillRow appends row i to the columns from the first onwards.
func fillRow(b *array.RecordBuilder, first, i int, tag string) {
	for c := first; c < len(b.Fields()); c++ {
		appendAny(b.Field(c), fmt.Sprintf("%s-%d", tag, i))
	}
}

func appendAny(fb array.Builder, s string) {
	switch x := fb.(type) {
	case *array.StringBuilder:
		x.Append(s)
	case *array.LargeStringBuilder:
		x.Append(s)
	case *array.BinaryDictionaryBuilder:
		_ = x.AppendString(s)
	case *array.Float32Builder:
		x.Append(0.25)
	case *array.Float64Builder:
		x.Append(0.25)
	case *array.Int64Builder:
		x.Append(1)
	case *array.TimestampBuilder:
		x.Append(arrow.Timestamp(hostileTS.UnixMilli()))
	case *array.ListBuilder:
		x.Append(true)
		appendAny(x.ValueBuilder(), s)
	case *array.FixedSizeListBuilder:
		x.Append(true)
		vb := x.ValueBuilder().(*array.Float32Builder)
		for range x.Type().(*arrow.FixedSizeListType).Len() {
			vb.Append(0.5)
		}
	default:
		fb.AppendNull()
	}
}

func f32(v float32) *float32 { return &v }
func i64(v int64) *int64     { return &v }

// semanticFeedback is well-formed Arrow of the right schema whose rows
// are hostile in value; some must pass, most must not.
func semanticFeedback(t *testing.T) []hostileCase {
	t.Helper()
	lim := schemas.DefaultLimits()
	base := func(id string) schemas.Preference {
		return schemas.Preference{EventID: id, TS: hostileTS, Prompt: "Is this fine?",
			ResponseA: "yes", ResponseB: "no", Preference: 0.5}
	}
	text64k := strings.Repeat("a", 64<<10)
	type edit func(*schemas.Preference)
	cases := []struct {
		name string
		want string
		edit edit
	}{
		{"pref-nan", string(schemas.ReasonNaNPreference),
			func(p *schemas.Preference) { p.Preference = float32(math.NaN()) }},
		{"pref-inf", string(schemas.ReasonPreferenceOutOfRange),
			func(p *schemas.Preference) { p.Preference = float32(math.Inf(1)) }},
		{"pref-neg-inf", string(schemas.ReasonPreferenceOutOfRange),
			func(p *schemas.Preference) { p.Preference = float32(math.Inf(-1)) }},
		{"pref-negative", string(schemas.ReasonPreferenceOutOfRange),
			func(p *schemas.Preference) { p.Preference = -0.01 }},
		{"pref-above-one", string(schemas.ReasonPreferenceOutOfRange),
			func(p *schemas.Preference) { p.Preference = 1.0001 }},
		{"pref-negative-zero", wantAdmit,
			func(p *schemas.Preference) { p.Preference = float32(math.Copysign(0, -1)) }},
		{"pref-one", wantAdmit, func(p *schemas.Preference) { p.Preference = 1 }},
		{"empty-prompt", string(schemas.ReasonEmptyText),
			func(p *schemas.Preference) { p.Prompt = "" }},
		{"empty-event-id", string(schemas.ReasonEmptyEventID),
			func(p *schemas.Preference) { p.EventID = "" }},
		{"whitespace-texts", wantAdmit, func(p *schemas.Preference) {
			p.Prompt, p.ResponseA, p.ResponseB = " \t\n", "\u00a0", "\r\n"
		}},
		{"zero-width-texts", wantAdmit, func(p *schemas.Preference) {
			p.Prompt, p.ResponseA, p.ResponseB = "\u200b", "\u200c\u200d", "\ufeff"
		}},
		{"rtl-texts", wantAdmit, func(p *schemas.Preference) {
			p.Prompt, p.ResponseA, p.ResponseB = "\u202eمرحبا", "שלום\u202c", "\u2067x\u2069"
		}},
		{"text-at-limit", wantAdmit, func(p *schemas.Preference) { p.ResponseA = text64k }},
		{"text-over-limit", string(schemas.ReasonOversizedText),
			func(p *schemas.Preference) { p.ResponseB = text64k + "b" }},
		{"invalid-utf8", string(schemas.ReasonInvalidUTF8),
			func(p *schemas.Preference) { p.ResponseA = "ok\xff\xfe" }},
		{"invalid-utf8-event-id", string(schemas.ReasonInvalidUTF8),
			func(p *schemas.Preference) { p.EventID = "id-\xc3" }},
		{"ts-min", wantAdmit, func(p *schemas.Preference) { p.TS = lim.MinTS }},
		{"ts-max-minus-1ms", wantAdmit,
			func(p *schemas.Preference) { p.TS = lim.MaxTS.Add(-time.Millisecond) }},
		{"ts-before-min", string(schemas.ReasonInvalidTimestamp),
			func(p *schemas.Preference) { p.TS = lim.MinTS.Add(-time.Millisecond) }},
		{"ts-max", string(schemas.ReasonInvalidTimestamp),
			func(p *schemas.Preference) { p.TS = lim.MaxTS }},
		{"ts-int64-min", string(schemas.ReasonInvalidTimestamp),
			func(p *schemas.Preference) { p.TS = time.UnixMilli(math.MinInt64) }},
		{"ts-int64-max", string(schemas.ReasonInvalidTimestamp),
			func(p *schemas.Preference) { p.TS = time.UnixMilli(math.MaxInt64) }},
		{"prob-above-one", string(schemas.ReasonInvalidValue),
			func(p *schemas.Preference) { p.ProbA = f32(1.5) }},
		{"prob-nan", string(schemas.ReasonInvalidValue),
			func(p *schemas.Preference) { p.ProbB = f32(float32(math.NaN())) }},
		{"weight-negative", string(schemas.ReasonInvalidValue),
			func(p *schemas.Preference) { p.Weight = f32(-1) }},
		{"weight-inf", string(schemas.ReasonInvalidValue),
			func(p *schemas.Preference) { p.Weight = f32(float32(math.Inf(1))) }},
		{"role-unknown", string(schemas.ReasonInvalidValue),
			func(p *schemas.Preference) { p.RoleA = "boss" }},
		{"policy-version-negative", string(schemas.ReasonInvalidValue),
			func(p *schemas.Preference) { p.PolicyVersion = i64(-1) }},
		{"weight-max-float32", wantAdmit,
			func(p *schemas.Preference) { p.Weight = f32(math.MaxFloat32) }},
		{"weight-zero", wantAdmit, func(p *schemas.Preference) { p.Weight = f32(0) }},
		{"logged-behaviour", wantAdmit, func(p *schemas.Preference) {
			p.RoleA, p.RoleB, p.ProbA, p.ProbB = schemas.RoleLeader, schemas.RoleFollower,
				f32(0), f32(1e-30)
		}},
	}
	var cs []hostileCase
	for _, c := range cases {
		p := base("sem-" + c.name)
		c.edit(&p)
		cs = append(cs, hostileCase{"sem-" + c.name, rawPreferences(t, []schemas.Preference{p}, 0),
			c.want})
	}
	// Embeddings: valid ones pass (the hash encoder ignores them); NaN does not.
	withEmb := func(id string, v []float32) schemas.Preference {
		p := base(id)
		p.PromptEmbedding, p.EmbeddingA, p.EmbeddingB = v, []float32{1, 0, 0}, nil
		return p
	}
	cs = append(cs,
		hostileCase{"sem-embedding-ok",
			rawPreferences(t, []schemas.Preference{withEmb("sem-emb-ok", []float32{0, 0, 0})}, 3),
			wantAdmit},
		hostileCase{"sem-embedding-nan", rawPreferences(t, []schemas.Preference{
			withEmb("sem-emb-nan", []float32{0, float32(math.NaN()), 1})}, 3),
			string(schemas.ReasonInvalidEmbedding)})
	// Duplicate ids inside one message, and across two messages.
	cs = append(cs,
		hostileCase{"dup-within", rawPreferences(t, []schemas.Preference{
			base("dup-in"), base("dup-in"), base("dup-in-other")}, 0), wantAdmit},
		hostileCase{"dup-across-1", rawPreferences(t, []schemas.Preference{
			base("dup-x"), base("dup-x-1")}, 0), wantAdmit},
		hostileCase{"dup-across-2", rawPreferences(t, []schemas.Preference{
			base("dup-x"), base("dup-x-2")}, 0), wantAdmit})
	return cs
}

// tinyRows is a message of n rows of the required columns only, with
// texts of one or two bytes; the ids are tag plus the row number.
func tinyRows(t *testing.T, tag string, n int) []byte {
	t.Helper()
	return ipcOf(t, prefFields(nil), func(b *array.RecordBuilder) {
		for i := range n {
			appendStr(b, 0, tag+strconv.Itoa(i))
			b.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(hostileTS.UnixMilli()))
			appendStr(b, 2, strconv.Itoa(i%7))
			appendStr(b, 3, "a")
			appendStr(b, 4, "b")
			b.Field(5).(*array.Float32Builder).Append(float32(i%3) / 2)
		}
	})
}

// rawPreferences writes rows as preference.v1 without validating them.
func rawPreferences(t *testing.T, rows []schemas.Preference, dim int) []byte {
	t.Helper()
	return ipcOf(t, schemas.PreferenceSchema(dim), func(b *array.RecordBuilder) {
		for _, p := range rows {
			appendStr(b, 0, p.EventID)
			b.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(p.TS.UnixMilli()))
			appendStr(b, 2, p.Prompt)
			appendStr(b, 3, p.ResponseA)
			appendStr(b, 4, p.ResponseB)
			b.Field(5).(*array.Float32Builder).Append(p.Preference)
			appendOptStr(b, 6, p.PromptID)
			appendOptStr(b, 7, p.ModelA)
			appendOptStr(b, 8, p.ModelB)
			appendOptStr(b, 9, string(p.RoleA))
			appendOptStr(b, 10, string(p.RoleB))
			appendOptF32(b, 11, p.ProbA)
			appendOptF32(b, 12, p.ProbB)
			if p.PolicyVersion != nil {
				b.Field(13).(*array.Int64Builder).Append(*p.PolicyVersion)
			} else {
				b.Field(13).AppendNull()
			}
			appendOptF32(b, 14, p.Weight)
			appendOptStr(b, 15, p.Annotator)
			if dim > 0 {
				appendEmb(b, 16, p.PromptEmbedding)
				appendEmb(b, 17, p.EmbeddingA)
				appendEmb(b, 18, p.EmbeddingB)
			}
		}
	})
}

func appendStr(b *array.RecordBuilder, i int, s string) {
	b.Field(i).(*array.StringBuilder).Append(s)
}

func appendOptStr(b *array.RecordBuilder, i int, s string) {
	if s == "" {
		b.Field(i).AppendNull()
		return
	}
	appendStr(b, i, s)
}

func appendOptF32(b *array.RecordBuilder, i int, v *float32) {
	if v == nil {
		b.Field(i).AppendNull()
		return
	}
	b.Field(i).(*array.Float32Builder).Append(*v)
}

func appendEmb(b *array.RecordBuilder, i int, v []float32) {
	fb := b.Field(i).(*array.FixedSizeListBuilder)
	if v == nil {
		fb.AppendNull()
		return
	}
	fb.Append(true)
	fb.ValueBuilder().(*array.Float32Builder).AppendValues(v, nil)
}

// ---- hostile responses ----

func hostileResponses(t *testing.T, rng *rand.Rand, cfg config.Config, b *Bundle) []hostileCase {
	t.Helper()
	valid, err := EncodeChunks(b.Responses[:48], 8, maxBytes(cfg), schemas.EncodeResponses)
	if err != nil {
		t.Fatal(err)
	}
	var cs []hostileCase
	for i, v := range valid {
		cs = append(cs, hostileCase{fmt.Sprintf("responses-%d", i), v, wantAdmit})
	}
	cs = append(cs, hostileCase{"responses-replayed", valid[0], wantAdmit})
	for _, c := range randomCases(rng, cfg.Ingest.MaxMessageBytes) {
		c.name = "responses-" + c.name
		c.value = append(c.value, 0) // distinct from the feedback ones
		if c.want == string(schemas.ReasonEmptyMessage) {
			c.want = wantReject
		}
		cs = append(cs, c)
	}
	cs = append(cs, mutations(rng, valid, "responses", 24)...)
	// A feedback message on the responses topic.
	fb, err := schemas.EncodePreferences(b.Feedback[:4], 0)
	if err != nil {
		t.Fatal(err)
	}
	cs = append(cs, hostileCase{"responses-preference-message", fb[0],
		string(schemas.ReasonWrongSchema)})
	cs = append(cs, semanticResponses(t)...)
	rng.Shuffle(len(cs), func(i, j int) { cs[i], cs[j] = cs[j], cs[i] })
	return cs
}

func semanticResponses(t *testing.T) []hostileCase {
	t.Helper()
	base := func(id string, cands ...string) schemas.Response {
		return schemas.Response{RequestID: id, TS: hostileTS, Prompt: "Say hi.",
			Response: "hi", Candidates: cands}
	}
	n := func(k int, f func(int) string) []string {
		out := make([]string, k)
		for i := range out {
			out[i] = f(i)
		}
		return out
	}
	word := func(i int) string { return fmt.Sprintf("hello number %d", i) }
	big := func(i int) string { return strings.Repeat(string(rune('a'+i%26)), 10<<10) }
	cases := []struct {
		name string
		want string
		row  schemas.Response
	}{
		{"cands-0", wantAdmit, base("resp-cands-0")},
		{"cands-1", wantAdmit, base("resp-cands-1", "hello")},
		{"cands-64", wantAdmit, base("resp-cands-64", n(64, word)...)},
		{"cands-65", string(schemas.ReasonTooManyCandidates), base("resp-cands-65", n(65, word)...)},
		{"cands-1000", string(schemas.ReasonTooManyCandidates),
			base("resp-cands-1000", n(1000, word)...)},
		{"cands-dup-response", wantAdmit, base("resp-cands-dup", "hi", "hello", "hi")},
		{"cands-all-identical", wantAdmit,
			base("resp-cands-same", n(8, func(int) string { return "hi" })...)},
		{"cands-10kb", wantAdmit, base("resp-cands-10kb", n(8, big)...)},
		{"cands-empty-item", string(schemas.ReasonEmptyText), base("resp-cands-empty", "a", "")},
		{"cands-invalid-utf8", string(schemas.ReasonInvalidUTF8), base("resp-cands-utf8", "a\xff")},
		{"response-is-prompt", wantAdmit, schemas.Response{RequestID: "resp-is-prompt",
			TS: hostileTS, Prompt: "same text", Response: "same text",
			Candidates: []string{"same text", "other text"}}},
		{"response-empty", string(schemas.ReasonEmptyText), schemas.Response{
			RequestID: "resp-empty", TS: hostileTS, Prompt: "p", Response: ""}},
		{"zero-width-rtl", wantAdmit, schemas.Response{RequestID: "resp-zw", TS: hostileTS,
			Prompt: "\u200b", Response: "\u202e\u200b", Candidates: []string{"\u2067", "\ufeff"}}},
	}
	var cs []hostileCase
	for _, c := range cases {
		cs = append(cs, hostileCase{"resp-" + c.name,
			rawResponses(t, []schemas.Response{c.row}), c.want})
	}
	// A null item in a candidates list.
	s := schemas.ResponseSchema(0)
	v := ipcOf(t, s, func(b *array.RecordBuilder) {
		appendStr(b, 0, "resp-null-item")
		b.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(hostileTS.UnixMilli()))
		appendStr(b, 2, "p")
		appendStr(b, 3, "r")
		lb := b.Field(4).(*array.ListBuilder)
		lb.Append(true)
		lb.ValueBuilder().(*array.StringBuilder).Append("x")
		lb.ValueBuilder().AppendNull()
		b.Field(5).AppendNull()
	})
	cs = append(cs, hostileCase{"resp-null-candidate", v, string(schemas.ReasonMissingField)})
	// Candidates of large_utf8.
	md := s.Metadata()
	fs := slices.Clone(s.Fields())
	fs[4].Type = arrow.ListOf(arrow.BinaryTypes.LargeString)
	large := arrow.NewSchema(fs, &md)
	cs = append(cs, hostileCase{"resp-cands-large-utf8",
		ipcOf(t, large, func(b *array.RecordBuilder) { fillAny(b, 2, "resp-large") }),
		string(schemas.ReasonWrongType)})
	return cs
}

// rawResponses writes rows as response.v1 without validating them.
func rawResponses(t *testing.T, rows []schemas.Response) []byte {
	t.Helper()
	return ipcOf(t, schemas.ResponseSchema(0), func(b *array.RecordBuilder) {
		for _, r := range rows {
			appendStr(b, 0, r.RequestID)
			b.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(r.TS.UnixMilli()))
			appendStr(b, 2, r.Prompt)
			appendStr(b, 3, r.Response)
			lb := b.Field(4).(*array.ListBuilder)
			if r.Candidates == nil {
				lb.AppendNull()
			} else {
				lb.Append(true)
				for _, c := range r.Candidates {
					lb.ValueBuilder().(*array.StringBuilder).Append(c)
				}
			}
			appendOptStr(b, 5, r.Model)
		}
	})
}
