package ingest

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"hash/fnv"
)

// Dedupe remembers the most recent event ids, up to a capacity, so that a
// duplicate event is recognised and dropped. It keeps 64-bit FNV-1a hashes,
// not the ids: two distinct ids collide with probability ~n²/2⁶⁵, about
// 3·10⁻⁸ at the default capacity of 2²⁰.
//
// Its state is part of every learner checkpoint, so that a replay after a
// crash makes the same decisions as the first pass did. Not safe for
// concurrent use.
type Dedupe struct {
	capacity int
	seen     map[uint64]struct{}
	ring     []uint64 // insertion order; ring[next] is the oldest once full
	next     int
}

// NewDedupe returns an empty set remembering up to capacity ids. It panics
// if capacity < 1.
func NewDedupe(capacity int) *Dedupe {
	if capacity < 1 {
		panic("ingest: dedupe capacity must be positive")
	}
	return &Dedupe{capacity: capacity, seen: make(map[uint64]struct{})}
}

func hashID(id string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(id))
	return h.Sum64()
}

// Seen reports whether id was added before, without adding it.
func (d *Dedupe) Seen(id string) bool {
	_, ok := d.seen[hashID(id)]
	return ok
}

// Add remembers id, forgetting the oldest id when full. It reports false
// if id was already remembered.
func (d *Dedupe) Add(id string) bool { return d.add(hashID(id)) }

func (d *Dedupe) add(h uint64) bool {
	if _, ok := d.seen[h]; ok {
		return false
	}
	if len(d.ring) < d.capacity {
		d.ring = append(d.ring, h)
	} else {
		delete(d.seen, d.ring[d.next])
		d.ring[d.next] = h
		d.next = (d.next + 1) % d.capacity
	}
	d.seen[h] = struct{}{}
	return true
}

// Len is the number of remembered ids.
func (d *Dedupe) Len() int { return len(d.ring) }

// MarshalText encodes the remembered ids, oldest first.
func (d *Dedupe) MarshalText() ([]byte, error) {
	buf := make([]byte, 8*len(d.ring))
	for i := range d.ring {
		h := d.ring[(d.next+i)%len(d.ring)]
		binary.LittleEndian.PutUint64(buf[8*i:], h)
	}
	out := make([]byte, base64.StdEncoding.EncodedLen(len(buf)))
	base64.StdEncoding.Encode(out, buf)
	return out, nil
}

// UnmarshalText replaces the state with one from MarshalText. Ids beyond
// the capacity are forgotten oldest first.
func (d *Dedupe) UnmarshalText(text []byte) error {
	buf := make([]byte, base64.StdEncoding.DecodedLen(len(text)))
	n, err := base64.StdEncoding.Decode(buf, text)
	if err != nil {
		return fmt.Errorf("decode dedupe state: %w", err)
	}
	if n%8 != 0 {
		return fmt.Errorf("decode dedupe state: %d bytes is not a whole number of ids", n)
	}
	d.seen = make(map[uint64]struct{})
	d.ring, d.next = d.ring[:0], 0
	for i := 0; i < n; i += 8 {
		d.add(binary.LittleEndian.Uint64(buf[i:]))
	}
	return nil
}
