package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/slhf-dev/slhf/ingest"
	"github.com/slhf-dev/slhf/learner"
	"github.com/slhf-dev/slhf/schemas"
	"github.com/slhf-dev/slhf/sinks"
)

// Model is what the learn stage trains; *learner.Model implements it.
type Model interface {
	Learn(events []schemas.Preference) (learner.LearnStats, error)
	State() (tensors map[string][]float64, meta map[string]string)
	Restore(tensors map[string][]float64, meta map[string]string) error
	Snapshot() *learner.Snapshot
}

// CheckpointStore persists checkpoints; *sinks.CheckpointStore implements it.
type CheckpointStore interface {
	Save(ctx context.Context, c *sinks.Checkpoint) (string, error)
	LoadLatest() (*sinks.Checkpoint, error)
}

// ErrFingerprint is returned by [LearnStage.Resume] when the newest
// checkpoint was written under another configuration and a new lineage
// was not asked for.
var ErrFingerprint = errors.New("checkpoint fingerprint differs from config")

// LearnConfig tunes the learn stage.
type LearnConfig struct {
	Topic       string        // feedback topic, the key of checkpoint offsets
	Fingerprint string        // config fingerprint stored in checkpoints
	BatchEvents int           // events per StackelbergGDA step (whole messages)
	BatchWait   time.Duration // flush a partial batch after this long
	// CheckpointEvery and CheckpointInterval: checkpoint after this many
	// learner steps, or this long after the last checkpoint, whichever
	// comes first.
	CheckpointEvery    int
	CheckpointInterval time.Duration
	// NewLineage starts afresh instead of refusing a checkpoint with
	// another fingerprint.
	NewLineage bool
}

// LearnStage turns feedback messages into learner steps. Each message is
// applied whole, in offset order per partition; a checkpoint is only taken
// between steps, when every message read so far is either learned or
// dead-lettered, so the offsets it stores describe the model exactly. That
// is what makes each event change the model exactly once across crashes.
//
// A LearnStage is run by one goroutine.
type LearnStage struct {
	cfg       LearnConfig
	model     Model
	gate      *ingest.Gate[schemas.Preference]
	dedupe    *ingest.Dedupe
	store     CheckpointStore
	commit    func(ctx context.Context, next map[int]int64) error
	snapshots *Snapshots
	logger    *slog.Logger

	next     map[int]int64 // partition → next offset to read
	pending  []ingest.Message
	rows     []schemas.Preference
	steps    int
	sinceCkp int
	lastCkp  atomic.Int64 // unix nanoseconds; read by the metrics scrape
	totals   LearnTotals
}

// LearnTotals counts what the stage did since it started.
type LearnTotals struct {
	Messages    int     // messages read
	Events      int     // rows in admitted messages
	Learned     int     // events passed to the model
	Duplicates  int     // events dropped as already learned
	Judged      int     // non-tie events the preference model predicted
	Correct     int     // of which predicted right, before the update
	LogLossSum  float64 // progressive log-loss summed over Learned events
	Steps       int     // learner steps
	Checkpoints int     // checkpoints written
}

