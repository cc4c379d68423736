package learner

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// graphScorer is the gorgonia form of the scorer network. The expression
// graph is compiled once for a fixed number of rows; every run binds new
// inputs by writing into the backing arrays of the input tensors (a graph
// rebuilt per step leaked ~340 KB a step). The weight tensors share their
// backing arrays with the flat parameter slice that gda updates in place,
// so no copy is made in either direction.
//
// The graph computes L = Σ_r logit_r·G_r, where G holds the upstream
// ∂f/∂logit from package gda, and gorgonia's symbolic gradient of L is
// exactly the parameter gradient Σ_r G_r·∂logit_r/∂p. Padding rows carry
// x = 0 and G = 0 and so add nothing.
//
// Not safe for concurrent use.
type graphScorer struct {
	shape mlpShape
	rows  int
	x, g  []float64 // backing arrays of the two input tensors
	vm    G.VM
	grads G.Nodes // ∂L/∂W1, ∂L/∂b1, ∂L/∂w2, ∂L/∂b2
}

// newGraphScorer builds and compiles the graph for rows padded rows over
// the parameter slice params, which must outlive the scorer and must not
// be reallocated (only written in place).
func newGraphScorer(s mlpShape, rows int, params []float64) (*graphScorer, error) {
	gs := &graphScorer{shape: s, rows: rows,
		x: make([]float64, rows*s.in), g: make([]float64, rows)}
	g := G.NewGraph()
	w1, b1, w2, b2 := s.split(params)
	mat := func(name string, r, c int, back []float64) *G.Node {
		t := tensor.New(tensor.WithShape(r, c), tensor.WithBacking(back))
		return G.NewMatrix(g, tensor.Float64, G.WithShape(r, c), G.WithName(name), G.WithValue(t))
	}
	x := mat("x", rows, s.in, gs.x)
	up := mat("upstream", rows, 1, gs.g)
	params4 := G.Nodes{mat("w1", s.in, s.hidden, w1), mat("b1", 1, s.hidden, b1),
		mat("w2", s.hidden, 1, w2), mat("b2", 1, 1, b2)}
	loss, err := buildLoss(x, up, params4)
	if err != nil {
		return nil, fmt.Errorf("build scorer graph: %w", err)
	}
	if gs.grads, err = G.Grad(loss, params4...); err != nil {
		return nil, fmt.Errorf("differentiate scorer graph: %w", err)
	}
	gs.vm = G.NewTapeMachine(g)
	return gs, nil
}

// buildLoss wires L = Σ (tanh(x·W1 + b1)·w2 + b2) ⊙ upstream.
func buildLoss(x, up *G.Node, p G.Nodes) (*G.Node, error) {
	xw, err := G.Mul(x, p[0])
	if err != nil {
		return nil, err
	}
	pre, err := G.BroadcastAdd(xw, p[1], nil, []byte{0})
	if err != nil {
		return nil, err
	}
	h, err := G.Tanh(pre)
	if err != nil {
		return nil, err
	}
	hw, err := G.Mul(h, p[2])
	if err != nil {
		return nil, err
	}
	logits, err := G.BroadcastAdd(hw, p[3], nil, []byte{0})
	if err != nil {
		return nil, err
	}
	prod, err := G.HadamardProd(logits, up)
	if err != nil {
		return nil, err
	}
	return G.Sum(prod)
}

// accumulate adds Σ_r up[r]·∂logit_r/∂p over the n ≤ rows rows of x into
// grad (laid out like the parameters).
func (gs *graphScorer) accumulate(x []float64, n int, up, grad []float64) error {
	copy(gs.x, x[:n*gs.shape.in])
	clear(gs.x[n*gs.shape.in:])
	copy(gs.g, up[:n])
	clear(gs.g[n:])
	defer gs.vm.Reset()
	if err := gs.vm.RunAll(); err != nil {
		return fmt.Errorf("run scorer graph: %w", err)
	}
	off := 0
	for _, gn := range gs.grads {
		d := gn.Value().Data().([]float64)
		for i, v := range d {
			grad[off+i] += v
		}
		off += len(d)
	}
	return nil
}

// Close releases the tape machine.
func (gs *graphScorer) Close() error { return gs.vm.Close() }
