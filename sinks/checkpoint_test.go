package sinks

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

// sampleCheckpoint holds the awkward floats a round trip must keep bit
// for bit.
func sampleCheckpoint(step int64) *Checkpoint {
	return &Checkpoint{
		Step:          step,
		Fingerprint:   "sha256:cafe",
		SchemaVersion: "preference.v1",
		CreatedAt:     time.Date(2026, 12, 4, 16, 0, 0, 123456789, time.UTC),
		Offsets: map[string]map[int32]int64{
			"feedback":  {0: 42, 1: 7, 2: 0},
			"responses": {0: 1 << 40},
		},
		Tensors: map[string][]float64{
			"leader/w1": {1, math.Copysign(0, -1), math.Inf(1), math.Inf(-1), math.SmallestNonzeroFloat64,
				math.MaxFloat64, math.NaN(), math.Float64frombits(0x7ff8_dead_beef_0001),
				float64(step)},
			"follower/adam_m": {0.25, -1e-300},
			"empty":           {},
		},
		Meta: map[string]string{"rng": "pcg:1:2", "note": "ünïcode ✓"},
	}
}

// sameCheckpoint compares two checkpoints field by field, floats by bit
// pattern.
func sameCheckpoint(a, b *Checkpoint) error {
	switch {
	case a.Step != b.Step, a.Fingerprint != b.Fingerprint, a.SchemaVersion != b.SchemaVersion:
		return fmt.Errorf("header %d/%q/%q != %d/%q/%q", a.Step, a.Fingerprint,
			a.SchemaVersion, b.Step, b.Fingerprint, b.SchemaVersion)
	case !a.CreatedAt.Equal(b.CreatedAt):
		return fmt.Errorf("created at %v != %v", a.CreatedAt, b.CreatedAt)
	case fmt.Sprint(a.Offsets) != fmt.Sprint(b.Offsets), fmt.Sprint(a.Meta) != fmt.Sprint(b.Meta):
		return fmt.Errorf("offsets/meta %v %v != %v %v", a.Offsets, a.Meta, b.Offsets, b.Meta)
	case len(a.Tensors) != len(b.Tensors):
		return fmt.Errorf("%d tensors != %d", len(a.Tensors), len(b.Tensors))
	}
	for name, av := range a.Tensors {
		bv, ok := b.Tensors[name]
		if !ok || len(av) != len(bv) {
			return fmt.Errorf("tensor %q: len %d vs %d (present %v)", name, len(av), len(bv), ok)
		}
		for i := range av {
			if math.Float64bits(av[i]) != math.Float64bits(bv[i]) {
				return fmt.Errorf("tensor %q[%d]: %#x != %#x", name, i,
					math.Float64bits(av[i]), math.Float64bits(bv[i]))
			}
		}
	}
	return nil
}

func openStore(t *testing.T, dir string, keep int) (*CheckpointStore, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	s, err := OpenCheckpointStore(dir, keep, nil, reg)
	if err != nil {
		t.Fatalf("OpenCheckpointStore: %v", err)
	}
	return s, reg
}

func mustSave(t testing.TB, s *CheckpointStore, c *Checkpoint) string {
	t.Helper()
	path, err := s.Save(context.Background(), c)
	if err != nil {
		t.Fatalf("Save(step %d): %v", c.Step, err)
	}
	return path
}

func TestCheckpointRoundTrip(t *testing.T) {
	s, _ := openStore(t, t.TempDir(), 3)
	want := sampleCheckpoint(12)
	path := mustSave(t, s, want)
	if filepath.Base(path) != "ckpt-00000000000000000012.arrow" {
		t.Errorf("path = %s", path)
	}
	got, err := s.LoadLatest()
	if err != nil {
		t.Fatalf("LoadLatest: %v", err)
	}
	if err := sameCheckpoint(want, got); err != nil {
		t.Fatal(err)
	}
	if v := metricValue(t, s.metrics.lastStep); v != 12 {
		t.Errorf("slhf_checkpoint_last_step = %v, want 12", v)
	}
	if v := metricValue(t, s.metrics.bytes); v < 500 {
		t.Errorf("slhf_checkpoint_bytes = %v, want the file size", v)
	}
}