// LearnDeps are the stage's collaborators.
type LearnDeps struct {
	Model  Model
	Gate   *ingest.Gate[schemas.Preference]
	Dedupe *ingest.Dedupe
	Store  CheckpointStore
	// Commit records offsets in the consumer group after each checkpoint,
	// for lag monitoring; nil skips it.
	Commit     func(ctx context.Context, next map[int]int64) error
	Snapshots  *Snapshots // nil: none published
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// NewLearnStage returns a stage; call Resume before Run.
func NewLearnStage(cfg LearnConfig, d LearnDeps) *LearnStage {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	s := &LearnStage{
		cfg: cfg, model: d.Model, gate: d.Gate, dedupe: d.Dedupe, store: d.Store,
		commit: d.Commit, snapshots: d.Snapshots, logger: d.Logger,
		next: map[int]int64{},
	}
	s.lastCkp.Store(time.Now().UnixNano())
	newLearnMetrics(d.Registerer, s)
	return s
}

// Resume loads the newest valid checkpoint, if any, and returns the
// offsets to start reading from (empty on a fresh start).
func (s *LearnStage) Resume() (map[int]int64, error) {
	ckp, err := s.store.LoadLatest()
	if errors.Is(err, sinks.ErrNoCheckpoint) {
		s.logger.Info("no checkpoint, starting a new model")
		return map[int]int64{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load checkpoint: %w", err)
	}
	if ckp.Fingerprint != s.cfg.Fingerprint {
		if !s.cfg.NewLineage {
			return nil, fmt.Errorf("%w: checkpoint step %d has %s, config has %s "+
				"(set checkpoint.new_lineage to start a new model)",
				ErrFingerprint, ckp.Step, ckp.Fingerprint, s.cfg.Fingerprint)
		}
		// Step numbers go on from the old lineage, so that the new
		// checkpoints are the newest in the directory.
		s.steps = int(ckp.Step)
		s.logger.Warn("config changed, starting a new lineage",
			"old", ckp.Fingerprint, "new", s.cfg.Fingerprint, "from_step", ckp.Step)
		return map[int]int64{}, nil
	}
	if err := s.restore(ckp); err != nil {
		return nil, err
	}
	s.logger.Info("resumed from checkpoint", "step", ckp.Step, "offsets", ckp.Offsets[s.cfg.Topic])
	return copyOffsets(s.next), nil
}

func (s *LearnStage) restore(ckp *sinks.Checkpoint) error {
	if err := s.model.Restore(ckp.Tensors, ckp.Meta); err != nil {
		return fmt.Errorf("restore model: %w", err)
	}
	if err := s.dedupe.UnmarshalText([]byte(ckp.Meta[metaDedupe])); err != nil {
		return fmt.Errorf("restore dedupe: %w", err)
	}
	for p, off := range ckp.Offsets[s.cfg.Topic] {
		s.next[int(p)] = off
	}
	s.steps = int(ckp.Step)
	if s.snapshots != nil {
		s.snapshots.Store(s.model.Snapshot(), ckp.CreatedAt)
	}
	return nil
}

const metaDedupe = "stream.dedupe"

// Run consumes in until it is closed, then flushes and checkpoints. It
// returns early with an error only when it cannot go on (a failed step,
// checkpoint or dead-letter write); the caller then restarts from the
// last checkpoint. ctx bounds the work of the final flush.
func (s *LearnStage) Run(ctx context.Context, in <-chan ingest.Message) error {
	timer := time.NewTimer(s.cfg.BatchWait)
	defer timer.Stop()
	// The interval must fire on a quiet stream too: a service that learned
	// a few steps and then saw nothing would otherwise never checkpoint,
	// never publish a model and never become ready.
	tick := time.NewTicker(max(s.cfg.CheckpointInterval/4, 10*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case m, ok := <-in:
			if !ok {
				return s.finish(ctx)
			}
			if err := s.handle(ctx, m); err != nil {
				return err
			}
			if len(s.rows) >= s.cfg.BatchEvents {
				if err := s.flush(ctx); err != nil {
					return err
				}
			}
		case <-timer.C:
			if err := s.flush(ctx); err != nil {
				return err
			}
		case <-tick.C:
			if err := s.checkpointIfDue(ctx); err != nil {
				return err
			}
		}
		if len(s.pending) == 1 {
			timer.Reset(s.cfg.BatchWait)
		}
	}
}

func (s *LearnStage) finish(ctx context.Context) error {
	if err := s.flush(ctx); err != nil {
		return err
	}
	if s.sinceCkp > 0 || s.totals.Checkpoints == 0 {
		return s.checkpoint(ctx)
	}
	return nil
}

// handle admits m and queues its new events; rejected messages are done.
func (s *LearnStage) handle(ctx context.Context, m ingest.Message) error {
	s.totals.Messages++
	rows, ok, err := s.gate.Admit(ctx, m)
	if err != nil {
		return err
	}
	if !ok {
		s.advance(m)
		return nil
	}
	if err := s.check(rows); err != nil {
		if err := s.gate.Reject(ctx, m, string(schemas.ReasonInvalidEmbedding), err); err != nil {
			return err
		}
		s.advance(m)
		return nil
	}
	s.totals.Events += len(rows)
	fresh, dups := s.dropDuplicates(rows)
	if len(dups) > 0 {
		s.totals.Duplicates += len(dups)
		if err := s.gate.Reject(ctx, m, string(schemas.ReasonDuplicateEvent),
			fmt.Errorf("%d of %d events already learned: %s", len(dups), len(rows),
				summarizeIDs(dups))); err != nil {
			return err
		}
	}
	if len(fresh) == 0 {
		s.advance(m)
		return nil
	}
	s.pending = append(s.pending, m)
	s.rows = append(s.rows, fresh...)
	return nil
}

// checker is implemented by models that can refuse an event their
// configuration cannot use (*learner.Model with the column encoder).
type checker interface {
	Check(ev *schemas.Preference) error
}

// check asks the model about every row, so that a row it cannot use
// dead-letters its message rather than failing a step on every restart.
func (s *LearnStage) check(rows []schemas.Preference) error {
	c, ok := s.model.(checker)
	if !ok {
		return nil
	}
	for i := range rows {
		if err := c.Check(&rows[i]); err != nil {
			return err
		}
	}
	return nil
}

// dropDuplicates keeps the events whose id was never learned. A message
// whose rows are all duplicates is dead-lettered whole; one with some is
// learned without them and dead-lettered too, naming them, so that nothing
// disappears unaccounted.
func (s *LearnStage) dropDuplicates(rows []schemas.Preference) (fresh []schemas.Preference,
	dups []string) {
	fresh = rows[:0:0]
	for _, r := range rows {
		if s.dedupe.Add(r.EventID) {
			fresh = append(fresh, r)
		} else {
			dups = append(dups, r.EventID)
		}
	}
	return fresh, dups
}

func summarizeIDs(ids []string) string {
	const show = 10
	if len(ids) <= show {
		return fmt.Sprint(ids)
	}
	return fmt.Sprintf("%v and %d more", ids[:show], len(ids)-show)
}

func (s *LearnStage) advance(m ingest.Message) {
	if m.Next() > s.next[m.Partition] {
		s.next[m.Partition] = m.Next()
	}
}

// flush applies the pending events as one learner step, then checkpoints
// if one is due.
func (s *LearnStage) flush(ctx context.Context) error {
	if len(s.rows) == 0 {
		return nil
	}
	stats, err := s.model.Learn(s.rows)
	if err != nil {
		return fmt.Errorf("learner step %d: %w", s.steps+1, err)
	}
	s.account(stats)
	for _, m := range s.pending {
		s.advance(m)
	}
	s.pending, s.rows = s.pending[:0], s.rows[:0]
	s.steps++
	s.sinceCkp++
	if s.sinceCkp >= s.cfg.CheckpointEvery || s.sinceLastCheckpoint() >= s.cfg.CheckpointInterval {
		return s.checkpoint(ctx)
	}
	return nil
}

func (s *LearnStage) account(st learner.LearnStats) {
	s.totals.Learned += st.Events
	s.totals.Judged += st.Judged
	s.totals.Correct += st.Correct
	s.totals.LogLossSum += st.LogLoss * float64(st.Events)
	s.totals.Steps++
}

// checkpointIfDue checkpoints unsaved steps once the interval has passed.
// Pending messages are flushed first: a checkpoint is only ever taken
// with nothing half-applied.
func (s *LearnStage) checkpointIfDue(ctx context.Context) error {
	if s.sinceLastCheckpoint() < s.cfg.CheckpointInterval || (s.sinceCkp == 0 && len(s.rows) == 0) {
		return nil
	}
	if err := s.flush(ctx); err != nil {
		return err
	}
	if s.sinceCkp == 0 { // flush just checkpointed
		return nil
	}
	return s.checkpoint(ctx)
}

// checkpoint saves the model with the offsets it reflects, publishes the
// new snapshot, and only then commits the offsets to the group.
func (s *LearnStage) checkpoint(ctx context.Context) error {
	tensors, meta := s.model.State()
	dedupe, err := s.dedupe.MarshalText()
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	meta[metaDedupe] = string(dedupe)
	offsets := make(map[int32]int64, len(s.next))
	for p, off := range s.next {
		offsets[int32(p)] = off
	}
	ckp := &sinks.Checkpoint{
		Step:          int64(s.steps),
		Fingerprint:   s.cfg.Fingerprint,
		SchemaVersion: schemas.PreferenceName + ".v1",
		CreatedAt:     time.Now().UTC(),
		Offsets:       map[string]map[int32]int64{s.cfg.Topic: offsets},
		Tensors:       tensors,
		Meta:          meta,
	}
	if _, err := s.store.Save(ctx, ckp); err != nil {
		return fmt.Errorf("checkpoint step %d: %w", s.steps, err)
	}
	s.totals.Checkpoints++
	s.sinceCkp = 0
	s.lastCkp.Store(time.Now().UnixNano())
	if s.snapshots != nil {
		s.snapshots.Store(s.model.Snapshot(), ckp.CreatedAt)
	}
	if s.commit != nil {
		if err := s.commit(ctx, copyOffsets(s.next)); err != nil {
			// The checkpoint is what we resume from; a failed commit only
			// makes lag monitoring stale, so it is logged, not fatal.
			s.logger.Warn("commit offsets after checkpoint", "step", s.steps, "err", err)
		}
	}
	return nil
}

// Totals returns what the stage has done so far. Call it after Run.
func (s *LearnStage) Totals() LearnTotals { return s.totals }

// Offsets returns the next offset to read per partition. Call it after Run.
func (s *LearnStage) Offsets() map[int]int64 { return copyOffsets(s.next) }

func (s *LearnStage) sinceLastCheckpoint() time.Duration {
	return time.Since(time.Unix(0, s.lastCkp.Load()))
}

func copyOffsets(m map[int]int64) map[int]int64 {
	out := make(map[int]int64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// newLearnMetrics registers the stage's own gauge; the learner counts
// events and times steps itself.
func newLearnMetrics(reg prometheus.Registerer, s *LearnStage) {
	age := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "slhf_checkpoint_age_seconds",
		Help: "Seconds since the learn stage last wrote a checkpoint.",
	}, func() float64 { return s.sinceLastCheckpoint().Seconds() })
	if reg != nil {
		reg.MustRegister(age)
	}
}
