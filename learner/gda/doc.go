// Package gda trains the two SLHF policies with StackelbergGDA, the
// two-timescale gradient descent-ascent of the paper "Stackelberg Learning
// from Human Feedback" (DESIGN §3).
//
// Per context the game is the regularised objective of paper eq. 5,
//
//	f = Σ_y π(y)·[Σ_y' ω(y'|y)·p(y ≻ y') + τ_F·KL(ω(·|y)‖ω_ref(·|y))] − τ_L·KL(π‖π_ref),
//
// where the Leader π = softmax(s) ascends f and the Follower
// ω(·|y) = softmax(t_y·) descends it. [Exact] computes ∂f/∂s and ∂f/∂t in
// closed form over a candidate set; [Sampled] and [SampledBatch] estimate
// them from observed pairs by REINFORCE with a baseline and importance
// weights, as in the authors' code. [StackelbergGDA] applies both
// gradients with two Adam optimisers ([Adam]), the Follower κ times
// faster; [Tabular] is the one-logit-per-action parametrisation used to
// check convergence against the closed forms of package game. [Chain]
// runs the Follower at inference time, refining an answer round by round.
//
// Logits, gradients and probabilities are float64 slices owned by the
// caller; functions write into destinations the caller passes and keep no
// reference to them. Nothing here is safe for concurrent use unless its
// documentation says so.
package gda
