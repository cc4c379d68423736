package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/slhf-dev/slhf/ingest"
	"github.com/slhf-dev/slhf/learner"
	"github.com/slhf-dev/slhf/schemas"
	"github.com/slhf-dev/slhf/sinks"
)

// Source is where the refine stage reads responses;
// *ingest.GroupReader implements it.
type Source interface {
	Fetch(ctx context.Context) (ingest.Message, error)
	Commit(ctx context.Context, msgs ...ingest.Message) error
}

// RefineConfig tunes the refine stage.
type RefineConfig struct {
	MaxRounds int // Follower rounds per response
	// End, when set, stops the stage once every partition's next offset
	// has reached End[partition] (the embedded run uses it).
	End map[int]int64
	// Backoff spaces retries of reads and writes while the cluster is
	// away; the stage never gives up on its own, only when ctx ends.
	Backoff ingest.Backoff
	// DrainTimeout bounds the work on the message in hand when ctx ends:
	// it is still refined, written and committed, so a stop does not
	// leave it to be refined twice. Zero means 30s.
	DrainTimeout time.Duration
}

// RefineStage rewrites each response with the Follower of the newest
// snapshot and writes refined.v1 records to the sink, then commits the
// message: at-least-once, keyed by request_id. It waits for the first
// snapshot before reading. Inference never changes learner state: it only
// reads immutable snapshots.
//
// A RefineStage is run by one goroutine; run several, in one consumer
// group, to scale out.
type RefineStage struct {
	cfg       RefineConfig
	src       Source
	gate      *ingest.Gate[schemas.Response]
	sink      sinks.RefinedSink
	snapshots *Snapshots
	logger    *slog.Logger
	metrics   *refineMetrics
	totals    RefineTotals
	next      map[int]int64
}

// RefineTotals counts what the stage did.
type RefineTotals struct {
	Messages int // response messages read
	Refined  int // refined records written
	Changed  int // of which the Follower changed the answer
	Rounds   int // Follower rounds summed over all responses
}

