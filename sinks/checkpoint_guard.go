package sinks

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Arrow IPC file framing: the file ends with the footer, its length as a
// little-endian int32, and this magic.
const arrowMagic = "ARROW1"

// Limits of the footer walk; our checkpoints have 2 fields, 1 level of
// children and 8 metadata entries.
const (
	maxFieldDepth = 16
	maxFields     = 1024
)

// checkFooter walks the flatbuffer footer of an Arrow IPC file and checks
// that every vector arrow-go sizes an allocation by fits in the footer.
//
// Why: arrow-go v18.9.0 allocates make([]T, n) with n read from the
// footer without bounds checks (schema fields, field children, custom
// metadata: ipc/metadata.go). One flipped byte there asked for 48 GB and
// killed the process with a fatal, unrecoverable out-of-memory error in
// our byte-flip test, and a cycle of child references would overflow the
// stack. Layouts follow Arrow's format/File.fbs and Schema.fbs.
func checkFooter(data []byte) error {
	fb, err := footerBytes(data)
	if err != nil {
		return err
	}
	w := fbWalker{buf: fb}
	footer, err := w.root()
	if err != nil {
		return err
	}
	for _, slot := range []int{2, 3} { // dictionaries, recordBatches: [Block], 24 bytes each
		if _, err := w.vector(footer, slot, 24); err != nil {
			return err
		}
	}
	schema, ok, err := w.table(footer, 1)
	if err != nil || !ok {
		return errors.Join(errors.New("footer has no schema"), err)
	}
	if err := w.keyValues(schema, 2); err != nil {
		return err
	}
	return w.fields(schema, 1, 0)
}

func footerBytes(data []byte) ([]byte, error) {
	const trailer = 4 + len(arrowMagic)
	if len(data) < trailer+8 || string(data[len(data)-len(arrowMagic):]) != arrowMagic {
		return nil, errors.New("not an arrow file: missing trailing magic")
	}
	size := int(binary.LittleEndian.Uint32(data[len(data)-trailer:]))
	if size <= 0 || size > len(data)-trailer-8 {
		return nil, fmt.Errorf("footer length %d out of range", size)
	}
	end := len(data) - trailer
	return data[end-size : end], nil
}

// fbWalker reads flatbuffer tables with every access bounds-checked.
type fbWalker struct {
	buf     []byte
	visited int // Field tables visited
}

var errFlatbuffer = errors.New("footer flatbuffer out of bounds")

func (w *fbWalker) u32(pos int) (int, error) {
	if pos < 0 || pos+4 > len(w.buf) {
		return 0, errFlatbuffer
	}
	return int(binary.LittleEndian.Uint32(w.buf[pos:])), nil
}

func (w *fbWalker) u16(pos int) (int, error) {
	if pos < 0 || pos+2 > len(w.buf) {
		return 0, errFlatbuffer
	}
	return int(binary.LittleEndian.Uint16(w.buf[pos:])), nil
}

func (w *fbWalker) root() (int, error) {
	off, err := w.u32(0)
	if err != nil {
		return 0, err
	}
	return off, w.checkTable(off)
}

func (w *fbWalker) checkTable(pos int) error {
	soff, err := w.u32(pos)
	if err != nil {
		return err
	}
	vt := pos - int(int32(uint32(soff)))
	size, err := w.u16(vt)
	if err != nil || size < 4 || vt+size > len(w.buf) {
		return errFlatbuffer
	}
	return nil
}

// slot returns the absolute position of field slot of the table at pos,
// or ok false when the field is absent.
func (w *fbWalker) slot(pos, slot int) (int, bool, error) {
	soff, _ := w.u32(pos) // checked by checkTable
	vt := pos - int(int32(uint32(soff)))
	size, _ := w.u16(vt)
	if 4+2*slot >= size { // the same presence test as the flatbuffers runtime
		return 0, false, nil
	}
	off, err := w.u16(vt + 4 + 2*slot)
	if err != nil || off == 0 {
		return 0, false, err
	}
	return pos + off, true, nil
}

// deref follows the uoffset stored at pos.
func (w *fbWalker) deref(pos int) (int, error) {
	off, err := w.u32(pos)
	if err != nil {
		return 0, err
	}
	return pos + off, nil
}

func (w *fbWalker) table(pos, slot int) (int, bool, error) {
	p, ok, err := w.slot(pos, slot)
	if err != nil || !ok {
		return 0, ok, err
	}
	t, err := w.deref(p)
	if err != nil {
		return 0, false, err
	}
	return t, true, w.checkTable(t)
}

// vector returns the element count of a vector field whose elements take
// elem bytes each, after checking that they all lie inside the buffer.
func (w *fbWalker) vector(pos, slot, elem int) (vec, error) {
	p, ok, err := w.slot(pos, slot)
	if err != nil || !ok {
		return vec{}, err
	}
	start, err := w.deref(p)
	if err != nil {
		return vec{}, err
	}
	n, err := w.u32(start)
	if err != nil || n > (len(w.buf)-start-4)/elem {
		return vec{}, fmt.Errorf("%w: vector of %d elements", errFlatbuffer, n)
	}
	return vec{start: start + 4, n: n}, nil
}

type vec struct{ start, n int }

// tables checks every table of a vector of tables and returns them.
func (w *fbWalker) tables(pos, slot int) ([]int, error) {
	v, err := w.vector(pos, slot, 4)
	if err != nil {
		return nil, err
	}
	out := make([]int, v.n)
	for i := range out {
		if out[i], err = w.deref(v.start + 4*i); err != nil {
			return nil, err
		}
		if err := w.checkTable(out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// keyValues checks a custom_metadata vector: KeyValue{key, value string}.
func (w *fbWalker) keyValues(pos, slot int) error {
	kvs, err := w.tables(pos, slot)
	if err != nil {
		return err
	}
	for _, kv := range kvs {
		for s := range 2 {
			if _, err := w.vector(kv, s, 1); err != nil {
				return err
			}
		}
	}
	return nil
}

// fields checks a vector of Field tables: name (slot 0), children (slot
// 5, recursively) and custom_metadata (slot 6).
func (w *fbWalker) fields(pos, slot, depth int) error {
	if depth > maxFieldDepth {
		return fmt.Errorf("%w: fields nested deeper than %d", errFlatbuffer, maxFieldDepth)
	}
	fs, err := w.tables(pos, slot)
	if err != nil {
		return err
	}
	for _, f := range fs {
		if w.visited++; w.visited > maxFields {
			return fmt.Errorf("%w: more than %d fields", errFlatbuffer, maxFields)
		}
		if _, err := w.vector(f, 0, 1); err != nil {
			return err
		}
		if err := w.keyValues(f, 6); err != nil {
			return err
		}
		if err := w.fields(f, 5, depth+1); err != nil {
			return err
		}
	}
	return nil
}
