package sinks

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"math"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Schema metadata keys of a checkpoint file. Everything but the tensors
// lives here, so that pyarrow users find it in schema.metadata.
const (
	metaFormat        = "slhf.checkpoint.format" // "1"
	metaStep          = "slhf.checkpoint.step"
	metaFingerprint   = "slhf.checkpoint.fingerprint"
	metaSchemaVersion = "slhf.checkpoint.schema_version"
	metaCreatedAt     = "slhf.checkpoint.created_at" // RFC 3339, UTC, nanoseconds
	metaOffsets       = "slhf.checkpoint.offsets"    // JSON {"topic": {"partition": next offset}}
	metaMeta          = "slhf.checkpoint.meta"       // JSON {"key": "value"}
	metaSHA256        = "slhf.checkpoint.sha256"     // hex of checkpointDigest

	checkpointFormat = "1"
	digestDomain     = "slhf-checkpoint-v1"
)

// ErrChecksumMismatch is wrapped by a [*CorruptCheckpointError] when a
// checkpoint decodes but its content differs from its recorded SHA-256.
var ErrChecksumMismatch = errors.New("checksum mismatch")

// CorruptCheckpointError reports a checkpoint file that cannot be trusted:
// truncated, not Arrow IPC, not a checkpoint, or failing its checksum.
type CorruptCheckpointError struct {
	Path string
	Err  error
}

// Error names the file and what is wrong with it.
func (e *CorruptCheckpointError) Error() string {
	return fmt.Sprintf("corrupt checkpoint %s: %v", e.Path, e.Err)
}

// Unwrap returns the underlying cause.
func (e *CorruptCheckpointError) Unwrap() error { return e.Err }

// checkpointSchema is the Arrow schema of every checkpoint: one row per
// tensor, sorted by name.
func checkpointSchema(md arrow.Metadata) *arrow.Schema {
	return arrow.NewSchema([]arrow.Field{
		{Name: "name", Type: arrow.BinaryTypes.String},
		{Name: "values", Type: arrow.ListOf(arrow.PrimitiveTypes.Float64)},
	}, &md)
}

// checkpointDigest is SHA-256 over a canonical encoding of c: a domain
// string, then every field in a fixed order, maps sorted by key, strings
// and lists length-prefixed, integers and float64 bit patterns as
// little-endian 8-byte words. NaN payloads and the sign of zero count.
func checkpointDigest(c *Checkpoint) string {
	d := digester{h: sha256.New()}
	d.str(digestDomain)
	d.u64(uint64(c.Step))
	d.str(c.Fingerprint)
	d.str(c.SchemaVersion)
	d.u64(uint64(c.CreatedAt.UnixNano()))
	d.offsets(c.Offsets)
	d.u64(uint64(len(c.Meta)))
	for _, k := range sortedKeys(c.Meta) {
		d.str(k)
		d.str(c.Meta[k])
	}
	d.u64(uint64(len(c.Tensors)))
	for _, k := range sortedKeys(c.Tensors) {
		d.str(k)
		d.floats(c.Tensors[k])
	}
	return hex.EncodeToString(d.h.Sum(nil))
}

type digester struct {
	h   hash.Hash
	buf [8 << 10]byte
}

func (d *digester) u64(v uint64) {
	binary.LittleEndian.PutUint64(d.buf[:8], v)
	d.h.Write(d.buf[:8])
}

func (d *digester) str(s string) {
	d.u64(uint64(len(s)))
	io.WriteString(d.h, s)
}

func (d *digester) offsets(o map[string]map[int32]int64) {
	d.u64(uint64(len(o)))
	for _, topic := range sortedKeys(o) {
		parts := o[topic]
		d.str(topic)
		d.u64(uint64(len(parts)))
		for _, p := range sortedKeys(parts) {
			d.u64(uint64(p))
			d.u64(uint64(parts[p]))
		}
	}
}

