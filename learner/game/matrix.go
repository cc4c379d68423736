package game

import (
	"errors"
	"fmt"
	"math"
)

// Tolerance is the slack allowed by [Validate] on p[i][j] + p[j][i] = 1
// and on the diagonal p[i][i] = ½.
const Tolerance = 1e-6

// ErrEmpty is returned when a game has no actions.
var ErrEmpty = errors.New("game has no actions")

// MatrixError reports the first entry of a preference matrix that breaks
// a rule; Row and Col are zero-based, Col is −1 for a whole-row problem.
// It wraps one of the sentinel errors below so callers can test the kind.
type MatrixError struct {
	Row, Col int
	Err      error
}

// Sentinel kinds wrapped by [MatrixError].
var (
	// ErrNotSquare: a row's length differs from the number of rows.
	ErrNotSquare = errors.New("matrix is not square")
	// ErrOutOfRange: an entry is NaN or outside [0, 1].
	ErrOutOfRange = errors.New("probability outside [0, 1]")
	// ErrNotComplementary: p[i][j] + p[j][i] differs from 1, or
	// p[i][i] from ½, by more than Tolerance.
	ErrNotComplementary = errors.New("p[i][j] + p[j][i] != 1")
)

// Error names the offending entry and the rule it breaks.
func (e *MatrixError) Error() string {
	if e.Col < 0 {
		return fmt.Sprintf("row %d: %v", e.Row, e.Err)
	}
	return fmt.Sprintf("entry [%d][%d]: %v", e.Row, e.Col, e.Err)
}

// Unwrap returns the sentinel kind.
func (e *MatrixError) Unwrap() error { return e.Err }

// Validate checks that p is a preference matrix: square, non-empty, every
// entry in [0, 1], p[i][j] + p[j][i] = 1 and p[i][i] = ½ within
// [Tolerance]. It returns [ErrEmpty] or a *[MatrixError] naming the first
// bad entry.
func Validate(p [][]float64) error {
	n := len(p)
	if n == 0 {
		return ErrEmpty
	}
	for i, row := range p {
		if len(row) != n {
			return &MatrixError{Row: i, Col: -1, Err: ErrNotSquare}
		}
		for j, v := range row {
			if math.IsNaN(v) || v < 0 || v > 1 {
				return &MatrixError{Row: i, Col: j, Err: ErrOutOfRange}
			}
		}
	}
	for i := range n {
		for j := i; j < n; j++ {
			if math.Abs(p[i][j]+p[j][i]-1) > Tolerance {
				return &MatrixError{Row: i, Col: j, Err: ErrNotComplementary}
			}
		}
	}
	return nil
}

// mustSquare panics unless p is a non-empty square matrix: the solvers
// document that they take validated input, so a wrong shape is a
// programmer error.
func mustSquare(p [][]float64) int {
	n := len(p)
	if n == 0 {
		panic("game: empty preference matrix")
	}
	for _, row := range p {
		if len(row) != n {
			panic("game: preference matrix is not square")
		}
	}
	return n
}

// refOrUniform returns ref normalised to sum 1, or the uniform
// distribution over n when ref is nil. It panics on a wrong length or a
// non-positive sum (programmer error).
func refOrUniform(ref []float64, n int) []float64 {
	out := make([]float64, n)
	if ref == nil {
		for i := range out {
			out[i] = 1 / float64(n)
		}
		return out
	}
	if len(ref) != n {
		panic("game: reference length differs from the number of actions")
	}
	sum := 0.0
	for _, v := range ref {
		if v < 0 || math.IsNaN(v) {
			panic("game: negative or NaN reference probability")
		}
		sum += v
	}
	if !(sum > 0) {
		panic("game: reference sums to zero")
	}
	for i, v := range ref {
		out[i] = v / sum
	}
	return out
}

// logSumExp returns log Σ_i w_i·exp(x_i) for weights w_i ≥ 0, computed
// stably by factoring out the largest exponent among positive weights.
// It returns −Inf when every weight is zero.
func logSumExp(x, w []float64) float64 {
	m := math.Inf(-1)
	for i, v := range x {
		if w[i] > 0 && v > m {
			m = v
		}
	}
	if math.IsInf(m, -1) {
		return m
	}
	s := 0.0
	for i, v := range x {
		if w[i] > 0 {
			s += w[i] * math.Exp(v-m)
		}
	}
	return m + math.Log(s)
}

// tilt writes dst_i ∝ w_i·exp(x_i), normalised to sum 1, and returns dst.
// The largest exponent is subtracted before exponentiating, and the sum
// divided out directly rather than through log-sum-exp, so huge |x_i|
// (tiny temperatures) lose no precision.
func tilt(dst, x, w []float64) []float64 {
	m := math.Inf(-1)
	for i, v := range x {
		if w[i] > 0 && v > m {
			m = v
		}
	}
	s := 0.0
	for i, v := range x {
		dst[i] = 0
		if w[i] > 0 {
			dst[i] = w[i] * math.Exp(v-m)
			s += dst[i]
		}
	}
	for i := range dst {
		dst[i] /= s
	}
	return dst
}
