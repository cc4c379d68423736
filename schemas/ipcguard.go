package schemas

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Arrow's IPC reader trusts the vector lengths inside a message's
// flatbuffer metadata: arrow-go v18.9.0 passes Schema.fields,
// Field.children, custom_metadata and Union.typeIds lengths straight to
// make(), outside any allocator, and follows Field.children offsets
// recursively. One flipped byte can thus ask the Go runtime for 100 GiB
// (fatal, not a panic) or send the reader into unbounded recursion. The
// guard below walks the metadata of every message in the stream first and
// refuses vectors that cannot fit in their buffer, nesting deeper than
// maxFieldDepth, and more fields than the buffer could hold.

// maxFieldDepth bounds the nesting of Field.children.
const maxFieldDepth = 64

// errMetadata reports flatbuffer metadata the guard refuses.
var errMetadata = errors.New("malformed ipc message metadata")

// Flatbuffer vtable slots, from Arrow's Message.fbs and Schema.fbs.
const (
	slotMessageHeaderType = 1
	slotMessageHeader     = 2
	slotMessageBodyLength = 3
	slotMessageMetadata   = 4
	slotSchemaFields      = 1
	slotSchemaMetadata    = 2
	slotFieldTypeType     = 2
	slotFieldType         = 3
	slotFieldChildren     = 5
	slotFieldMetadata     = 6
	slotUnionTypeIDs      = 1

	headerSchema = 1 // MessageHeader.Schema
	typeUnion    = 14
)

// guardStream checks the metadata of every complete message of an IPC
// stream. Framing it cannot follow is left for Arrow's reader to report.
func guardStream(msg []byte) error {
	for pos := 0; pos+8 <= len(msg); {
		n := int(binary.LittleEndian.Uint32(msg[pos:]))
		pos += 4
		if uint32(n) == 0xFFFFFFFF {
			n = int(binary.LittleEndian.Uint32(msg[pos:]))
			pos += 4
		}
		if n <= 0 || n > len(msg)-pos {
			return nil
		}
		body, err := guardMessage(msg[pos : pos+n])
		if err != nil {
			return err
		}
		if body < 0 || body > int64(len(msg)-pos-n) {
			return nil
		}
		pos += n + int(body)
	}
	return nil
}

// fb reads one flatbuffer with bounds checks; a failed read sets bad. Its
// offset arithmetic is uint32 and wraps, exactly like the flatbuffers
// runtime Arrow uses, so that it follows the same offsets Arrow will.
type fb struct {
	buf    []byte
	bad    bool
	fields int // Field tables visited
}

func (f *fb) u32(pos uint32) uint32 {
	if uint64(pos)+4 > uint64(len(f.buf)) {
		f.bad = true
		return 0
	}
	return binary.LittleEndian.Uint32(f.buf[pos:])
}

func (f *fb) u16(pos uint32) uint32 {
	if uint64(pos)+2 > uint64(len(f.buf)) {
		f.bad = true
		return 0
	}
	return uint32(binary.LittleEndian.Uint16(f.buf[pos:]))
}

// slot returns the position of field slot of the table at t, or 0 when
// the field is absent.
func (f *fb) slot(t uint32, slot int) uint32 {
	vt := uint32(int32(t) - int32(f.u32(t)))
	voff := uint32(4 + 2*slot)
	if f.bad || voff >= f.u16(vt) {
		return 0
	}
	off := f.u16(vt + voff)
	if off == 0 || f.bad {
		return 0
	}
	return t + off
}

// deref follows the offset stored at p.
func (f *fb) deref(p uint32) uint32 { return p + f.u32(p) }

// ref follows the offset in field slot of table t; ok is false when the
// field is absent. (A target may wrap around to 0, so 0 cannot mean absent.)
func (f *fb) ref(t uint32, slot int) (target uint32, ok bool) {
	p := f.slot(t, slot)
	if p == 0 || f.bad {
		return 0, false
	}
	return f.deref(p), !f.bad
}

// vector checks the vector in field slot of table t, with elements of
// elem bytes, and returns its element start and length.
func (f *fb) vector(t uint32, slot, elem int) (start uint32, n int) {
	v, ok := f.ref(t, slot)
	if !ok {
		return 0, 0
	}
	n = int(f.u32(v))
	if f.bad || uint64(v)+4+uint64(n)*uint64(elem) > uint64(len(f.buf)) {
		f.bad = true
		return 0, 0
	}
	return v + 4, n
}

// guardMessage checks one message's metadata and returns its body length.
func guardMessage(meta []byte) (int64, error) {
	f := &fb{buf: meta}
	root := f.u32(0)
	var body int64
	if p := f.slot(root, slotMessageBodyLength); p != 0 && uint64(p)+8 <= uint64(len(meta)) {
		body = int64(binary.LittleEndian.Uint64(meta[p:]))
	}
	f.vector(root, slotMessageMetadata, 4)
	if p := f.slot(root, slotMessageHeaderType); p != 0 && int(p) < len(meta) &&
		meta[p] == headerSchema {
		if s, ok := f.ref(root, slotMessageHeader); ok {
			f.schema(s)
		}
	}
	if f.bad {
		return 0, errMetadata
	}
	return body, nil
}

func (f *fb) schema(s uint32) {
	f.vector(s, slotSchemaMetadata, 4)
	f.fieldList(s, slotSchemaFields, 0)
}

// fieldList checks the vector of Field tables in slot of table t.
func (f *fb) fieldList(t uint32, slot, depth int) {
	start, n := f.vector(t, slot, 4)
	if depth > maxFieldDepth {
		f.bad = true
	}
	for i := 0; i < n && !f.bad; i++ {
		f.field(f.deref(start+4*uint32(i)), depth)
	}
}

func (f *fb) field(t uint32, depth int) {
	// Each Field table takes well over 8 bytes; more visits than that mean
	// offsets are shared or cyclic, which only a forged buffer does.
	f.fields++
	if f.fields > len(f.buf)/8 {
		f.bad = true
		return
	}
	f.vector(t, slotFieldMetadata, 4)
	if p := f.slot(t, slotFieldTypeType); p != 0 && int(p) < len(f.buf) && f.buf[p] == typeUnion {
		if u, ok := f.ref(t, slotFieldType); ok {
			f.vector(u, slotUnionTypeIDs, 4)
		}
	}
	f.fieldList(t, slotFieldChildren, depth+1)
}

// guardError wraps a guard failure for the decoder.
func guardError(err error) *DecodeError {
	return reject(ReasonCorruptIPC, "", fmt.Errorf("check ipc metadata: %w", err))
}
