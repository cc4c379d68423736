package learner

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode/utf8"
)

// Scalar features of a response y to a prompt x, appended to e(y); see
// featurizer.response.
const (
	scalarLength     = iota // log(1 + runes(y)) / 8
	scalarLenRatio          // clamp(log((runes(y)+1)/(runes(x)+1)), ±4) / 4
	scalarTruncated         // 1 when y does not end like a finished text
	scalarOverlap           // share of y's words that also occur in x
	scalarCosine            // cosine of the embeddings of x and y
	scalarRepetition        // share of y's word bigrams that repeat an earlier one
	scalarCoverage          // share of x's distinct words that occur in y
	scalarRefusal           // 1 when y contains an apology or refusal phrase
	numScalars
)

// Descriptors g(x) of the prompt alone. Each multiplies every scalar, so
// that z holds the block g(x) ⊗ s(x, y): a linear score over z can then
// weigh a response property differently for different kinds of prompt
// (a long answer may help a one-line instruction and hurt a reply in a
// chat). A descriptor that is the same for both responses cancels in
// z − z' on its own; only the products carry information.
const (
	promptLength   = iota // log(1 + runes(x)) / 8
	promptTurns           // min(speaker-tagged lines of x, 8) / 8
	promptQuestion        // 1 when x's last visible character is '?'
	numPromptDescs
)

// numInteractions is the width of the block g(x) ⊗ s(x, y).
const numInteractions = numPromptDescs * numScalars

// promptInfo is what the features of a response need from its prompt.
type promptInfo struct {
	emb   []float64 // unit-norm embedding, zeros when the record has none
	words []uint64  // sorted distinct word hashes
	runes int
	desc  [numPromptDescs]float64 // g(x)
}

// featurizer builds z(x, y) = [e(y), s(x, y), g(x) ⊗ s(x, y)], the feature
// vector shared by the preference model and the Leader scorer, and fixes
// the width of the Follower's input u. payoff is
// Config.FollowerPayoffInput. It is safe for concurrent use.
type featurizer struct {
	enc    Encoder
	payoff bool
}

// width is the length of z.
func (f featurizer) width() int { return f.enc.Dim() + numScalars + numInteractions }

// followerWidth is the length of the Follower's input u(y, y'): 2F + 1
// for [z(y'), z(y') − z(y), keep], plus numPayoffColumns when the payoff
// columns are on.
func (f featurizer) followerWidth() int {
	if f.payoff {
		return 2*f.width() + 1 + numPayoffColumns
	}
	return 2*f.width() + 1
}

// prompt encodes x. A missing prompt embedding is not an error for the
// column encoder: the cosine feature is then 0.
func (f featurizer) prompt(text string, emb []float32) (promptInfo, error) {
	p := promptInfo{emb: make([]float64, f.enc.Dim()), runes: utf8.RuneCountInString(text)}
	err := f.enc.Encode(p.emb, text, emb)
	if err != nil && !errors.Is(err, ErrNoEmbedding) {
		return promptInfo{}, fmt.Errorf("encode prompt: %w", err)
	}
	p.words = sortedWords(text)
	p.words = slices.Compact(p.words)
	p.desc[promptLength] = math.Log1p(float64(p.runes)) / 8
	p.desc[promptTurns] = float64(min(speakerTurns(text), 8)) / 8
	if t := strings.TrimRight(text, " \t\r\n"); strings.HasSuffix(t, "?") {
		p.desc[promptQuestion] = 1
	}
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
	words := sortedWords(text)
	s[scalarRepetition] = repetition(text)
	s[scalarCoverage] = coverage(p.words, slices.Compact(words))
	s[scalarRefusal] = refusal(text)
	cross := dst[d+numScalars : d+numScalars+numInteractions]
	for i, g := range p.desc {
		for j, v := range s {
			cross[i*numScalars+j] = g * v
		}
	}
	return nil
}

// sortedWords returns the word hashes of text, sorted, with repeats.
func sortedWords(text string) []uint64 {
	var w []uint64
	forEachWord(text, func(h uint64) { w = append(w, h) })
	slices.Sort(w)
	return w
}

