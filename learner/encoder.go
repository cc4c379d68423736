package learner

import (
	"fmt"
	"math"
)

// Encoder turns a text, or the precomputed embedding that travels with it,
// into a dense feature vector of length Dim.
//
// Implementations are stateless after construction and safe for concurrent
// use.
type Encoder interface {
	// Dim is the length of every vector Encode writes.
	Dim() int
	// Encode overwrites dst[:Dim()] with the features of text. emb is the
	// record's embedding of text, nil when absent; encoders that do not
	// use it ignore it. Encode panics if len(dst) < Dim().
	Encode(dst []float64, text string, emb []float32) error
}

// NewEncoder returns the encoder called name ("hash" or "column") with
// output width dim.
func NewEncoder(name string, dim int) (Encoder, error) {
	if dim < 1 {
		return nil, fmt.Errorf("new encoder: dim %d must be positive", dim)
	}
	switch name {
	case EncoderHash:
		return HashEncoder{D: dim}, nil
	case EncoderColumn:
		return ColumnEncoder{D: dim}, nil
	}
	return nil, fmt.Errorf("new encoder: unknown encoder %q", name)
}

// HashEncoder is signed feature hashing (Weinberger et al., "Feature
// Hashing for Large Scale Multitask Learning", ICML 2009) of lower-cased
// word unigrams, word bigrams and character trigrams. Each n-gram adds ±1
// to bucket h mod D, the sign taken from another bit of the same 64-bit
// FNV-1a hash h, so collisions cancel in expectation; the result is scaled
// to unit L2 norm (all zeros for an empty text).
//
// D is the number of buckets; it must be positive. HashEncoder ignores
// embeddings and never returns an error.
type HashEncoder struct{ D int }

// Dim returns D.
func (e HashEncoder) Dim() int { return e.D }

// Seeds that keep the three n-gram families in different hash streams.
const (
	seedWord   = 0x9e3779b97f4a7c15
	seedBigram = 0xc2b2ae3d27d4eb4f
	seedChar   = 0x165667b19e3779f9
)

// Encode implements Encoder.
func (e HashEncoder) Encode(dst []float64, text string, _ []float32) error {
	v := dst[:e.D]
	clear(v)
	e.addChars(v, text)
	var prev uint64
	forEachWord(text, func(w uint64) {
		e.add(v, w^seedWord)
		if prev != 0 {
			e.add(v, (prev*31+w)^seedBigram)
		}
		prev = w
	})
	normalise(v)
	return nil
}

// addChars hashes every window of three lower-cased bytes.
func (e HashEncoder) addChars(v []float64, text string) {
	var a, b byte
	for i := 0; i < len(text); i++ {
		c := lower(text[i])
		if i >= 2 {
			e.add(v, fnv3(a, b, c)^seedChar)
		}
		a, b = b, c
	}
}

// add folds one n-gram hash into its signed bucket.
func (e HashEncoder) add(v []float64, h uint64) {
	h = mix(h)
	if h>>63 == 0 {
		v[h%uint64(e.D)]++
	} else {
		v[h%uint64(e.D)]--
	}
}

// ColumnEncoder passes through the record's precomputed embedding, scaled
// to unit L2 norm. D is the expected width; a missing embedding returns
// ErrNoEmbedding and one of another width a *DimensionError.
type ColumnEncoder struct{ D int }

// Dim returns D.
func (e ColumnEncoder) Dim() int { return e.D }

// Encode implements Encoder.
func (e ColumnEncoder) Encode(dst []float64, _ string, emb []float32) error {
	if emb == nil {
		return ErrNoEmbedding
	}
	if len(emb) != e.D {
		return &DimensionError{What: "embedding", Got: len(emb), Want: e.D}
	}
	v := dst[:e.D]
	for i, x := range emb {
		v[i] = float64(x)
	}
	normalise(v)
	return nil
}

// forEachWord calls fn with the FNV-1a hash of each maximal run of ASCII
// letters and digits (lower-cased) and of each non-ASCII byte run, so
// non-Latin scripts still produce words. Hashes are never zero.
func forEachWord(text string, fn func(uint64)) {
	const offset, prime = 14695981039346656037, 1099511628211
	h, n := uint64(offset), 0
	for i := 0; i <= len(text); i++ {
		if i < len(text) && isWordByte(text[i]) {
			h = (h ^ uint64(lower(text[i]))) * prime
			n++
			continue
		}
		if n > 0 {
			fn(h | 1)
		}
		h, n = offset, 0
	}
}

func isWordByte(c byte) bool {
	return c >= 0x80 || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func fnv3(a, b, c byte) uint64 {
	const offset, prime = 14695981039346656037, 1099511628211
	h := (uint64(offset) ^ uint64(a)) * prime
	h = (h ^ uint64(b)) * prime
	return (h ^ uint64(c)) * prime
}

// mix is the SplitMix64 finaliser; it spreads FNV's weak low bits.
func mix(h uint64) uint64 {
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	return h ^ h>>31
}

// normalise scales v to unit L2 norm in place; a zero vector stays zero.
func normalise(v []float64) {
	var s float64
	for _, x := range v {
		s += x * x
	}
	if s == 0 {
		return
	}
	inv := 1 / math.Sqrt(s)
	for i := range v {
		v[i] *= inv
	}
}