// RefineDeps are the stage's collaborators.
type RefineDeps struct {
	Source     Source
	Gate       *ingest.Gate[schemas.Response]
	Sink       sinks.RefinedSink
	Snapshots  *Snapshots
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// NewRefineStage returns a stage.
func NewRefineStage(cfg RefineConfig, d RefineDeps) *RefineStage {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	s := &RefineStage{
		cfg: cfg, src: d.Source, gate: d.Gate, sink: d.Sink, snapshots: d.Snapshots,
		logger: d.Logger, next: map[int]int64{},
	}
	s.metrics = newRefineMetrics(d.Registerer, d.Snapshots)
	return s
}

// Run refines until ctx ends or, with cfg.End set, the input is drained.
func (s *RefineStage) Run(ctx context.Context) error {
	select {
	case <-s.snapshots.Ready():
	case <-ctx.Done():
		return nil
	}
	for !s.drained() {
		var m ingest.Message
		err := s.retry(ctx, "fetch response", func() error {
			var err error
			m, err = s.src.Fetch(ctx)
			return err
		})
		if err == nil {
			err = s.handleToEnd(ctx, m)
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
	return nil
}

// handleToEnd handles m even if ctx ends meanwhile, within DrainTimeout:
// a fetched message is finished, not abandoned half-written.
func (s *RefineStage) handleToEnd(ctx context.Context, m ingest.Message) error {
	timeout := s.cfg.DrainTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	hctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(timeout, cancel) })
	defer stop()
	return s.handle(hctx, m)
}

// retry calls fn until it succeeds or ctx ends, logging each failure.
func (s *RefineStage) retry(ctx context.Context, what string, fn func() error) error {
	return s.cfg.Backoff.Retry(ctx, func(attempt int, err error, delay time.Duration) {
		s.logger.Warn(what+" failed, retrying", "attempt", attempt, "delay", delay, "err", err)
	}, fn)
}

func (s *RefineStage) drained() bool {
	if s.cfg.End == nil {
		return false
	}
	for p, end := range s.cfg.End {
		if s.next[p] < end {
			return false
		}
	}
	return true
}

func (s *RefineStage) handle(ctx context.Context, m ingest.Message) error {
	s.totals.Messages++
	rows, ok, err := s.gate.Admit(ctx, m)
	if err != nil {
		return err
	}
	if ok {
		out := s.refineAll(rows)
		err := s.retry(ctx, "write refined", func() error { return s.sink.WriteRefined(ctx, out) })
		if err != nil {
			return fmt.Errorf("write refined: %w", err)
		}
	}
	if err := s.src.Commit(ctx, m); err != nil {
		if errors.Is(err, context.Canceled) {
			return nil
		}
		// Uncommitted output will be produced again: at-least-once.
		s.logger.Warn("commit refined message", "partition", m.Partition,
			"offset", m.Offset, "err", err)
	}
	s.next[m.Partition] = m.Next()
	return nil
}

func (s *RefineStage) refineAll(rows []schemas.Response) []schemas.Refined {
	snap := s.snapshots.Load() // one snapshot for the whole message
	out := make([]schemas.Refined, len(rows))
	for i, r := range rows {
		out[i] = Refine(snap, r, s.cfg.MaxRounds)
		s.observe(out[i])
	}
	return out
}

// Refine rewrites one response with snap's Follower, for at most
// maxRounds rounds, and returns the refined.v1 record, timed.
func Refine(snap *learner.Snapshot, r schemas.Response, maxRounds int) schemas.Refined {
	start := time.Now()
	res := snap.Refine(r, maxRounds)
	return schemas.Refined{
		RequestID:    r.RequestID,
		TS:           start.UTC().Truncate(time.Millisecond),
		Prompt:       r.Prompt,
		Original:     r.Response,
		Refined:      res.Text,
		Rounds:       int32(res.Rounds),
		Changed:      res.Changed,
		FollowerProb: res.Prob,
		ModelVersion: snap.Version(),
		LatencyUS:    time.Since(start).Microseconds(),
		Reason:       res.Reason,
	}
}

func (s *RefineStage) observe(r schemas.Refined) {
	s.totals.Refined++
	s.totals.Rounds += int(r.Rounds)
	if r.Changed {
		s.totals.Changed++
	}
	s.metrics.latency.Observe(float64(r.LatencyUS) / 1e6)
	s.metrics.rounds.Observe(float64(r.Rounds))
	s.metrics.responses.WithLabelValues(strconv.FormatBool(r.Changed)).Inc()
	s.metrics.length.WithLabelValues("original").Observe(float64(utf8.RuneCountInString(r.Original)))
	s.metrics.length.WithLabelValues("refined").Observe(float64(utf8.RuneCountInString(r.Refined)))
}

// Totals returns what the stage has done. Call it after Run.
func (s *RefineStage) Totals() RefineTotals { return s.totals }

type refineMetrics struct {
	latency   prometheus.Histogram
	rounds    prometheus.Histogram
	responses *prometheus.CounterVec
	length    *prometheus.HistogramVec
}

func newRefineMetrics(reg prometheus.Registerer, snaps *Snapshots) *refineMetrics {
	m := &refineMetrics{
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "slhf_refine_latency_seconds",
			Help:    "Time to refine one response, all rounds.",
			Buckets: prometheus.ExponentialBuckets(10e-6, 3, 10),
		}),
		rounds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "slhf_refine_rounds",
			Help:    "Follower rounds run per response.",
			Buckets: prometheus.LinearBuckets(0, 1, 9),
		}),
		responses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slhf_refine_responses_total",
			Help: "Responses refined, by whether the Follower changed them.",
		}, []string{"changed"}),
		length: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "slhf_refine_response_length_chars",
			Help: "Length of original and refined responses; length is a known " +
				"judge bias, so watch it.",
			Buckets: prometheus.ExponentialBuckets(16, 2, 10),
		}, []string{"kind"}),
	}
	version := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "slhf_refine_model_version",
		Help: "Learner step of the snapshot the refine stage uses.",
	}, func() float64 {
		if snap := snaps.Load(); snap != nil {
			return float64(snap.Version())
		}
		return -1
	})
	age := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "slhf_refine_model_age_seconds",
		Help: "Seconds since the model the refine stage uses was checkpointed.",
	}, func() float64 { return snaps.Age().Seconds() })
	if reg != nil {
		reg.MustRegister(m.latency, m.rounds, m.responses, m.length, version, age)
	}
	return m
}
