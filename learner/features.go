package learner

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode/utf8"
)

// Scalar features appended to every text embedding; see responseFeatures.
const (
	scalarLength    = iota // log(1 + runes(y)) / 8
	scalarLenRatio         // clamp(log((runes(y)+1)/(runes(x)+1)), ±4) / 4
	scalarTruncated        // 1 when y does not end like a finished text
	scalarOverlap          // share of y's words that also occur in x
	scalarCosine           // cosine of the embeddings of x and y
	numScalars
)

// promptInfo is what the features of a response need from its prompt.
type promptInfo struct {
	emb   []float64 // unit-norm embedding, zeros when the record has none
	words []uint64  // sorted distinct word hashes
	runes int
}

// featurizer builds z(x, y) = [e(y), scalars(x, y)], the feature vector
// shared by the preference model and the Leader scorer. It is safe for
// concurrent use.
type featurizer struct{ enc Encoder }

// width is the length of z.
func (f featurizer) width() int { return f.enc.Dim() + numScalars }

// followerWidth is the length of u(y, y') = [z(y'), z(y') − z(y), keep],
// the Follower's input.
func (f featurizer) followerWidth() int { return 2*f.width() + 1 }

// prompt encodes x. A missing prompt embedding is not an error for the
// column encoder: the cosine feature is then 0.
func (f featurizer) prompt(text string, emb []float32) (promptInfo, error) {
	p := promptInfo{emb: make([]float64, f.enc.Dim()), runes: utf8.RuneCountInString(text)}
	err := f.enc.Encode(p.emb, text, emb)
	if err != nil && !errors.Is(err, ErrNoEmbedding) {
		return promptInfo{}, fmt.Errorf("encode prompt: %w", err)
	}
	forEachWord(text, func(w uint64) { p.words = append(p.words, w) })
	slices.Sort(p.words)
	p.words = slices.Compact(p.words)
	return p, nil
}

// response writes z(x, y) into dst[:width()].
func (f featurizer) response(dst []float64, p *promptInfo, text string, emb []float32) error {
	d := f.enc.Dim()
	if err := f.enc.Encode(dst[:d], text, emb); err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	s := dst[d : d+numScalars]
	n := utf8.RuneCountInString(text)
	s[scalarLength] = math.Log1p(float64(n)) / 8
	ratio := math.Log(float64(n+1) / float64(p.runes+1))
	s[scalarLenRatio] = math.Max(-4, math.Min(4, ratio)) / 4
	s[scalarTruncated] = truncated(text)
	s[scalarOverlap] = overlap(p.words, text)
	s[scalarCosine] = dot(p.emb, dst[:d])
	return nil
}

// follower writes u(y, y') = [z', z' − z, keep] into dst[:followerWidth()].
func follower(dst, z, zNext []float64, keep bool) {
	w := len(z)
	copy(dst[:w], zNext)
	for i := range w {
		dst[w+i] = zNext[i] - z[i]
	}
	dst[2*w] = 0
	if keep {
		dst[2*w] = 1
	}
}

// truncated is a cheap "no end of sequence" heuristic: 1 when the last
// visible character is not one that usually closes a finished answer.
// Lists and code without a final full stop count as truncated too; the
// feature is a hint for the models, not a verdict.
func truncated(text string) float64 {
	t := strings.TrimRight(text, " \t\r\n")
	r, _ := utf8.DecodeLastRuneInString(t)
	if t == "" || strings.ContainsRune(".!?\"')]}`*»”’。！？", r) {
		return 0
	}
	return 1
}

// overlap is the share of y's word occurrences whose hash is in words.
func overlap(words []uint64, text string) float64 {
	hit, n := 0, 0
	forEachWord(text, func(w uint64) {
		n++
		if _, ok := slices.BinarySearch(words, w); ok {
			hit++
		}
	})
	if n == 0 {
		return 0
	}
	return float64(hit) / float64(n)
}

func dot(a, b []float64) float64 {
	var s float64
	for i, x := range a {
		s += x * b[i]
	}
	return s
}
