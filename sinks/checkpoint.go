package sinks

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Checkpoint file names: checkpointPrefix, the step as 20 zero-padded
// digits (so names sort like steps), checkpointExt.
const (
	checkpointPrefix  = "ckpt-"
	checkpointExt     = ".arrow"
	checkpointTempPat = ".ckpt-*.tmp"
)

// ErrNoCheckpoint is returned by [CheckpointStore.LoadLatest] when the
// directory holds no valid checkpoint.
var ErrNoCheckpoint = errors.New("no checkpoint")

// Checkpoint is the learner's durable state (DESIGN §6): everything needed
// to resume so that each input event changes the model exactly once.
//
// Float values round-trip bit for bit, NaN payloads and negative zero
// included. A nil map and an empty map are the same checkpoint; a loaded
// checkpoint has non-nil Tensors and non-nil tensor slices.
type Checkpoint struct {
	// Step is the learner step the state belongs to; it must not be
	// negative and names the file, so a larger step is a newer checkpoint.
	Step int64
	// Fingerprint identifies the configuration that produced the model; a
	// changed fingerprint must not silently continue an old model.
	Fingerprint string
	// SchemaVersion is the version of the input records learned from.
	SchemaVersion string
	// CreatedAt is when the state was taken; zero means "now" at Save.
	CreatedAt time.Time
	// Offsets maps topic → partition → next offset to consume.
	Offsets map[string]map[int32]int64
	// Tensors holds parameters, optimiser moments and any other numeric
	// state, by name.
	Tensors map[string][]float64
	// Meta holds small string state: RNG state, counters as text, notes.
	Meta map[string]string
}

// CheckpointStore keeps checkpoints in one directory, one Arrow IPC file
// per checkpoint, the newest keep of them.
//
// Save is atomic: a reader either sees a whole checkpoint or none, never
// a partial file, even across crashes. One store (one process) must own a
// directory for writing; readers may be many. Safe for concurrent use.
type CheckpointStore struct {
	dir     string
	keep    int
	logger  *slog.Logger
	metrics *checkpointMetrics
	mu      sync.Mutex // serialises Save and its pruning
	readers bool       // opened by OpenCheckpointReader: Save refuses
}

// OpenCheckpointStore opens (creating with mode 0755) the directory dir,
// keeping the newest keep checkpoints (keep >= 1). It removes temporary
// files a crashed Save left behind. logger nil discards; reg nil
// registers no metrics.
func OpenCheckpointStore(dir string, keep int, logger *slog.Logger,
	reg prometheus.Registerer) (*CheckpointStore, error) {
	if keep < 1 {
		return nil, fmt.Errorf("open checkpoint store: keep %d, want >= 1", keep)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("open checkpoint store: %w", err)
	}
	m, err := newCheckpointMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("open checkpoint store: %w", err)
	}
	s := &CheckpointStore{dir: dir, keep: keep, logger: logger, metrics: m}
	s.removeTemps()
	return s, nil
}

// OpenCheckpointReader opens dir for reading checkpoints another process
// writes, as a refiner does with the learner's directory. Unlike
// [OpenCheckpointStore] it creates nothing and removes no temporary files,
// which may belong to a Save in progress; its Save always fails. logger
// nil discards; reg nil registers no metrics.
func OpenCheckpointReader(dir string, logger *slog.Logger,
	reg prometheus.Registerer) (*CheckpointStore, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m, err := newCheckpointMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("open checkpoint reader: %w", err)
	}
	return &CheckpointStore{dir: dir, keep: 1, logger: logger, metrics: m, readers: true}, nil
}

// Dir returns the store's directory.
func (s *CheckpointStore) Dir() string { return s.dir }

func (s *CheckpointStore) removeTemps() {
	temps, _ := filepath.Glob(filepath.Join(s.dir, checkpointTempPat))
	for _, t := range temps {
		if err := os.Remove(t); err == nil {
			s.logger.Info("removed leftover checkpoint temp file", "path", t)
		}
	}
}

// CheckpointPath returns the file name a checkpoint of step gets in dir.
func CheckpointPath(dir string, step int64) string {
	return filepath.Join(dir, fmt.Sprintf("%s%020d%s", checkpointPrefix, step, checkpointExt))
}

