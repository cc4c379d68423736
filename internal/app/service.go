package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/slhf-dev/slhf/config"
	"github.com/slhf-dev/slhf/ingest"
	"github.com/slhf-dev/slhf/internal/kafkax"
	"github.com/slhf-dev/slhf/learner"
	"github.com/slhf-dev/slhf/schemas"
	"github.com/slhf-dev/slhf/sinks"
	"github.com/slhf-dev/slhf/stream"
)

// service holds the built pieces of one run.
type service struct {
	cfg       config.Config
	opts      Options
	logger    *slog.Logger
	reg       *prometheus.Registry
	kc        kafkax.Config
	dialer    *kafka.Dialer
	transport *kafka.Transport
	health    *ingest.Health

	model     *learner.Model
	store     *sinks.CheckpointStore
	guard     *ingest.PoisonGuard
	decoder   *schemas.Decoder
	dlqWriter *sinks.KafkaWriter
	dead      *deadLetters
	snapshots *stream.Snapshots
	refined   sinks.RefinedSink
	closers   []func() error
}

func build(ctx context.Context, cfg config.Config, opts Options) (*service, error) {
	s := &service{
		cfg: cfg, opts: opts, logger: opts.Logger, reg: opts.Registry,
		kc: kafkaConfig(cfg), health: &ingest.Health{}, snapshots: stream.NewSnapshots(),
	}
	steps := []func(context.Context) error{
		s.connect, s.buildLearner, s.buildIngest, s.buildSinks,
	}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			s.close()
			return nil, err
		}
	}
	s.registerHealth()
	return s, nil
}

// registerHealth exports what /readyz says, so that an outage shows on
// the dashboards and not only to the probe.
func (s *service) registerHealth() {
	s.reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "slhf_ingest_kafka_errors_total",
			Help: "Failed Kafka round trips of the readers (the cluster was unreachable or refused).",
		}, func() float64 { return float64(s.health.Errors()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "slhf_service_ready",
			Help: "1 when /readyz answers 200: Kafka reachable and, where refining, a model loaded.",
		}, func() float64 {
			if s.ready() == nil {
				return 1
			}
			return 0
		}),
	)
}

func (s *service) connect(ctx context.Context) error {
	var err error
	if s.dialer, err = s.kc.Dialer(); err != nil {
		return fmt.Errorf("kafka dialer: %w", err)
	}
	if s.transport, err = s.kc.Transport(); err != nil {
		return fmt.Errorf("kafka transport: %w", err)
	}
	s.closers = append(s.closers, func() error {
		s.transport.CloseIdleConnections()
		return nil
	})
	if err := kafkax.WaitReady(ctx, s.kc); err != nil {
		return fmt.Errorf("reach kafka %v: %w", s.kc.Brokers, err)
	}
	s.health.OK()
	if !s.cfg.Kafka.CreateTopics {
		return nil
	}
	t := s.cfg.Topics
	var specs []kafkax.TopicSpec
	for _, name := range []string{t.Feedback, t.Responses, t.Refined, t.DeadLetter} {
		specs = append(specs, kafkax.TopicSpec{
			Name: name, Partitions: s.cfg.Kafka.Partitions,
			ReplicationFactor: s.cfg.Kafka.Replication,
		})
	}
	if err := kafkax.EnsureTopics(ctx, s.kc, specs...); err != nil {
		return fmt.Errorf("create topics: %w", err)
	}
	return nil
}

func (s *service) buildLearner(context.Context) error {
	var err error
	if s.cfg.Learns() {
		if s.model, err = learner.New(s.cfg.Learner, s.logger, s.reg); err != nil {
			return fmt.Errorf("build learner: %w", err)
		}
		s.closers = append(s.closers, s.model.Close)
		s.store, err = sinks.OpenCheckpointStore(s.cfg.Checkpoint.Dir, s.cfg.Checkpoint.Keep,
			s.logger, s.reg)
	} else {
		// A refiner only reads the learner's directory: it must not
		// remove the temp file of a Save in progress.
		s.store, err = sinks.OpenCheckpointReader(s.cfg.Checkpoint.Dir, s.logger, s.reg)
	}
	if err != nil {
		return fmt.Errorf("open checkpoints: %w", err)
	}
	return nil
}

