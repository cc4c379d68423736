package learner

import (
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
)

// mlpShape describes the scorer network used for both players,
//
//	logit(x) = w2·tanh(W1ᵀx + b1) + b2,
//
// with input width in and hidden width hidden. Its parameters live in one
// flat slice laid out as [W1 (in×hidden, row-major) | b1 | w2 | b2], the
// layout gda.StackelbergGDA updates in place.
type mlpShape struct{ in, hidden int }

// size is the number of parameters.
func (s mlpShape) size() int { return s.in*s.hidden + 2*s.hidden + 1 }

// split views the four parameter blocks of p.
func (s mlpShape) split(p []float64) (w1, b1, w2, b2 []float64) {
	n := s.in * s.hidden
	return p[:n], p[n : n+s.hidden], p[n+s.hidden : n+2*s.hidden], p[n+2*s.hidden:]
}

// init fills p: W1 ~ N(0, 1/in), b1 = w2 = b2 = 0. A zero output layer
// makes every logit 0 at the start, so each policy starts exactly at its
// uniform reference.
func (s mlpShape) init(p []float64, rng *rand.Rand) {
	w1, _, _, _ := s.split(p)
	sd := 1 / math.Sqrt(float64(s.in))
	for i := range w1 {
		w1[i] = sd * rng.NormFloat64()
	}
}

// mlpPass holds the scratch buffers of a forward/backward pass over at most
// rows inputs. It is not safe for concurrent use; give each goroutine its
// own.
type mlpPass struct {
	shape mlpShape
	hid   []float64 // rows × hidden activations of the last forward
	dact  []float64 // rows × hidden, backward scratch
}

func newMLPPass(s mlpShape, rows int) *mlpPass {
	n := rows * s.hidden
	return &mlpPass{shape: s, hid: make([]float64, n), dact: make([]float64, n)}
}

// forward writes the logits of the n rows of x (n × in, row-major) into
// logits[:n], with parameters p, using gonum BLAS.
func (m *mlpPass) forward(p, x []float64, n int, logits []float64) {
	s := m.shape
	w1, b1, w2, b2 := s.split(p)
	m.grow(n)
	hid := m.hid[:n*s.hidden]
	for r := range n {
		copy(hid[r*s.hidden:(r+1)*s.hidden], b1)
	}
	blas64.Gemm(blas.NoTrans, blas.NoTrans, 1,
		general(n, s.in, x), general(s.in, s.hidden, w1), 1, general(n, s.hidden, hid))
	for i, a := range hid {
		hid[i] = math.Tanh(a)
	}
	for r := range n {
		logits[r] = b2[0]
	}
	blas64.Gemv(blas.NoTrans, 1, general(n, s.hidden, hid), vector(w2), 1, vector(logits[:n]))
}

// backward adds Σ_r g[r]·∂logit_r/∂p into grad, for the rows of the last
// forward call on the same x and p:
//
//	∂/∂w2 = hᵀg,  ∂/∂b2 = Σg,  δ = (g w2ᵀ) ⊙ (1 − h²),
//	∂/∂W1 = xᵀδ,  ∂/∂b1 = Σ_r δ_r
func (m *mlpPass) backward(p, x []float64, n int, g, grad []float64) {
	s := m.shape
	_, _, w2, _ := s.split(p)
	dw1, db1, dw2, db2 := s.split(grad)
	hid, dact := m.hid[:n*s.hidden], m.dact[:n*s.hidden]
	blas64.Gemv(blas.Trans, 1, general(n, s.hidden, hid), vector(g[:n]), 1, vector(dw2))
	for r := range n {
		db2[0] += g[r]
		row := dact[r*s.hidden : (r+1)*s.hidden]
		for j, h := range hid[r*s.hidden : (r+1)*s.hidden] {
			row[j] = g[r] * w2[j] * (1 - h*h)
			db1[j] += row[j]
		}
	}
	blas64.Gemm(blas.Trans, blas.NoTrans, 1,
		general(n, s.in, x), general(n, s.hidden, dact), 1, general(s.in, s.hidden, dw1))
}

// grow makes room for n rows.
func (m *mlpPass) grow(n int) {
	if need := n * m.shape.hidden; need > len(m.hid) {
		m.hid = make([]float64, need)
		m.dact = make([]float64, need)
	}
}

func general(r, c int, data []float64) blas64.General {
	return blas64.General{Rows: r, Cols: c, Stride: c, Data: data[:r*c]}
}

func vector(data []float64) blas64.Vector {
	return blas64.Vector{N: len(data), Inc: 1, Data: data}
}