// Save writes c as a new checkpoint and prunes old ones: temp file in the
// same directory, write, fsync, rename to its final name, fsync of the
// directory. A checkpoint of an existing step replaces it atomically.
// It returns the final path. ctx is checked before the rename: a Save
// cancelled before that leaves no trace. c is not modified or retained.
func (s *CheckpointStore) Save(ctx context.Context, c *Checkpoint) (string, error) {
	if s.readers {
		return "", fmt.Errorf("save checkpoint: %s is opened read-only", s.dir)
	}
	if c.Step < 0 {
		return "", fmt.Errorf("save checkpoint: negative step %d", c.Step)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	start := time.Now()
	cp := *c
	if cp.CreatedAt.IsZero() {
		cp.CreatedAt = start
	}
	path, size, err := s.writeAtomic(ctx, &cp)
	if err != nil {
		return "", fmt.Errorf("save checkpoint %d: %w", c.Step, err)
	}
	s.metrics.observeSave(&cp, size, time.Since(start))
	s.logger.Info("checkpoint saved", "path", path, "step", cp.Step, "bytes", size,
		"duration", time.Since(start))
	s.prune()
	return path, nil
}

func (s *CheckpointStore) writeAtomic(ctx context.Context, c *Checkpoint) (string, int64, error) {
	tmp, err := os.CreateTemp(s.dir, checkpointTempPat)
	if err != nil {
		return "", 0, err
	}
	// CreateTemp makes the file 0600; checkpoints hold model weights, not
	// secrets, and refiners running as another user read them.
	var size int64
	if err = tmp.Chmod(0o644); err == nil {
		size, err = writeSynced(tmp, c) // closes tmp
	} else {
		tmp.Close()
	}
	if err == nil {
		err = ctx.Err()
	}
	path := CheckpointPath(s.dir, c.Step)
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		return "", 0, err
	}
	// Without this the rename itself may not survive a power loss.
	if err := syncDir(s.dir); err != nil {
		return "", 0, fmt.Errorf("sync directory: %w", err)
	}
	return path, size, nil
}

// writeSynced encodes c into f, fsyncs and closes f, and returns the size.
func writeSynced(f *os.File, c *Checkpoint) (int64, error) {
	cw := &countingWriter{w: f}
	bw := bufio.NewWriterSize(cw, 1<<20)
	err := encodeCheckpoint(bw, c)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return cw.n, err
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}

// prune removes all but the newest keep checkpoints. A failure is logged,
// not returned: the new checkpoint is safe either way.
func (s *CheckpointStore) prune() {
	steps, err := s.steps()
	if err != nil || len(steps) <= s.keep {
		return
	}
	for _, step := range steps[:len(steps)-s.keep] {
		path := CheckpointPath(s.dir, step)
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			s.logger.Warn("remove old checkpoint", "path", path, "err", err)
		}
	}
}

// steps lists the steps of the checkpoint files in the directory,
// ascending. Temporary files and foreign names are ignored.
func (s *CheckpointStore) steps() ([]int64, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("list checkpoints: %w", err)
	}
	var steps []int64
	for _, e := range entries {
		if step, ok := parseCheckpointName(e.Name()); ok && e.Type().IsRegular() {
			steps = append(steps, step)
		}
	}
	slices.Sort(steps)
	return steps, nil
}

func parseCheckpointName(name string) (int64, bool) {
	digits, ok := strings.CutPrefix(name, checkpointPrefix)
	if !ok {
		return 0, false
	}
	digits, ok = strings.CutSuffix(digits, checkpointExt)
	if !ok || len(digits) != 20 {
		return 0, false
	}
	step, err := strconv.ParseInt(digits, 10, 64)
	return step, err == nil && step >= 0
}

// List returns the paths of the checkpoints in the directory, oldest
// first, without reading them.
func (s *CheckpointStore) List() ([]string, error) {
	steps, err := s.steps()
	if err != nil {
		return nil, err
	}
	paths := make([]string, len(steps))
	for i, step := range steps {
		paths[i] = CheckpointPath(s.dir, step)
	}
	return paths, nil
}

// LoadLatest returns the newest valid checkpoint. A newer file that is
// truncated or corrupt is logged with its path and reason, counted in
// slhf_checkpoint_corrupt_total, left in place for inspection, and
// skipped. It returns [ErrNoCheckpoint] when no file is valid. A file
// pruned by a concurrent Save between listing and reading is skipped
// silently. The caller owns the result.
func (s *CheckpointStore) LoadLatest() (*Checkpoint, error) {
	start := time.Now()
	steps, err := s.steps()
	if err != nil {
		return nil, err
	}
	for _, step := range slices.Backward(steps) {
		path := CheckpointPath(s.dir, step)
		c, err := ReadCheckpoint(path)
		switch {
		case err == nil:
			s.metrics.observeLoad(c, time.Since(start))
			s.logger.Info("checkpoint loaded", "path", path, "step", c.Step)
			return c, nil
		case errors.Is(err, fs.ErrNotExist):
			continue
		}
		var corrupt *CorruptCheckpointError
		if !errors.As(err, &corrupt) {
			return nil, fmt.Errorf("load checkpoint: %w", err)
		}
		s.metrics.corrupt.Inc()
		s.logger.Error("skipping corrupt checkpoint", "path", path, "err", corrupt.Err)
	}
	return nil, ErrNoCheckpoint
}