func (s *service) buildIngest(context.Context) error {
	var err error
	if s.guard, err = ingest.OpenPoisonGuard(s.cfg.Ingest.StateDir, s.cfg.Ingest.PoisonCrashes); err != nil {
		return err
	}
	s.closers = append(s.closers, s.guard.Close)
	s.decoder = schemas.NewDecoder(schemas.WithLimits(decodeLimits(s.cfg.Ingest)),
		schemas.WithLogger(s.logger), schemas.WithRegisterer(s.reg))
	s.dlqWriter, err = sinks.NewKafkaWriter(s.kc, s.cfg.Topics.DeadLetter,
		sinks.WithLogger(s.logger), sinks.WithRegisterer(s.reg))
	if err != nil {
		return fmt.Errorf("dead-letter writer: %w", err)
	}
	s.closers = append(s.closers, s.dlqWriter.Close)
	dl, err := sinks.NewDeadLetterWriter(s.dlqWriter, s.logger, s.reg)
	if err != nil {
		return err
	}
	s.dead = &deadLetters{dl: dl, counts: map[string]int{}, logger: s.logger,
		backoff: s.backoff()}
	return nil
}

func decodeLimits(c config.Ingest) schemas.Limits {
	l := schemas.DefaultLimits()
	if c.MaxMessageBytes > 0 {
		l.MaxMessageBytes = c.MaxMessageBytes
	}
	if c.MaxRows > 0 {
		l.MaxRows = c.MaxRows
	}
	if c.MaxTextBytes > 0 {
		l.MaxTextBytes = c.MaxTextBytes
	}
	return l
}

func (s *service) buildSinks(context.Context) error {
	w, err := sinks.NewKafkaWriter(s.kc, s.cfg.Topics.Refined,
		sinks.WithLogger(s.logger), sinks.WithRegisterer(s.reg))
	if err != nil {
		return fmt.Errorf("refined writer: %w", err)
	}
	outs := []sinks.RefinedSink{sinks.NewRefinedTopic(w)}
	if s.cfg.Output.JSONL != "" {
		f, err := sinks.OpenJSONLines(s.cfg.Output.JSONL, sinks.WithSinkRegisterer(s.reg))
		if err != nil {
			w.Close()
			return fmt.Errorf("refined file: %w", err)
		}
		outs = append(outs, f)
	}
	if s.cfg.Output.Stdout {
		out, err := sinks.NewStdout(sinks.WithSinkRegisterer(s.reg))
		if err != nil {
			w.Close()
			return err
		}
		outs = append(outs, out)
	}
	if s.opts.Refined != nil {
		outs = append(outs, observer(s.opts.Refined))
	}
	s.refined = sinks.NewMulti(outs...)
	s.closers = append(s.closers, s.refined.Close)
	return nil
}

// close releases everything in reverse order of construction.
func (s *service) close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		if err := s.closers[i](); err != nil {
			s.logger.Warn("close", "err", err)
		}
	}
	s.closers = nil
}

// deadLetters forwards rejections to the dead-letter topic and counts
// them by reason for the run's report.
type deadLetters struct {
	dl      sinks.DeadLetterer
	logger  *slog.Logger
	backoff ingest.Backoff
	mu      sync.Mutex // protects counts
	counts  map[string]int
}

// Reject writes the dead letter, retrying while the cluster is away: the
// partition must not move past a message whose rejection is not durable,
// and a broker restart must not stop the service. It gives up only when
// ctx ends.
func (d *deadLetters) Reject(ctx context.Context, r ingest.Rejection) error {
	hs := make([]sinks.Header, len(r.Msg.Headers))
	for i, h := range r.Msg.Headers {
		hs[i] = sinks.Header{Key: h.Key, Value: h.Value}
	}
	rec := sinks.DeadLetterRecord{
		Reason: r.Reason, Err: r.Err,
		Topic: r.Msg.Topic, Partition: int32(r.Msg.Partition), Offset: r.Msg.Offset,
		Key: r.Msg.Key, Value: r.Msg.Value, Headers: hs,
	}
	err := d.backoff.Retry(ctx, func(attempt int, err error, delay time.Duration) {
		d.logger.Warn("dead-letter write failed, retrying", "reason", r.Reason,
			"attempt", attempt, "delay", delay, "err", err)
	}, func() error { return d.dl.DeadLetter(ctx, rec) })
	if err != nil {
		return err
	}
	d.mu.Lock()
	d.counts[r.Reason]++
	d.mu.Unlock()
	return nil
}

