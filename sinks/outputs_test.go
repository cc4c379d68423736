package sinks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/slhf-dev/slhf/internal/kafkax"
	"github.com/slhf-dev/slhf/schemas"
)

func refinedRows(n int) []schemas.Refined {
	rows := make([]schemas.Refined, n)
	for i := range rows {
		rows[i] = schemas.Refined{
			RequestID: fmt.Sprintf("req-%04d", i),
			TS: time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC).
				Add(time.Duration(i) * time.Millisecond),
			Prompt: "What is <b>2+2</b>?", Original: "5", Refined: "4",
			Rounds: 2, Changed: true, FollowerProb: 0.75, ModelVersion: 17,
			LatencyUS: int64(100 + i), Reason: "kept",
		}
	}
	return rows
}

func headerMap(hs []kafka.Header) map[string]string {
	m := map[string]string{}
	for _, h := range hs {
		m[h.Key] = string(h.Value)
	}
	return m
}

func TestDeadLetterWriter(t *testing.T) {
	_, cfg := testCluster(t, kafkax.TopicSpec{Name: "dlq",
		Configs: map[string]string{"max.message.bytes": "4096"}})
	reg := prometheus.NewRegistry()
	w := newTestWriter(t, cfg, "dlq", WithMaxMessageBytes(4096), WithRegisterer(reg))
	d, err := NewDeadLetterWriter(w, nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	long := errors.New(strings.Repeat("e", 5000))
	records := []DeadLetterRecord{
		{Reason: "bad_preference", Err: errors.New("preference 1.5 out of [0, 1]"),
			Topic: "feedback", Partition: 2, Offset: 41, Key: []byte("k"), Value: []byte("arrow"),
			Headers: []Header{{"trace", []byte("abc")}}},
		{Err: long, Topic: "feedback", Offset: 42, Value: bytes.Repeat([]byte("v"), 8000)},
		// Key and headers alone over the limit: everything but our
		// headers must go, or the source partition would stall.
		{Reason: "corrupt_ipc", Topic: "feedback", Offset: 43, Key: bytes.Repeat([]byte("k"), 100),
			Value: []byte("x"), Headers: []Header{{"big", bytes.Repeat([]byte("h"), 4000)}}},
		// A producer's own slhf.reason must not pass for ours.
		{Reason: "wrong_schema", Topic: "feedback", Offset: 44, Value: []byte("y"),
			Headers: []Header{{HeaderReason, []byte("spoofed")}}},
	}
	for _, r := range records {
		if err := d.DeadLetter(context.Background(), r); err != nil {
			t.Fatalf("DeadLetter(%s@%d) = %v", r.Topic, r.Offset, err)
		}
	}
	got := readAll(t, cfg, "dlq")
	if len(got) != 4 {
		t.Fatalf("read %d dead letters, want 4", len(got))
	}
	h2 := headerMap(got[2].Headers)
	if h2[HeaderExtrasDropped] != "4103" || h2["big"] != "" || len(got[2].Key) != 0 ||
		h2[HeaderSourceOffset] != "43" || h2[HeaderReason] != "corrupt_ipc" {
		t.Errorf("dead letter with huge headers: key %q headers %v", got[2].Key, h2)
	}
	h3 := headerMap(got[3].Headers)
	if h3[HeaderReason] != "wrong_schema" || h3[OriginalHeaderPrefix+HeaderReason] != "spoofed" {
		t.Errorf("spoofed reason header: %v", h3)
	}
	h0 := headerMap(got[0].Headers)
	want0 := map[string]string{"trace": "abc", HeaderReason: "bad_preference",
		HeaderError: "preference 1.5 out of [0, 1]", HeaderSourceTopic: "feedback",
		HeaderSourcePartition: "2", HeaderSourceOffset: "41"}
	if fmt.Sprint(h0) != fmt.Sprint(want0) || string(got[0].Key) != "k" ||
		string(got[0].Value) != "arrow" {
		t.Errorf("dead letter 0 = key %q value %q headers %v, want headers %v",
			got[0].Key, got[0].Value, h0, want0)
	}
	h1 := headerMap(got[1].Headers)
	if h1[HeaderReason] != "unknown" || len(h1[HeaderError]) != maxErrorText ||
		h1[HeaderValueDropped] != "8000" || len(got[1].Value) != 0 {
		t.Errorf("oversized dead letter: headers %v, value %d bytes; want the value dropped "+
			"and the error cut to %d bytes", h1, len(got[1].Value), maxErrorText)
	}
	c, err := d.written.GetMetricWithLabelValues("bad_preference")
	if err != nil || metricValue(t, c) != 1 {
		t.Errorf("dead letters counted for bad_preference = %v (%v), want 1", metricValue(t, c), err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.DeadLetter(context.Background(), records[0]); !errors.Is(err, ErrClosed) {
		t.Errorf("DeadLetter after Close = %v, want ErrClosed", err)
	}
}

func TestJSONLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "refined.jsonl")
	rows := refinedRows(3)
	rows[2].FollowerProb = float32(math.NaN())
	for round := range 2 { // the second open appends
		j, err := OpenJSONLines(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := j.WriteRefined(context.Background(), rows[round:round+2]); err != nil {
			t.Fatal(err)
		}
		if err := j.Flush(); err != nil {
			t.Fatal(err)
		}
		if err := errors.Join(j.Close(), j.Close()); err != nil {
			t.Fatalf("Close twice: %v", err)
		}
		if err := j.WriteRefined(context.Background(), rows); !errors.Is(err, ErrClosed) {
			t.Errorf("write after Close = %v, want ErrClosed", err)
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d lines, want 4:\n%s", len(lines), data)
	}
	want := `{"request_id":"req-0000","ts":"2026-12-04T12:00:00Z","prompt":"What is <b>2+2</b>?",` +
		`"original":"5","refined":"4","rounds":2,"changed":true,"follower_prob":0.75,` +
		`"model_version":17,"latency_us":100,"reason":"kept"}`
	if lines[0] != want {
		t.Errorf("line 0 =\n%s\nwant\n%s", lines[0], want)
	}
	var last map[string]any
	if err := json.Unmarshal([]byte(lines[3]), &last); err != nil {
		t.Fatal(err)
	}
	if last["request_id"] != "req-0002" || last["follower_prob"] != nil {
		t.Errorf("line 3 = %v, want req-0002 with a null follower_prob", last)
	}
}

// failingSink fails every write; it stands in for a broken destination.
type failingSink struct{ closed int }

func (f *failingSink) WriteRefined(context.Context, []schemas.Refined) error {
	return errors.New("disk full")
}
func (f *failingSink) Close() error { f.closed++; return nil }

func TestMulti(t *testing.T) {
	var buf bytes.Buffer
	j, err := NewJSONLines(&buf)
	if err != nil {
		t.Fatal(err)
	}
	bad := &failingSink{}
	m := NewMulti(bad, j)
	err = m.WriteRefined(context.Background(), refinedRows(2))
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("WriteRefined = %v, want the failing sink's error", err)
	}
	if n := strings.Count(buf.String(), "\n"); n != 2 {
		t.Errorf("healthy sink got %d rows, want 2 despite the failing one", n)
	}
	if err := errors.Join(m.Close(), m.Close()); err != nil || bad.closed != 1 {
		t.Errorf("Close twice = %v, closed %d times; want nil and once", err, bad.closed)
	}
}

func TestArrowFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "refined.arrow")
	a, err := CreateArrowFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rows := refinedRows(5)
	for _, batch := range [][]schemas.Refined{rows[:2], rows[2:]} {
		if err := a.WriteRefined(context.Background(), batch); err != nil {
			t.Fatalf("WriteRefined: %v", err)
		}
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("%s exists before Close: readers would see a file without footer", path)
	}
	if err := errors.Join(a.Close(), a.Close()); err != nil {
		t.Fatal(err)
	}
	got := readArrowFile(t, path)
	if fmt.Sprint(got) != fmt.Sprint(rowIDs(rows)) {
		t.Errorf("request ids %v, want %v", got, rowIDs(rows))
	}
	bad := refinedRows(1)
	bad[0].RequestID = ""
	a2, _ := CreateArrowFile(path + "2")
	defer a2.Close()
	if err := a2.WriteRefined(context.Background(), bad); err == nil {
		t.Error("WriteRefined(row without request_id) = nil, want the encoder's error")
	}
}

