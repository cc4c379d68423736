package learner

import "errors"

// backend turns upstream logit gradients into parameter gradients for one
// scorer: it adds Σ_r up[r]·∂logit_r/∂p over the n rows of x into grad.
type backend interface {
	accumulate(x []float64, n int, up, grad []float64) error
}

// plainBackend is the hand-written forward/backward pass.
type plainBackend struct {
	pass   *mlpPass
	params []float64
}

func (b plainBackend) accumulate(x []float64, n int, up, grad []float64) error {
	logits := make([]float64, n)
	b.pass.forward(b.params, x, n, logits)
	b.pass.backward(b.params, x, n, up, grad)
	return nil
}

// packer gathers the rows of several contexts into one padded block and
// hands full blocks to a backend, so the fixed-size gorgonia graph runs a
// few times per batch instead of once per context.
type packer struct {
	be    backend
	width int
	rows  int       // block capacity in rows
	x     []float64 // rows × width
	up    []float64 // rows
	n     int       // rows filled
	grad  []float64 // accumulated parameter gradient
}

func newPacker(be backend, width, rows, nParams int) *packer {
	return &packer{be: be, width: width, rows: rows, x: make([]float64, rows*width),
		up: make([]float64, rows), grad: make([]float64, nParams)}
}

// add queues n rows of x with upstream gradients up; n must be ≤ rows.
func (p *packer) add(x []float64, n int, up []float64) error {
	if p.n+n > p.rows {
		if err := p.flush(); err != nil {
			return err
		}
	}
	copy(p.x[p.n*p.width:], x[:n*p.width])
	copy(p.up[p.n:], up[:n])
	p.n += n
	return nil
}

// flush runs the backend on the queued rows.
func (p *packer) flush() error {
	if p.n == 0 {
		return nil
	}
	err := p.be.accumulate(p.x, p.n, p.up, p.grad)
	p.n = 0
	return err
}

// reset zeroes the accumulated gradient.
func (p *packer) reset() { clear(p.grad) }

// gradients holds one packer per player and the compiled graphs behind
// them, if any.
type gradients struct {
	leader, follower *packer
	graphs           []*graphScorer
}

// Block sizes, in contexts of MaxCandidates candidates.
const (
	leaderBlockContexts   = 8
	followerBlockContexts = 2
)

func newGradients(m *Model) (*gradients, error) {
	c := m.cfg.MaxCandidates
	lRows, fRows := leaderBlockContexts*c, followerBlockContexts*c*c
	g := &gradients{}
	var lb, fb backend
	switch m.cfg.Autodiff {
	case AutodiffPlain:
		lb = plainBackend{pass: newMLPPass(m.leader, lRows), params: m.theta}
		fb = plainBackend{pass: newMLPPass(m.follower, fRows), params: m.phi}
	default:
		lg, err := newGraphScorer(m.leader, lRows, m.theta)
		if err != nil {
			return nil, err
		}
		fg, err := newGraphScorer(m.follower, fRows, m.phi)
		if err != nil {
			return nil, errors.Join(err, lg.Close())
		}
		g.graphs = []*graphScorer{lg, fg}
		lb, fb = lg, fg
	}
	g.leader = newPacker(lb, m.leader.in, lRows, len(m.theta))
	g.follower = newPacker(fb, m.follower.in, fRows, len(m.phi))
	return g, nil
}

func (g *gradients) close() error {
	var errs []error
	for _, gs := range g.graphs {
		errs = append(errs, gs.Close())
	}
	return errors.Join(errs...)
}