func (d *digester) floats(v []float64) {
	d.u64(uint64(len(v)))
	for len(v) > 0 {
		n := min(len(v), len(d.buf)/8)
		for i, x := range v[:n] {
			binary.LittleEndian.PutUint64(d.buf[8*i:], math.Float64bits(x))
		}
		d.h.Write(d.buf[:8*n])
		v = v[n:]
	}
}

func sortedKeys[K int32 | string, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// encodeCheckpoint writes c as an Arrow IPC file to w.
func encodeCheckpoint(w io.Writer, c *Checkpoint) error {
	md, err := checkpointMetadata(c)
	if err != nil {
		return err
	}
	schema := checkpointSchema(md)
	rec := tensorRecord(schema, c.Tensors)
	defer rec.Release()

	fw, err := ipc.NewFileWriter(w, ipc.WithSchema(schema))
	if err != nil {
		return err
	}
	if err := fw.Write(rec); err != nil {
		return errors.Join(err, fw.Close())
	}
	return fw.Close()
}

func checkpointMetadata(c *Checkpoint) (arrow.Metadata, error) {
	offsets, err := json.Marshal(c.Offsets)
	if err != nil {
		return arrow.Metadata{}, fmt.Errorf("encode offsets: %w", err)
	}
	meta, err := json.Marshal(c.Meta)
	if err != nil {
		return arrow.Metadata{}, fmt.Errorf("encode meta: %w", err)
	}
	return arrow.MetadataFrom(map[string]string{
		metaFormat:        checkpointFormat,
		metaStep:          strconv.FormatInt(c.Step, 10),
		metaFingerprint:   c.Fingerprint,
		metaSchemaVersion: c.SchemaVersion,
		metaCreatedAt:     c.CreatedAt.UTC().Format(time.RFC3339Nano),
		metaOffsets:       string(offsets),
		metaMeta:          string(meta),
		metaSHA256:        checkpointDigest(c),
	}), nil
}

func tensorRecord(schema *arrow.Schema, tensors map[string][]float64) arrow.RecordBatch {
	mem := memory.NewGoAllocator()
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	names := b.Field(0).(*array.StringBuilder)
	lists := b.Field(1).(*array.ListBuilder)
	values := lists.ValueBuilder().(*array.Float64Builder)
	for _, name := range sortedKeys(tensors) {
		names.Append(name)
		lists.Append(true)
		values.AppendValues(tensors[name], nil)
	}
	return b.NewRecordBatch()
}

// decodeCheckpoint parses and verifies a checkpoint file held in data.
// Any failure is a *CorruptCheckpointError. Arrow may panic or allocate
// wildly on crafted bytes; allocations are capped by a budget tied to the
// file size, and a panic becomes an error.
func decodeCheckpoint(path string, data []byte) (c *Checkpoint, err error) {
	defer func() {
		if p := recover(); p != nil {
			c, err = nil, fmt.Errorf("decode panicked: %v", p)
		}
		if err != nil {
			err = &CorruptCheckpointError{Path: path, Err: err}
		}
	}()
	mem := &budgetAllocator{mem: memory.NewGoAllocator(), left: 2*int64(len(data)) + 1<<20}
	c, want, err := readCheckpoint(data, mem)
	if err != nil {
		return nil, err
	}
	if got := checkpointDigest(c); got != want {
		return nil, fmt.Errorf("%w: recorded %.12s…, computed %.12s…",
			ErrChecksumMismatch, want, got)
	}
	return c, nil
}

func readCheckpoint(data []byte, mem memory.Allocator) (*Checkpoint, string, error) {
	if err := checkFooter(data); err != nil {
		return nil, "", err
	}
	r, err := ipc.NewFileReader(bytes.NewReader(data), ipc.WithAllocator(mem))
	if err != nil {
		return nil, "", fmt.Errorf("open arrow file: %w", err)
	}
	defer r.Close()
	if !r.Schema().Equal(checkpointSchema(arrow.Metadata{})) {
		return nil, "", fmt.Errorf("unexpected schema %s", r.Schema())
	}
	c, sum, err := headerFromMetadata(r.Schema().Metadata())
	if err != nil {
		return nil, "", err
	}
	for i := range r.NumRecords() {
		if err := readTensors(r, i, c.Tensors); err != nil {
			return nil, "", err
		}
	}
	return c, sum, nil
}

func headerFromMetadata(md arrow.Metadata) (*Checkpoint, string, error) {
	get := func(k string) string {
		if i := md.FindKey(k); i >= 0 {
			return md.Values()[i]
		}
		return ""
	}
	if f := get(metaFormat); f != checkpointFormat {
		return nil, "", fmt.Errorf("unknown checkpoint format %q", f)
	}
	c := &Checkpoint{Fingerprint: get(metaFingerprint), SchemaVersion: get(metaSchemaVersion),
		Tensors: map[string][]float64{}}
	var errs []error
	var err error
	c.Step, err = strconv.ParseInt(get(metaStep), 10, 64)
	errs = append(errs, err)
	c.CreatedAt, err = time.Parse(time.RFC3339Nano, get(metaCreatedAt))
	errs = append(errs, err)
	errs = append(errs, json.Unmarshal([]byte(get(metaOffsets)), &c.Offsets))
	errs = append(errs, json.Unmarshal([]byte(get(metaMeta)), &c.Meta))
	if err := errors.Join(errs...); err != nil {
		return nil, "", fmt.Errorf("checkpoint header: %w", err)
	}
	return c, get(metaSHA256), nil
}

// readTensors copies the tensors of record batch i into dst; the copies
// own their memory, so the Arrow buffers can be released.
func readTensors(r *ipc.FileReader, i int, dst map[string][]float64) error {
	rec, err := r.RecordBatchAt(i)
	if err != nil {
		return fmt.Errorf("record batch %d: %w", i, err)
	}
	defer rec.Release()
	names, ok1 := rec.Column(0).(*array.String)
	lists, ok2 := rec.Column(1).(*array.List)
	if !ok1 || !ok2 {
		return fmt.Errorf("record batch %d: unexpected column types", i)
	}
	if err := errors.Join(names.ValidateFull(), lists.ValidateFull()); err != nil {
		return fmt.Errorf("record batch %d: %w", i, err)
	}
	values := lists.ListValues().(*array.Float64).Float64Values()
	for row := range int(rec.NumRows()) {
		name := names.Value(row)
		if _, dup := dst[name]; dup || names.IsNull(row) || lists.IsNull(row) {
			return fmt.Errorf("record batch %d row %d: null or duplicate tensor %q", i, row, name)
		}
		start, end := lists.ValueOffsets(row)
		dst[name] = slices.Clone(values[start:end:end])
		if dst[name] == nil {
			dst[name] = []float64{}
		}
	}
	return nil
}

// errAllocationBudget is the panic value of a budgetAllocator that ran out.
var errAllocationBudget = errors.New("allocation budget exceeded")

// budgetAllocator fails, by panicking, an allocation that would exceed
// the bytes left. A corrupt length field in an IPC message must not make
// the process allocate gigabytes; decodeCheckpoint recovers the panic.
type budgetAllocator struct {
	mem  memory.Allocator
	left int64 // bytes that may still be allocated; atomically updated
}

func (b *budgetAllocator) take(n int) {
	if atomic.AddInt64(&b.left, -int64(n)) < 0 {
		panic(errAllocationBudget)
	}
}

func (b *budgetAllocator) Allocate(size int) []byte {
	b.take(size)
	return b.mem.Allocate(size)
}

func (b *budgetAllocator) Reallocate(size int, buf []byte) []byte {
	b.take(size - len(buf))
	return b.mem.Reallocate(size, buf)
}

func (b *budgetAllocator) Free(buf []byte) {
	atomic.AddInt64(&b.left, int64(len(buf)))
	b.mem.Free(buf)
}
