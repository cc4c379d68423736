// Package app builds slhf's pieces from a configuration and runs them
// under one supervisor: the learn stage, the refine stage, their readers
// and sinks, and the HTTP endpoints. cmd/slhf only parses flags and calls
// it; tests drive it the same way.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/slhf-dev/slhf/config"
	"github.com/slhf-dev/slhf/ingest"
	"github.com/slhf-dev/slhf/internal/kafkax"
	"github.com/slhf-dev/slhf/schemas"
	"github.com/slhf-dev/slhf/stream"
)

// Options are what a caller adds to the configuration.
type Options struct {
	Logger   *slog.Logger         // nil: discard
	Registry *prometheus.Registry // nil: a fresh one
	// LearnEnd and RefineEnd, when set, stop the stages once every
	// partition reaches these offsets (the embedded run drains its input).
	LearnEnd, RefineEnd map[int]int64
	// RefineAfterLearn starts the refine stage once the learn stage has
	// finished, so that every response sees the final model.
	RefineAfterLearn bool
	// Refined receives every refined record too (evaluation, tests).
	Refined func([]schemas.Refined)
	// DecodePreferences replaces the strict decoder of feedback messages.
	// Only tests set it: the crash-loop test plugs in Arrow's unguarded
	// reader to show that a message which kills the process is skipped.
	DecodePreferences ingest.DecodeFunc[schemas.Preference]
}

// Report is what one run did.
type Report struct {
	Learn        stream.LearnTotals
	Refine       stream.RefineTotals
	DeadLettered map[string]int // reason → messages
	Offsets      map[int]int64  // next feedback offset per partition
	ModelVersion int64          // learner step of the final model
	Resumed      bool           // a checkpoint was loaded at start
}

// Run starts every stage and blocks until ctx ends (then drains, takes a
// final checkpoint, commits and returns) or, with end offsets, until the
// input is drained. An error means a stage could not go on.
func Run(ctx context.Context, cfg config.Config, opts Options) (Report, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
	}
	var built atomic.Pointer[service]
	if cfg.Metrics.Listen != "" {
		srv, err := Listen(cfg.Metrics.Listen, opts.Registry, func() error {
			if s := built.Load(); s != nil {
				return s.ready()
			}
			return errors.New("starting")
		})
		if err != nil {
			return Report{}, err
		}
		opts.Logger.Info("serving metrics", "addr", "http://"+srv.Addr()+"/metrics")
		srvCtx, stopSrv := context.WithCancel(context.WithoutCancel(ctx))
		done := make(chan struct{})
		go func() {
			defer close(done)
			if err := srv.Serve(srvCtx, opts.Logger); err != nil {
				opts.Logger.Error("metrics server", "err", err)
			}
		}()
		defer func() { stopSrv(); <-done }()
	}
	svc, err := build(ctx, cfg, opts)
	if err != nil {
		return Report{}, err
	}
	defer svc.close()
	built.Store(svc)
	return svc.run(ctx)
}

// supervisor runs goroutines it owns and waits for all of them.
type supervisor struct {
	wg   sync.WaitGroup
	mu   sync.Mutex // protects errs
	errs []error
}

func (s *supervisor) Go(name string, cancel context.CancelFunc, fn func() error) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := fn(); err != nil {
			s.mu.Lock()
			s.errs = append(s.errs, fmt.Errorf("%s: %w", name, err))
			s.mu.Unlock()
			cancel() // one stage failing stops the others
		}
	}()
}

func (s *supervisor) Wait() error {
	s.wg.Wait()
	return errors.Join(s.errs...)
}

func kafkaConfig(cfg config.Config) kafkax.Config {
	return kafkax.Config{
		Brokers:     cfg.Kafka.Brokers,
		ClientID:    cfg.Kafka.ClientID,
		TLS:         cfg.Kafka.TLS,
		SASL:        cfg.Kafka.SASL,
		DialTimeout: cfg.Kafka.DialTimeout,
	}
}

func readerConfig(cfg config.Config, topic string, svc *service) ingest.ReaderConfig {
	return ingest.ReaderConfig{
		Brokers:       cfg.Kafka.Brokers,
		Dialer:        svc.dialer,
		Topic:         topic,
		MaxWait:       cfg.Kafka.MaxWait,
		RetryBackoff:  cfg.Kafka.RetryBackoff,
		RetryMaxDelay: cfg.Kafka.RetryMaxDelay,
		Logger:        svc.logger,
		Registerer:    svc.reg,
		Health:        svc.health,
	}
}
