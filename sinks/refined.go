package sinks

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/slhf-dev/slhf/schemas"
)

// RefinedSink receives the refine stage's output.
//
// WriteRefined returns nil once rows are handed to the destination as
// durably as that sink promises (acknowledged by Kafka; in the OS page
// cache for files until Flush or Close); on error some rows may have been
// written and the caller may retry the batch, so rows are keyed by
// request_id for deduplication. A sink does not retain rows after the call.
// Close flushes and releases the sink; it is idempotent. Implementations
// are safe for concurrent use.
type RefinedSink interface {
	WriteRefined(ctx context.Context, rows []schemas.Refined) error
	Close() error
}

// FileOption configures the file and stdout sinks.
type FileOption func(*fileOptions)

type fileOptions struct {
	name string
	reg  prometheus.Registerer
}

// WithSinkName sets the sink label of the metrics; the default is the
// sink's kind ("jsonl", "stdout", "arrow_file").
func WithSinkName(name string) FileOption { return func(o *fileOptions) { o.name = name } }

// WithSinkRegisterer registers the sink's metrics on reg; nil (the
// default) registers nothing.
func WithSinkRegisterer(reg prometheus.Registerer) FileOption {
	return func(o *fileOptions) { o.reg = reg }
}

func buildFileOptions(kind string, opts []FileOption) (fileOptions, sinkObserver, error) {
	o := fileOptions{name: kind}
	for _, opt := range opts {
		opt(&o)
	}
	m, err := newSinkMetrics(o.reg)
	if err != nil {
		return o, sinkObserver{}, fmt.Errorf("%s sink: register metrics: %w", kind, err)
	}
	return o, m.forSink(o.name), nil
}

// Multi fans every batch out to several sinks, in order. A failing sink
// does not stop the others; the errors are joined. Safe for concurrent use
// if its sinks are.
type Multi struct {
	sinks     []RefinedSink
	closeOnce sync.Once
	closeErr  error
}

// NewMulti returns a fan-out over sinks; it owns them and closes them on
// Close.
func NewMulti(sinks ...RefinedSink) *Multi { return &Multi{sinks: sinks} }

// WriteRefined writes rows to every sink.
func (m *Multi) WriteRefined(ctx context.Context, rows []schemas.Refined) error {
	var errs []error
	for _, s := range m.sinks {
		if err := s.WriteRefined(ctx, rows); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Close closes every sink and joins their errors. Idempotent.
func (m *Multi) Close() error {
	m.closeOnce.Do(func() {
		var errs []error
		for _, s := range m.sinks {
			errs = append(errs, s.Close())
		}
		m.closeErr = errors.Join(errs...)
	})
	return m.closeErr
}

// JSONLines writes one JSON object per refined row and line, with the
// refined.v1 column names as keys, "ts" in RFC 3339 UTC, and a
// follower_prob that is not finite written as null. Rows reach the
// underlying writer at the end of every WriteRefined; a file is fsynced
// on Flush and Close. Safe for concurrent use.
type JSONLines struct {
	mu     sync.Mutex // protects everything below
	bw     *bufio.Writer
	file   *os.File // nil when the writer is not ours to sync and close
	closer bool     // close file on Close
	closed bool
	obs    sinkObserver
}

// OpenJSONLines opens path for appending (creating it with mode 0644), so
// a restart adds to, not replaces, earlier output.
func OpenJSONLines(path string, opts ...FileOption) (*JSONLines, error) {
	_, obs, err := buildFileOptions("jsonl", opts)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open jsonl sink: %w", err)
	}
	return &JSONLines{bw: bufio.NewWriter(f), file: f, closer: true, obs: obs}, nil
}

// NewJSONLines writes to w, which stays owned by the caller: Close
// flushes but does not close it.
func NewJSONLines(w io.Writer, opts ...FileOption) (*JSONLines, error) {
	_, obs, err := buildFileOptions("jsonl", opts)
	if err != nil {
		return nil, err
	}
	return &JSONLines{bw: bufio.NewWriter(w), obs: obs}, nil
}

// NewStdout returns a JSON lines sink on standard output. Close flushes
// but leaves stdout open.
func NewStdout(opts ...FileOption) (*JSONLines, error) {
	return NewJSONLines(os.Stdout, append([]FileOption{WithSinkName("stdout")}, opts...)...)
}

type refinedJSON struct {
	RequestID    string   `json:"request_id"`
	TS           string   `json:"ts"`
	Prompt       string   `json:"prompt"`
	Original     string   `json:"original"`
	Refined      string   `json:"refined"`
	Rounds       int32    `json:"rounds"`
	Changed      bool     `json:"changed"`
	FollowerProb *float32 `json:"follower_prob"`
	ModelVersion int64    `json:"model_version"`
	LatencyUS    int64    `json:"latency_us"`
	Reason       string   `json:"reason"`
}

func toJSON(r *schemas.Refined) refinedJSON {
	out := refinedJSON{
		RequestID: r.RequestID, TS: r.TS.UTC().Format(time.RFC3339Nano),
		Prompt: r.Prompt, Original: r.Original, Refined: r.Refined,
		Rounds: r.Rounds, Changed: r.Changed, ModelVersion: r.ModelVersion,
		LatencyUS: r.LatencyUS, Reason: r.Reason,
	}
	if p := float64(r.FollowerProb); !math.IsNaN(p) && !math.IsInf(p, 0) {
		out.FollowerProb = &r.FollowerProb
	}
	return out
}

// WriteRefined appends rows and flushes them to the underlying writer.
func (j *JSONLines) WriteRefined(_ context.Context, rows []schemas.Refined) error {
	start := time.Now()
	err := j.write(rows)
	j.obs.seconds.Observe(time.Since(start).Seconds())
	if err != nil {
		j.obs.errors.Inc()
		return err
	}
	j.obs.written.Add(float64(len(rows)))
	return nil
}

func (j *JSONLines) write(rows []schemas.Refined) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return ErrClosed
	}
	enc := json.NewEncoder(j.bw)
	enc.SetEscapeHTML(false)
	for i := range rows {
		if err := enc.Encode(toJSON(&rows[i])); err != nil {
			return fmt.Errorf("write jsonl row %q: %w", rows[i].RequestID, err)
		}
	}
	if err := j.bw.Flush(); err != nil {
		return fmt.Errorf("write jsonl: %w", err)
	}
	return nil
}

// Flush writes buffered rows and, for a file, fsyncs it.
func (j *JSONLines) Flush() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.flush()
}

func (j *JSONLines) flush() error {
	if err := j.bw.Flush(); err != nil {
		return fmt.Errorf("flush jsonl: %w", err)
	}
	if j.file != nil {
		if err := j.file.Sync(); err != nil {
			return fmt.Errorf("sync jsonl: %w", err)
		}
	}
	return nil
}

// Close flushes, fsyncs and closes a file this sink opened. Idempotent.
func (j *JSONLines) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return nil
	}
	j.closed = true
	err := j.flush()
	if j.closer {
		err = errors.Join(err, j.file.Close())
	}
	return err
}
