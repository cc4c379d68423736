package stream

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/slhf-dev/slhf/ingest"
	"github.com/slhf-dev/slhf/learner"
	"github.com/slhf-dev/slhf/schemas"
	"github.com/slhf-dev/slhf/sinks"
)

// fakeModel records the batches it learns; its state is the number of
// events seen, so a checkpoint says exactly what the model contained.
type fakeModel struct {
	batches [][]string // event ids per Learn call
	events  float64
}

func (f *fakeModel) Learn(ev []schemas.Preference) (learner.LearnStats, error) {
	ids := make([]string, len(ev))
	for i, e := range ev {
		ids[i] = e.EventID
	}
	f.batches = append(f.batches, ids)
	f.events += float64(len(ev))
	return learner.LearnStats{Events: len(ev), Judged: len(ev), Correct: len(ev)}, nil
}

func (f *fakeModel) State() (map[string][]float64, map[string]string) {
	return map[string][]float64{"events": {f.events}}, map[string]string{}
}

func (f *fakeModel) Restore(t map[string][]float64, _ map[string]string) error {
	f.events = t["events"][0]
	return nil
}

func (f *fakeModel) Snapshot() *learner.Snapshot { return nil }

// memStore keeps checkpoints in memory.
type memStore struct{ saved []*sinks.Checkpoint }

func (m *memStore) Save(_ context.Context, c *sinks.Checkpoint) (string, error) {
	m.saved = append(m.saved, c)
	return fmt.Sprint("mem-", c.Step), nil
}

func (m *memStore) LoadLatest() (*sinks.Checkpoint, error) {
	if len(m.saved) == 0 {
		return nil, sinks.ErrNoCheckpoint
	}
	return m.saved[len(m.saved)-1], nil
}

type rejects struct{ reasons []string }

func (r *rejects) Reject(_ context.Context, x ingest.Rejection) error {
	r.reasons = append(r.reasons, x.Reason)
	return nil
}