// ReadCheckpoint reads and verifies one checkpoint file. A file that is
// not a valid checkpoint yields a [*CorruptCheckpointError]; a missing or
// unreadable one, the underlying *fs.PathError.
func ReadCheckpoint(path string) (*Checkpoint, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return decodeCheckpoint(path, data)
}

// CheckpointInfo summarises a checkpoint for `slhf checkpoint inspect`.
type CheckpointInfo struct {
	Path          string
	Bytes         int64
	Step          int64
	Fingerprint   string
	SchemaVersion string
	CreatedAt     time.Time
	Offsets       map[string]map[int32]int64
	Meta          map[string]string
	Tensors       []TensorInfo // sorted by name
}

// TensorInfo summarises one tensor. Min, Max and L2 (the Euclidean norm)
// skip NaNs; they are NaN when the tensor has no other value.
type TensorInfo struct {
	Name         string
	Len, NaNs    int
	Min, Max, L2 float64
}

// InspectCheckpoint reads and verifies the checkpoint at path, as
// [ReadCheckpoint] does, and summarises it.
func InspectCheckpoint(path string) (*CheckpointInfo, error) {
	c, err := ReadCheckpoint(path)
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	info := &CheckpointInfo{Path: path, Bytes: st.Size(), Step: c.Step,
		Fingerprint: c.Fingerprint, SchemaVersion: c.SchemaVersion, CreatedAt: c.CreatedAt,
		Offsets: c.Offsets, Meta: c.Meta}
	for _, name := range sortedKeys(c.Tensors) {
		info.Tensors = append(info.Tensors, summarise(name, c.Tensors[name]))
	}
	return info, nil
}

func summarise(name string, v []float64) TensorInfo {
	t := TensorInfo{Name: name, Len: len(v), Min: math.Inf(1), Max: math.Inf(-1)}
	var sq float64
	for _, x := range v {
		if math.IsNaN(x) {
			t.NaNs++
			continue
		}
		t.Min, t.Max = min(t.Min, x), max(t.Max, x)
		sq += x * x
	}
	t.L2 = math.Sqrt(sq)
	if t.NaNs == t.Len {
		t.Min, t.Max, t.L2 = math.NaN(), math.NaN(), math.NaN()
	}
	return t
}

type checkpointMetrics struct {
	duration *prometheus.HistogramVec
	bytes    prometheus.Gauge
	lastStep prometheus.Gauge
	lastUnix prometheus.Gauge
	corrupt  prometheus.Counter
}

func newCheckpointMetrics(reg prometheus.Registerer) (*checkpointMetrics, error) {
	m := &checkpointMetrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "slhf_checkpoint_duration_seconds",
			Help:    "Time to save or load a checkpoint, by op.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 9),
		}, []string{"op"}),
		bytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "slhf_checkpoint_bytes", Help: "Size of the last saved checkpoint file."}),
		lastStep: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "slhf_checkpoint_last_step", Help: "Step of the last saved or loaded checkpoint."}),
		lastUnix: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "slhf_checkpoint_last_unix_seconds",
			Help: "Creation time of the last saved or loaded checkpoint."}),
		corrupt: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "slhf_checkpoint_corrupt_total",
			Help: "Checkpoint files found truncated or corrupt and skipped."}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.duration, m.bytes, m.lastStep, m.lastUnix,
		m.corrupt} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	return m, nil
}

func (m *checkpointMetrics) observeSave(c *Checkpoint, size int64, d time.Duration) {
	m.duration.WithLabelValues("save").Observe(d.Seconds())
	m.bytes.Set(float64(size))
	m.last(c)
}

func (m *checkpointMetrics) observeLoad(c *Checkpoint, d time.Duration) {
	m.duration.WithLabelValues("load").Observe(d.Seconds())
	m.last(c)
}

func (m *checkpointMetrics) last(c *Checkpoint) {
	m.lastStep.Set(float64(c.Step))
	m.lastUnix.Set(float64(c.CreatedAt.UnixNano()) / 1e9)
}
