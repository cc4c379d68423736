package sinks

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/slhf-dev/slhf/schemas"
)

// arrowChunkBytes is the size of the record batches the Arrow file sink
// asks the encoder for; a file has no message limit, so it is large.
const arrowChunkBytes = 16 << 20

// ArrowFile writes refined.v1 rows to one Arrow IPC file (the random
// access format pyarrow opens with pyarrow.ipc.open_file), one or more
// record batches per WriteRefined call.
//
// An Arrow file is only readable once its footer is written, at Close, so
// the sink writes to path + ".partial" and renames it to path after the
// footer and an fsync: path never holds a half-written file. Rows written
// before a crash stay in the .partial file, readable as an Arrow stream
// would not be; treat them as lost. Safe for concurrent use.
type ArrowFile struct {
	mu     sync.Mutex // protects everything below
	path   string
	f      *os.File
	bw     *bufio.Writer
	fw     *ipc.FileWriter
	closed bool
	obs    sinkObserver
}

// CreateArrowFile creates the sink; an existing file at path is replaced
// when the sink closes.
func CreateArrowFile(path string, opts ...FileOption) (*ArrowFile, error) {
	_, obs, err := buildFileOptions("arrow_file", opts)
	if err != nil {
		return nil, err
	}
	f, err := os.Create(path + ".partial")
	if err != nil {
		return nil, fmt.Errorf("create arrow file sink: %w", err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	fw, err := ipc.NewFileWriter(bw, ipc.WithSchema(schemas.RefinedSchema()))
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("create arrow file sink: %w", err)
	}
	return &ArrowFile{path: path, f: f, bw: bw, fw: fw, obs: obs}, nil
}

// WriteRefined encodes rows with [schemas.EncodeRefined] and appends them
// as record batches. A row the encoder refuses fails the whole call
// before anything is written.
func (a *ArrowFile) WriteRefined(_ context.Context, rows []schemas.Refined) error {
	start := time.Now()
	err := a.write(rows)
	a.obs.seconds.Observe(time.Since(start).Seconds())
	if err != nil {
		a.obs.errors.Inc()
		return err
	}
	a.obs.written.Add(float64(len(rows)))
	return nil
}

func (a *ArrowFile) write(rows []schemas.Refined) error {
	if len(rows) == 0 {
		return nil
	}
	msgs, err := schemas.EncodeRefined(rows, arrowChunkBytes)
	if err != nil {
		return fmt.Errorf("arrow file sink: %w", err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return ErrClosed
	}
	for _, m := range msgs {
		if err := a.appendStream(m); err != nil {
			return fmt.Errorf("arrow file sink: %w", err)
		}
	}
	return nil
}

// appendStream copies the record batches of one encoded IPC stream into
// the file. The encoder speaks streams; re-reading them keeps the schema
// and its encoding in one place, package schemas.
func (a *ArrowFile) appendStream(msg []byte) error {
	r, err := ipc.NewReader(bytes.NewReader(msg), ipc.WithSchema(schemas.RefinedSchema()),
		ipc.WithAllocator(memory.DefaultAllocator))
	if err != nil {
		return err
	}
	defer r.Release()
	for r.Next() {
		if err := a.fw.Write(r.RecordBatch()); err != nil {
			return err
		}
	}
	return r.Err()
}

// Close writes the footer, fsyncs, and renames the file into place.
// Idempotent.
func (a *ArrowFile) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return nil
	}
	a.closed = true
	err := a.fw.Close()
	err = errors.Join(err, a.bw.Flush())
	if err == nil {
		err = a.f.Sync()
	}
	err = errors.Join(err, a.f.Close())
	if err != nil {
		return fmt.Errorf("close arrow file sink: %w", err)
	}
	if err := os.Rename(a.path+".partial", a.path); err != nil {
		return fmt.Errorf("close arrow file sink: %w", err)
	}
	return nil
}
