package gda

import "math"

// Adam is the Adam optimiser (Kingma & Ba 2015) over one flat parameter
// slice. Its moments and step count are exported so a checkpoint can save
// and restore them exactly. It is not safe for concurrent use.
type Adam struct {
	// LR is the step size, Beta1 and Beta2 the moment decays, Eps the
	// denominator guard.
	LR, Beta1, Beta2, Eps float64
	// M and V are the first and second moment estimates, one per
	// parameter; T is the number of updates applied (for bias
	// correction).
	M, V []float64
	T    int64
}

// NewAdam returns an Adam for n parameters with zero moments.
func NewAdam(n int, lr, beta1, beta2, eps float64) *Adam {
	return &Adam{LR: lr, Beta1: beta1, Beta2: beta2, Eps: eps, M: make([]float64, n), V: make([]float64, n)}
}

// Descend applies one update that decreases a loss whose gradient is
// scale·grad, in place on x:
//
//	m ← β1·m + (1 − β1)·g,  v ← β2·v + (1 − β2)·g²,  g = scale·grad
//	x ← x − LR · m̂ / (√v̂ + ε),  m̂ = m/(1 − β1ᵗ), v̂ = v/(1 − β2ᵗ)
//
// A negative scale ascends. It panics if x, grad and the moments differ
// in length.
func (a *Adam) Descend(x, grad []float64, scale float64) {
	if len(x) != len(a.M) || len(grad) != len(a.M) {
		panic("gda: adam: parameter, gradient and moment lengths differ")
	}
	a.T++
	c1 := 1 - math.Pow(a.Beta1, float64(a.T))
	c2 := 1 - math.Pow(a.Beta2, float64(a.T))
	for i, g0 := range grad {
		g := scale * g0
		a.M[i] = a.Beta1*a.M[i] + (1-a.Beta1)*g
		a.V[i] = a.Beta2*a.V[i] + (1-a.Beta2)*g*g
		x[i] -= a.LR * (a.M[i] / c1) / (math.Sqrt(a.V[i]/c2) + a.Eps)
	}
}