// TestCheckpointGolden pins the file format: a checkpoint written by an
// earlier build must still load.
func TestCheckpointGolden(t *testing.T) {
	golden := filepath.Join("testdata", "ckpt-golden-v1.arrow")
	if *update {
		s, _ := openStore(t, t.TempDir(), 1)
		data, err := os.ReadFile(mustSave(t, s, sampleCheckpoint(3)))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := ReadCheckpoint(golden)
	if err != nil {
		t.Fatalf("ReadCheckpoint(golden): %v", err)
	}
	if err := sameCheckpoint(sampleCheckpoint(3), got); err != nil {
		t.Fatal(err)
	}
}

func TestCheckpointSaveDoesNotTouchInput(t *testing.T) {
	s, _ := openStore(t, t.TempDir(), 1)
	c := sampleCheckpoint(1)
	c.CreatedAt = time.Time{}
	mustSave(t, s, c)
	if !c.CreatedAt.IsZero() {
		t.Error("Save modified the caller's checkpoint")
	}
	got, err := s.LoadLatest()
	if err != nil || time.Since(got.CreatedAt) > time.Minute {
		t.Fatalf("LoadLatest = %v, %v; want CreatedAt set to now", got, err)
	}
}

// corruptions damages the newest of two checkpoints in many ways.
func corruptions(size int) map[string]func([]byte) []byte {
	out := map[string]func([]byte) []byte{}
	for k := range 10 {
		cut := size * k / 10
		out[fmt.Sprintf("truncated at %d0%%", k)] = func(b []byte) []byte { return b[:cut] }
	}
	out["one byte short"] = func(b []byte) []byte { return b[:len(b)-1] }
	out["empty"] = func([]byte) []byte { return nil }
	out["not arrow"] = func([]byte) []byte { return []byte("hello, checkpoint") }
	return out
}

func TestCheckpointCorruptNewestFallsBack(t *testing.T) {
	dir := t.TempDir()
	s, _ := openStore(t, dir, 5)
	older := sampleCheckpoint(1)
	mustSave(t, s, older)
	newest := mustSave(t, s, sampleCheckpoint(2))
	good, err := os.ReadFile(newest)
	if err != nil {
		t.Fatal(err)
	}
	for name, damage := range corruptions(len(good)) {
		t.Run(name, func(t *testing.T) {
			if err := os.WriteFile(newest, damage(append([]byte(nil), good...)), 0o644); err != nil {
				t.Fatal(err)
			}
			before := metricValue(t, s.metrics.corrupt)
			got, err := s.LoadLatest()
			if err != nil {
				t.Fatalf("LoadLatest: %v", err)
			}
			if err := sameCheckpoint(older, got); err != nil {
				t.Fatalf("fell back to something else: %v", err)
			}
			if n := metricValue(t, s.metrics.corrupt) - before; n != 1 {
				t.Errorf("corrupt counter rose by %v, want 1", n)
			}
			var ce *CorruptCheckpointError
			if _, err := ReadCheckpoint(newest); !errors.As(err, &ce) || ce.Path != newest {
				t.Errorf("ReadCheckpoint(damaged) = %v, want *CorruptCheckpointError", err)
			}
		})
	}
}

// TestCheckpointByteFlips flips one random byte at a time in the newest
// checkpoint. A flip must either be detected (fall back to the older
// checkpoint) or leave the decoded content exactly as saved, as when it
// hits padding: it must never yield different state.
func TestCheckpointByteFlips(t *testing.T) {
	dir := t.TempDir()
	s, _ := openStore(t, dir, 5)
	older, want := sampleCheckpoint(1), sampleCheckpoint(2)
	mustSave(t, s, older)
	newest := mustSave(t, s, want)
	good, err := os.ReadFile(newest)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	const flips = 300
	detected := 0
	for i := range flips {
		bad := append([]byte(nil), good...)
		pos := rng.IntN(len(bad))
		bad[pos] ^= byte(1 + rng.IntN(255))
		if err := os.WriteFile(newest, bad, 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := s.LoadLatest()
		if err != nil {
			t.Fatalf("flip %d at %d: LoadLatest: %v", i, pos, err)
		}
		if got.Step == 1 {
			detected++
			if err := sameCheckpoint(older, got); err != nil {
				t.Fatalf("flip %d at %d: %v", i, pos, err)
			}
			continue
		}
		if err := sameCheckpoint(want, got); err != nil {
			t.Fatalf("flip %d at byte %d of %d went undetected and changed state: %v",
				i, pos, len(bad), err)
		}
	}
	t.Logf("%d of %d single-byte flips detected; the rest hit bytes that do not "+
		"change the decoded checkpoint", detected, flips)
	// About half the bytes of this small file are padding or the leading
	// copy of the schema, which readers ignore; a quarter is a floor that
	// would catch a checker that detects nothing.
	if detected < flips/4 {
		t.Errorf("only %d of %d flips detected", detected, flips)
	}
}

func TestCheckpointNoneValid(t *testing.T) {
	dir := t.TempDir()
	s, _ := openStore(t, dir, 2)
	if _, err := s.LoadLatest(); !errors.Is(err, ErrNoCheckpoint) {
		t.Fatalf("LoadLatest(empty dir) = %v, want ErrNoCheckpoint", err)
	}
	path := mustSave(t, s, sampleCheckpoint(1))
	if err := os.WriteFile(path, []byte("ARROW1"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Foreign names and directories are not checkpoints.
	_ = os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o644)
	_ = os.Mkdir(filepath.Join(dir, "ckpt-00000000000000000099.arrow"), 0o755)
	if _, err := s.LoadLatest(); !errors.Is(err, ErrNoCheckpoint) {
		t.Fatalf("LoadLatest(only corrupt) = %v, want ErrNoCheckpoint", err)
	}
}

func TestCheckpointPruneKeepsNewest(t *testing.T) {
	dir := t.TempDir()
	s, _ := openStore(t, dir, 3)
	for _, step := range []int64{5, 1, 9, 7, 3, 11} {
		mustSave(t, s, sampleCheckpoint(step))
	}
	paths, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{CheckpointPath(dir, 7), CheckpointPath(dir, 9), CheckpointPath(dir, 11)}
	if fmt.Sprint(paths) != fmt.Sprint(want) {
		t.Fatalf("List() = %v, want %v", paths, want)
	}
}

func TestCheckpointOpenRemovesTemps(t *testing.T) {
	dir := t.TempDir()
	leftover := filepath.Join(dir, ".ckpt-123.tmp")
	if err := os.WriteFile(leftover, []byte("half"), 0o644); err != nil {
		t.Fatal(err)
	}
	openStore(t, dir, 1)
	if _, err := os.Stat(leftover); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("leftover temp file still there: %v", err)
	}
	if _, err := OpenCheckpointStore(dir, 0, nil, nil); err == nil {
		t.Error("OpenCheckpointStore(keep 0) = nil error")
	}
}

func TestCheckpointSaveCancelled(t *testing.T) {
	dir := t.TempDir()
	s, _ := openStore(t, dir, 1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Save(ctx, sampleCheckpoint(1)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Save(cancelled) = %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("cancelled Save left %d files", len(entries))
	}
	if _, err := s.Save(context.Background(), &Checkpoint{Step: -1}); err == nil {
		t.Error("Save(negative step) = nil error")
	}
}

// TestCheckpointConcurrentReaders saves while readers load: a reader
// must never see a partial file, so no load fails and nothing is counted
// corrupt, and each reader sees steps only grow.
func TestCheckpointConcurrentReaders(t *testing.T) {
	dir := t.TempDir()
	s, _ := openStore(t, dir, 2)
	mustSave(t, s, sampleCheckpoint(0))
	big := sampleCheckpoint(0)
	big.Tensors["big"] = make([]float64, 64<<10) // 512 KiB: writes take a while
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan error, 8)
	for range 3 {
		wg.Go(func() {
			last := int64(-1)
			for {
				select {
				case <-stop:
					return
				default:
				}
				c, err := s.LoadLatest()
				if err != nil || c.Step < last {
					errs <- fmt.Errorf("LoadLatest = step %v, %v after step %d", c, err, last)
					return
				}
				last = c.Step
			}
		})
	}
	for step := int64(1); step <= 40; step++ {
		big.Step = step
		mustSave(t, s, big)
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := metricValue(t, s.metrics.corrupt); n != 0 {
		t.Errorf("readers counted %v corrupt checkpoints during saves", n)
	}
}

func TestInspectCheckpoint(t *testing.T) {
	s, _ := openStore(t, t.TempDir(), 1)
	path := mustSave(t, s, sampleCheckpoint(4))
	info, err := InspectCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Step != 4 || len(info.Tensors) != 3 || info.Bytes == 0 {
		t.Fatalf("info = %+v", info)
	}
	// Sorted by name: empty, follower/adam_m, leader/w1.
	e, f, l := info.Tensors[0], info.Tensors[1], info.Tensors[2]
	if e.Name != "empty" || e.Len != 0 || !math.IsNaN(e.L2) {
		t.Errorf("empty = %+v", e)
	}
	if f.Len != 2 || f.Min != -1e-300 || f.Max != 0.25 || f.L2 != 0.25 {
		t.Errorf("follower/adam_m = %+v", f)
	}
	if l.Len != 9 || l.NaNs != 2 || !math.IsInf(l.Max, 1) || !math.IsInf(l.Min, -1) {
		t.Errorf("leader/w1 = %+v", l)
	}
}

// TestCheckpointPyarrow checks that users can open a checkpoint with
// pyarrow. It needs a python with pyarrow: SLHF_PYTHON, else python3.
func TestCheckpointPyarrow(t *testing.T) {
	python := os.Getenv("SLHF_PYTHON")
	if python == "" {
		python = "python3"
	}
	if err := exec.Command(python, "-c", "import pyarrow").Run(); err != nil {
		t.Skipf("%s has no pyarrow: %v", python, err)
	}
	s, _ := openStore(t, t.TempDir(), 1)
	path := mustSave(t, s, sampleCheckpoint(8))
	out, err := exec.Command(python, "testdata/read_checkpoint.py", path).CombinedOutput()
	if err != nil {
		t.Fatalf("pyarrow: %v\n%s", err, out)
	}
	want := "step=8 offsets.feedback.0=42 tensors=empty,follower/adam_m,leader/w1 " +
		"adam_m=[0.25, -1e-300] nan_bits=0x7ff8deadbeef0001\n"
	if string(out) != want {
		t.Fatalf("pyarrow read:\n%s\nwant:\n%s", out, want)
	}
}

func FuzzDecodeCheckpoint(f *testing.F) {
	s, err := OpenCheckpointStore(f.TempDir(), 1, nil, nil)
	if err != nil {
		f.Fatal(err)
	}
	good, err := os.ReadFile(mustSave(f, s, sampleCheckpoint(1)))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte("ARROW1\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := decodeCheckpoint("fuzz", data)
		if err != nil {
			var ce *CorruptCheckpointError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v is not a *CorruptCheckpointError", err)
			}
			return
		}
		if _, err := metadataDigestMatches(c); err != nil {
			t.Fatal(err)
		}
	})
}

// metadataDigestMatches re-encodes c and decodes it again: whatever a
// decoder accepts must survive a round trip unchanged.
func metadataDigestMatches(c *Checkpoint) (*Checkpoint, error) {
	var buf bytesBuffer
	if err := encodeCheckpoint(&buf, c); err != nil {
		return nil, err
	}
	again, err := decodeCheckpoint("again", buf.b)
	if err != nil {
		return nil, err
	}
	return again, sameCheckpoint(c, again)
}

type bytesBuffer struct{ b []byte }

func (w *bytesBuffer) Write(p []byte) (int, error) { w.b = append(w.b, p...); return len(p), nil }

func benchmarkCheckpoint(b *testing.B, floats int) {
	s, err := OpenCheckpointStore(b.TempDir(), 2, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	c := sampleCheckpoint(0)
	rng := rand.New(rand.NewPCG(3, 4))
	w := make([]float64, floats)
	for i := range w {
		w[i] = rng.NormFloat64()
	}
	c.Tensors["w"] = w
	b.Run("save", func(b *testing.B) {
		b.SetBytes(int64(8 * floats))
		for i := range b.N {
			c.Step = int64(i)
			mustSave(b, s, c)
		}
	})
	b.Run("load", func(b *testing.B) {
		b.SetBytes(int64(8 * floats))
		for range b.N {
			if _, err := s.LoadLatest(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkCheckpoint1MB(b *testing.B)  { benchmarkCheckpoint(b, 1<<17) }
func BenchmarkCheckpoint50MB(b *testing.B) { benchmarkCheckpoint(b, 50<<17) }

func TestCheckpointReaderLeavesWriterAlone(t *testing.T) {
	dir := t.TempDir()
	w, err := OpenCheckpointStore(dir, 3, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Save(context.Background(), &Checkpoint{Step: 4, Fingerprint: "f",
		Tensors: map[string][]float64{"x": {1}}}); err != nil {
		t.Fatal(err)
	}
	// A Save in progress in the writer process.
	inflight := filepath.Join(dir, strings.Replace(checkpointTempPat, "*", "123", 1))
	if err := os.WriteFile(inflight, []byte("partial"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := OpenCheckpointReader(dir, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(inflight); err != nil {
		t.Fatalf("reader removed the writer's temp file: %v", err)
	}
	c, err := r.LoadLatest()
	if err != nil || c.Step != 4 {
		t.Fatalf("LoadLatest = %v, %v", c, err)
	}
	if _, err := r.Save(context.Background(), c); err == nil {
		t.Fatal("Save through a reader succeeded")
	}
	info, err := os.Stat(CheckpointPath(dir, 4))
	if err != nil || info.Mode().Perm() != 0o644 {
		t.Fatalf("checkpoint mode %v, %v; want 0644 so refiners of another user can read it",
			info.Mode().Perm(), err)
	}
}