func (d *deadLetters) snapshot() map[string]int {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[string]int, len(d.counts))
	for k, v := range d.counts {
		out[k] = v
	}
	return out
}

func (s *service) backoff() ingest.Backoff {
	return ingest.Backoff{Initial: s.cfg.Kafka.RetryBackoff, Max: s.cfg.Kafka.RetryMaxDelay}
}

// ready reports whether the cluster answers and, where this process
// refines, whether a model is loaded: a refiner without a model cannot
// serve, while a fresh learner is ready before its first checkpoint.
func (s *service) ready() error {
	if !s.health.Healthy(5 * time.Second) {
		return fmt.Errorf("kafka unreachable (%d errors so far)", s.health.Errors())
	}
	if s.cfg.Refines() && s.snapshots.Load() == nil {
		return errors.New("no model snapshot yet")
	}
	return nil
}

func reasonOf(err error) string { return string(schemas.ReasonOf(err)) }

// run wires the stages and supervises them. Shutdown is ordered: readers
// stop first (ctx), then the learn stage drains its queue and checkpoints
// under a hard deadline, then the sinks close (deferred by the caller).
func (s *service) run(ctx context.Context) (Report, error) {
	inputCtx, stopInputs := context.WithCancel(ctx)
	defer stopInputs()
	drainCtx, stopDrain := context.WithCancel(context.WithoutCancel(ctx))
	defer stopDrain()

	var sup supervisor
	var ls *stream.LearnStage
	var start map[int]int64
	learnDone := make(chan struct{})
	if s.cfg.Learns() {
		var err error
		if ls, start, err = s.learnStage(); err != nil {
			return Report{}, err
		}
		queue := make(chan ingest.Message, s.cfg.Stream.QueueDepth)
		reader := ingest.NewPartitionReader(readerConfig(s.cfg, s.cfg.Topics.Feedback, s))
		sup.Go("feedback reader", stopInputs, func() error {
			defer close(queue)
			return reader.Run(inputCtx, start, s.opts.LearnEnd, queue)
		})
		sup.Go("learn stage", stopInputs, func() error {
			defer close(learnDone)
			return s.runLearn(ctx, drainCtx, stopDrain, ls, queue)
		})
	} else {
		close(learnDone)
		r := s.reloader()
		sup.Go("model reloader", stopInputs, func() error { return r.Run(inputCtx, s.reg) })
	}
	var rs *stream.RefineStage
	if s.cfg.Refines() {
		rs = s.refineStage()
		sup.Go("refine stage", stopInputs, func() error {
			err := s.runRefine(inputCtx, rs, learnDone)
			if !s.cfg.Learns() {
				stopInputs() // a drained refiner stops its reloader too
			}
			return err
		})
	}
	err := sup.Wait()
	return s.report(ls, rs, start), err
}

func (s *service) reloader() *stream.Reloader {
	return &stream.Reloader{
		Store:       s.store,
		Fingerprint: s.cfg.Fingerprint(),
		Build:       func() (*learner.Model, error) { return learner.New(s.cfg.Learner, s.logger, nil) },
		Snapshots:   s.snapshots,
		Poll:        s.cfg.Refine.ReloadPoll,
		Logger:      s.logger,
	}
}

