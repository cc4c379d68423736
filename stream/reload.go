package stream

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/slhf-dev/slhf/learner"
	"github.com/slhf-dev/slhf/sinks"
)

// Reloader keeps a refine-only process on the newest model: it polls the
// checkpoint directory and, when a newer valid checkpoint of the same
// lineage appears, builds a model from it and swaps its snapshot in. A
// checkpoint of another lineage (fingerprint) is refused and reported.
type Reloader struct {
	Store       *sinks.CheckpointStore
	Fingerprint string
	// Build returns a fresh, untrained model of the configured shape.
	Build     func() (*learner.Model, error)
	Snapshots *Snapshots
	Poll      time.Duration
	Logger    *slog.Logger
	current   int64
	seen      string // newest checkpoint path already considered
	refused   prometheus.Counter
}

// Run polls until ctx ends. It loads once before the first wait.
func (r *Reloader) Run(ctx context.Context, reg prometheus.Registerer) error {
	r.setup(reg)
	t := time.NewTicker(r.Poll)
	defer t.Stop()
	for {
		r.reload()
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (r *Reloader) setup(reg prometheus.Registerer) {
	if r.Logger == nil {
		r.Logger = slog.New(slog.DiscardHandler)
	}
	r.current = -1
	r.refused = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "slhf_refine_checkpoints_refused_total",
		Help: "Checkpoints the refine stage would not load (other lineage or unreadable).",
	})
	if reg != nil {
		reg.MustRegister(r.refused)
	}
}

func (r *Reloader) reload() {
	paths, err := r.Store.List()
	if err != nil || len(paths) == 0 || paths[len(paths)-1] == r.seen {
		return
	}
	// List is cheap; reading a checkpoint is not, so read only when a new
	// file appeared since the last poll.
	r.seen = paths[len(paths)-1]
	ckp, err := r.Store.LoadLatest()
	if errors.Is(err, sinks.ErrNoCheckpoint) || (err == nil && ckp.Step <= r.current) {
		return
	}
	if err != nil {
		r.refused.Inc()
		r.Logger.Warn("read checkpoint for refinement", "err", err)
		return
	}
	if ckp.Fingerprint != r.Fingerprint {
		r.refused.Inc()
		r.Logger.Error("checkpoint of another lineage, not loading it", "step", ckp.Step,
			"checkpoint", ckp.Fingerprint, "config", r.Fingerprint)
		r.current = ckp.Step // do not retry this file every poll
		return
	}
	m, err := r.Build()
	if err != nil {
		r.refused.Inc()
		r.Logger.Error("build model for refinement", "step", ckp.Step, "err", err)
		return
	}
	// The snapshot copies what inference needs; the model's training
	// graphs are released at once, so that reloads do not accumulate them.
	defer m.Close()
	if err := m.Restore(ckp.Tensors, ckp.Meta); err != nil {
		r.refused.Inc()
		r.Logger.Error("load model for refinement", "step", ckp.Step, "err", err)
		return
	}
	r.Snapshots.Store(m.Snapshot(), ckp.CreatedAt)
	r.current = ckp.Step
	r.Logger.Info("refine model swapped in", "version", ckp.Step)
}