func message(t *testing.T, partition int, offset int64, ids ...string) ingest.Message {
	t.Helper()
	rows := make([]schemas.Preference, len(ids))
	for i, id := range ids {
		rows[i] = schemas.Preference{
			EventID: id, TS: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
			Prompt: "p", ResponseA: "a", ResponseB: "b", Preference: 1,
		}
	}
	v, err := schemas.EncodePreferences(rows, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	return ingest.Message{Topic: "fb", Partition: partition, Offset: offset, Value: v[0]}
}

func newTestStage(model *fakeModel, store *memStore, rj *rejects) *LearnStage {
	dec := schemas.NewDecoder()
	gate := ingest.NewGate(dec.DecodePreferences,
		func(err error) string { return string(schemas.ReasonOf(err)) }, rj)
	return NewLearnStage(LearnConfig{
		Topic: "fb", Fingerprint: "fp", BatchEvents: 4, BatchWait: time.Hour,
		CheckpointEvery: 2, CheckpointInterval: time.Hour,
	}, LearnDeps{Model: model, Gate: gate, Dedupe: ingest.NewDedupe(100), Store: store})
}

func TestLearnStage(t *testing.T) {
	model, store, rj := &fakeModel{}, &memStore{}, &rejects{}
	s := newTestStage(model, store, rj)
	if start, err := s.Resume(); err != nil || len(start) != 0 {
		t.Fatalf("fresh Resume = %v, %v", start, err)
	}
	in := make(chan ingest.Message, 16)
	in <- message(t, 0, 0, "a", "b", "c")
	in <- message(t, 1, 0, "d", "e", "f") // 6 events ≥ 4: step 1
	in <- ingest.Message{Topic: "fb", Partition: 0, Offset: 1, Value: []byte("junk")}
	in <- message(t, 0, 2, "a", "g", "h", "i") // a is a duplicate: step 2 with g h i
	in <- message(t, 1, 1, "b", "c")           // all duplicates
	in <- message(t, 1, 2, "j")                // flushed at the end: step 3
	close(in)
	if err := s.Run(context.Background(), in); err != nil {
		t.Fatal(err)
	}

	want := "[[a b c d e f] [g h i j]]"
	if fmt.Sprint(model.batches) != want {
		t.Fatalf("batches %v, want whole messages %s", model.batches, want)
	}
	if fmt.Sprint(rj.reasons) != "[corrupt_ipc duplicate_event duplicate_event]" {
		t.Fatalf("rejections %v", rj.reasons)
	}
	tot := s.Totals()
	if tot.Learned != 10 || tot.Duplicates != 3 || tot.Steps != 2 || tot.Messages != 6 {
		t.Fatalf("totals %+v", tot)
	}
	// Step 2 checkpoints (every 2 steps); the end writes none again.
	if len(store.saved) != 1 {
		t.Fatalf("%d checkpoints, want 1", len(store.saved))
	}
	last := store.saved[0]
	if got := fmt.Sprint(last.Offsets["fb"]); got != "map[0:3 1:3]" {
		t.Fatalf("checkpoint offsets %s, want every message handled", got)
	}
	if last.Tensors["events"][0] != 10 {
		t.Fatalf("checkpointed model holds %v events, want 10", last.Tensors["events"][0])
	}
}

func TestLearnStageResume(t *testing.T) {
	model, store, rj := &fakeModel{}, &memStore{}, &rejects{}
	s := newTestStage(model, store, rj)
	s.Resume()
	in := make(chan ingest.Message, 4)
	in <- message(t, 0, 0, "a", "b", "c", "d")
	in <- message(t, 0, 1, "e", "f", "g", "h")
	close(in)
	if err := s.Run(context.Background(), in); err != nil {
		t.Fatal(err)
	}

	// A restarted stage resumes where the checkpoint says, and remembers
	// which events it learned.
	model2 := &fakeModel{}
	s2 := newTestStage(model2, store, rj)
	start, err := s2.Resume()
	if err != nil || fmt.Sprint(start) != "map[0:2]" || model2.events != 8 {
		t.Fatalf("Resume = %v, %v; model events %v", start, err, model2.events)
	}
	in2 := make(chan ingest.Message, 1)
	in2 <- message(t, 0, 2, "a", "z")
	close(in2)
	if err := s2.Run(context.Background(), in2); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(model2.batches) != "[[z]]" {
		t.Fatalf("after resume learned %v, want only the new event z", model2.batches)
	}

	// Another fingerprint is refused.
	s3 := newTestStage(&fakeModel{}, store, rj)
	s3.cfg.Fingerprint = "other"
	if _, err := s3.Resume(); err == nil {
		t.Fatal("resume under another fingerprint succeeded")
	}
}

// pickyModel refuses events named "bad", as the column-encoder learner
// refuses rows without embeddings.
type pickyModel struct{ fakeModel }

func (p *pickyModel) Check(ev *schemas.Preference) error {
	if ev.EventID == "bad" {
		return fmt.Errorf("event %q: no embedding", ev.EventID)
	}
	return nil
}

func TestLearnStageDeadLettersRowsTheModelRefuses(t *testing.T) {
	model, store, rj := &pickyModel{}, &memStore{}, &rejects{}
	dec := schemas.NewDecoder()
	gate := ingest.NewGate(dec.DecodePreferences,
		func(err error) string { return string(schemas.ReasonOf(err)) }, rj)
	s := NewLearnStage(LearnConfig{Topic: "fb", Fingerprint: "fp", BatchEvents: 1,
		BatchWait: time.Hour, CheckpointEvery: 10, CheckpointInterval: time.Hour},
		LearnDeps{Model: model, Gate: gate, Dedupe: ingest.NewDedupe(10), Store: store})
	s.Resume()
	in := make(chan ingest.Message, 2)
	in <- message(t, 0, 0, "a", "bad")
	in <- message(t, 0, 1, "c")
	close(in)
	if err := s.Run(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(model.batches) != "[[c]]" || fmt.Sprint(rj.reasons) != "[invalid_embedding]" {
		t.Fatalf("learned %v, rejected %v; want [[c]] and one invalid_embedding",
			model.batches, rj.reasons)
	}
	if got := store.saved[len(store.saved)-1].Offsets["fb"][0]; got != 2 {
		t.Fatalf("checkpoint offset %d, want 2 (past the refused message)", got)
	}
}

// TestLearnStageCheckpointsWhenIdle checks that the interval fires on a
// quiet stream: a few steps, then silence, must still be checkpointed.
func TestLearnStageCheckpointsWhenIdle(t *testing.T) {
	model, store, rj := &fakeModel{}, &memStore{}, &rejects{}
	dec := schemas.NewDecoder()
	gate := ingest.NewGate(dec.DecodePreferences,
		func(err error) string { return string(schemas.ReasonOf(err)) }, rj)
	s := NewLearnStage(LearnConfig{Topic: "fb", Fingerprint: "fp", BatchEvents: 100,
		BatchWait: 20 * time.Millisecond, CheckpointEvery: 1000,
		CheckpointInterval: 100 * time.Millisecond},
		LearnDeps{Model: model, Gate: gate, Dedupe: ingest.NewDedupe(10), Store: store})
	s.Resume()
	in := make(chan ingest.Message, 1)
	done := make(chan error, 1)
	go func() { done <- s.Run(context.Background(), in) }()
	in <- message(t, 0, 0, "a", "b")
	time.Sleep(600 * time.Millisecond) // generous: several intervals
	close(in)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// One checkpoint from the interval while the channel was open; the
	// end adds none, since nothing new was learned.
	if len(store.saved) != 1 || store.saved[0].Tensors["events"][0] != 2 {
		t.Fatalf("%d checkpoints; want exactly one, holding the 2 events", len(store.saved))
	}
}