// runLearn runs the learn stage; once ctx ends, it gets DrainTimeout to
// finish the queue and write its final checkpoint.
func (s *service) runLearn(ctx, drainCtx context.Context, abandon context.CancelFunc,
	ls *stream.LearnStage, queue <-chan ingest.Message) error {
	finished := make(chan struct{})
	defer close(finished)
	stop := context.AfterFunc(ctx, func() {
		time.AfterFunc(s.cfg.Stream.DrainTimeout, func() {
			select {
			case <-finished:
				return
			default:
			}
			// Cancelling drainCtx makes the stage's next Kafka or file
			// call fail; the last completed checkpoint stays valid.
			s.logger.Error("drain deadline passed, abandoning final checkpoint",
				"deadline", s.cfg.Stream.DrainTimeout)
			abandon()
		})
	})
	defer stop()
	return ls.Run(drainCtx, queue)
}

func (s *service) runRefine(ctx context.Context, rs *stream.RefineStage,
	learnDone <-chan struct{}) error {
	if s.opts.RefineAfterLearn {
		select {
		case <-learnDone:
		case <-ctx.Done():
			return nil
		}
	}
	return rs.Run(ctx)
}

func (s *service) learnStage() (*stream.LearnStage, map[int]int64, error) {
	decode := s.decoder.DecodePreferences
	if s.opts.DecodePreferences != nil {
		decode = s.opts.DecodePreferences
	}
	gate := ingest.NewGate(decode, reasonOf, s.dead,
		ingest.WithPoisonGuard(s.guard), ingest.WithLogger(s.logger),
		ingest.WithRegisterer(s.reg))
	ls := stream.NewLearnStage(stream.LearnConfig{
		Topic:              s.cfg.Topics.Feedback,
		Fingerprint:        s.cfg.Fingerprint(),
		BatchEvents:        s.cfg.Stream.BatchEvents,
		BatchWait:          s.cfg.Stream.BatchWait,
		CheckpointEvery:    s.cfg.Checkpoint.EverySteps,
		CheckpointInterval: s.cfg.Checkpoint.Interval,
		NewLineage:         s.cfg.Checkpoint.NewLineage,
	}, stream.LearnDeps{
		Model: s.model, Gate: gate, Dedupe: ingest.NewDedupe(s.cfg.Ingest.DedupeCapacity),
		Store: s.store, Commit: s.commitOffsets, Snapshots: s.snapshots,
		Logger: s.logger, Registerer: s.reg,
	})
	start, err := ls.Resume()
	if err != nil {
		return nil, nil, err
	}
	return ls, start, nil
}

func (s *service) commitOffsets(ctx context.Context, next map[int]int64) error {
	return ingest.CommitOffsets(ctx, s.transport, s.cfg.Kafka.Brokers,
		s.cfg.Kafka.GroupID+".learner", s.cfg.Topics.Feedback, next)
}

func (s *service) refineStage() *stream.RefineStage {
	gate := ingest.NewGate(s.decoder.DecodeResponses, reasonOf, s.dead,
		ingest.WithLogger(s.logger), ingest.WithRegisterer(s.reg))
	src := ingest.NewGroupReader(readerConfig(s.cfg, s.cfg.Topics.Responses, s),
		s.cfg.Kafka.GroupID+".refine")
	s.closers = append(s.closers, src.Close)
	return stream.NewRefineStage(stream.RefineConfig{
		MaxRounds: s.cfg.Refine.MaxRounds, End: s.opts.RefineEnd, Backoff: s.backoff(),
		DrainTimeout: s.cfg.Stream.DrainTimeout,
	}, stream.RefineDeps{
		Source: src, Gate: gate, Sink: s.refined, Snapshots: s.snapshots,
		Logger: s.logger, Registerer: s.reg,
	})
}

func (s *service) report(ls *stream.LearnStage, rs *stream.RefineStage,
	start map[int]int64) Report {
	r := Report{DeadLettered: s.dead.snapshot(), Resumed: len(start) > 0}
	if ls != nil {
		r.Learn, r.Offsets = ls.Totals(), ls.Offsets()
	}
	if rs != nil {
		r.Refine = rs.Totals()
	}
	if snap := s.snapshots.Load(); snap != nil {
		r.ModelVersion = snap.Version()
	}
	return r
}

// observer hands refined records to a callback; it never fails.
type observer func([]schemas.Refined)

func (o observer) WriteRefined(_ context.Context, rows []schemas.Refined) error {
	o(rows)
	return nil
}

func (o observer) Close() error { return nil }