// speakerTurns counts the lines of text that open with a speaker tag: one
// capitalised word of at most 16 letters followed by a colon, as in a
// chat transcript ("User: …", "Assistant: …").
func speakerTurns(text string) int {
	n := 0
	for line := range strings.Lines(text) {
		line = strings.TrimLeft(line, " \t")
		i := strings.IndexByte(line, ':')
		if i < 2 || i > 16 || line[0] < 'A' || line[0] > 'Z' {
			continue
		}
		word := true
		for k := 1; k < i; k++ {
			c := line[k]
			word = word && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z')
		}
		if word {
			n++
		}
	}
	return n
}

// repetition is the share of y's word bigrams equal to an earlier bigram
// of y, a cheap sign of degenerate looping output; 0 under two words.
func repetition(text string) float64 {
	var grams []uint64
	var prev uint64
	forEachWord(text, func(w uint64) {
		if prev != 0 {
			grams = append(grams, mix(prev*31+w))
		}
		prev = w
	})
	if len(grams) == 0 {
		return 0
	}
	slices.Sort(grams)
	return float64(len(grams)-len(slices.Compact(grams))) / float64(len(grams))
}

// coverage is the share of the prompt's distinct words (sorted) that occur
// among the response's distinct words (sorted); 0 for an empty prompt.
func coverage(prompt, response []uint64) float64 {
	if len(prompt) == 0 {
		return 0
	}
	hit, j := 0, 0
	for _, w := range prompt {
		for j < len(response) && response[j] < w {
			j++
		}
		if j < len(response) && response[j] == w {
			hit++
		}
	}
	return float64(hit) / float64(len(prompt))
}

// refusalPhrases are lower-case English markers of an apology or a
// refusal to answer.
var refusalPhrases = []string{
	"sorry", "apologi", "i can't", "i cannot", "i can not", "i won't", "i'm not able",
	"i am not able", "unable to", "as an ai", "i'm not comfortable", "i don't think i can",
}

// refusal is 1 when text contains one of refusalPhrases (ASCII case
// folded), else 0.
func refusal(text string) float64 {
	low := strings.ToLower(strings.ReplaceAll(text, "’", "'"))
	for _, p := range refusalPhrases {
		if strings.Contains(low, p) {
			return 1
		}
	}
	return 0
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

// numPayoffColumns is the number of payoff columns of u; see payoffColumns.
const numPayoffColumns = 2

// payoffLogitScale bounds the logit column: s is clamped to ±8 (p between
// 3·10⁻⁴ and 1 − 3·10⁻⁴) before scaling.
const payoffLogitScale = 8

// payoffGain multiplies both payoff columns, which then lie in [−2, 2].
// At gain 1 (columns in [−½, ½] and [−1, 1]) the Follower moved too
// slowly towards the payoff in the few dozen GDA steps of the dev split:
// mean Follower win rate over its 5 folds 0.497, against 0.555 at gain 4
// and 0.561 at gain 8 (within noise of 4, so the smaller was kept).
const payoffGain = 4

// payoffColumns writes the payoff columns of u(y, y') into
// dst[:numPayoffColumns], from the preference model's logit
// s = logit p(y ≻ y' | x), with gain G = payoffGain:
//
//	[G·(σ(s) − ½), G·clamp(s, ±8)/8]
//
// Both are 0 for y' = y and change sign when y and y' swap. The first is
// the payoff itself (centred), in which the best response's logit −p/τ_F
// is linear; the second keeps resolution where p saturates. The columns
// are inputs, not functions of φ, so the Follower's gradient is the MLP's
// alone and nothing flows back into the preference model.
func payoffColumns(dst []float64, s float64) {
	dst[0] = payoffGain * (sigmoid(s) - 0.5)
	dst[1] = payoffGain * math.Max(-payoffLogitScale, math.Min(payoffLogitScale, s)) /
		payoffLogitScale
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