func rowIDs(rows []schemas.Refined) []string {
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.RequestID
	}
	return ids
}

func readArrowFile(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := ipc.NewFileReader(f)
	if err != nil {
		t.Fatalf("open arrow file: %v", err)
	}
	defer r.Close()
	if !r.Schema().Equal(schemas.RefinedSchema()) {
		t.Fatalf("schema %v", r.Schema())
	}
	var ids []string
	for i := range r.NumRecords() {
		rec, err := r.RecordBatch(i)
		if err != nil {
			t.Fatal(err)
		}
		col := rec.Column(0).(*array.String)
		for j := range col.Len() {
			ids = append(ids, col.Value(j))
		}
	}
	return ids
}

func TestRefinedTopic(t *testing.T) {
	_, cfg := testCluster(t, kafkax.TopicSpec{Name: "refined"})
	w := newTestWriter(t, cfg, "refined", WithMaxMessageBytes(64<<10))
	s := NewRefinedTopic(w)
	rows := refinedRows(60)
	for i := range rows {
		rows[i].Refined = strings.Repeat("x", 200)
	}
	if err := s.WriteRefined(context.Background(), rows); err != nil {
		t.Fatalf("WriteRefined: %v", err)
	}
	msgs := readAll(t, cfg, "refined")
	if len(msgs) != len(rows) {
		t.Fatalf("%d messages, want one per row (%d)", len(msgs), len(rows))
	}
	dec := schemas.NewDecoder()
	var ids []string
	for _, m := range msgs {
		got, err := dec.DecodeRefined(m.Value)
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		h := headerMap(m.Headers)
		if len(got) != 1 || string(m.Key) != got[0].RequestID || h[HeaderSchema] != "refined.v1" {
			t.Errorf("message key %q headers %v, first row %q of %d", m.Key, h,
				got[0].RequestID, len(got))
		}
		ids = append(ids, rowIDs(got)...)
	}
	if fmt.Sprint(ids) != fmt.Sprint(rowIDs(rows)) {
		t.Errorf("rows came back out of order or incomplete: %d of %d", len(ids), len(rows))
	}
}

// TestStdout only checks construction: writing to the test binary's
// stdout would mix with go test's own output.
func TestStdout(t *testing.T) {
	s, err := NewStdout()
	if err != nil || s.file != nil || s.closer {
		t.Fatalf("NewStdout = %+v, %v; want a sink that neither syncs nor closes stdout", s, err)
	}
}
