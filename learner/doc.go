// Package learner owns slhf's mathematics and model state: the feature
// encoders, the preference model, the Leader and Follower scorers and the
// online StackelbergGDA loop that trains them from preference events.
//
// The service drives one [Model] from a single goroutine: it calls
// [Model.Learn] with micro-batches of validated events and publishes
// [Model.Snapshot] values, which refine workers read concurrently. A
// snapshot owns copies of every weight it uses, so inference never touches
// learner state.
//
// The policies are learned tilts of the candidate generators (DESIGN §2):
//
//	π_θ(y | x)     = softmax over y ∈ C(x) of s_θ(x, y)
//	ω_φ(y' | x, y) = softmax over y' ∈ R(x, y) of t_φ(x, y, y')
//
// where s_θ and t_φ are one-hidden-layer tanh networks over feature vectors
// and R(x, y) = C(x), so that "keep y" is always a choice. By default t_φ
// also reads the preference model's p(y ≻ y' | x) of each pair
// (Config.FollowerPayoffInput), as data: a payoff-informed refinement
// policy whose best response, a logit linear in that payoff, it can
// represent on prompts it never saw. Their gradients
// come from package gda as ∂f/∂logits and are turned into parameter
// gradients here, by gorgonia autodiff or by a hand-written backward pass.
package learner

import (
	"errors"
	"fmt"
)

// Sentinel errors. Wrapped errors carry more detail; compare with errors.Is.
var (
	// ErrNoEmbedding is returned by the column encoder when a record
	// carries no precomputed embedding for a text it must encode.
	ErrNoEmbedding = errors.New("record carries no embedding")

	// ErrFingerprint is returned by Model.Restore when a checkpoint was
	// written by a model whose Config.Fingerprint differs.
	ErrFingerprint = errors.New("config fingerprint mismatch")

	// ErrCheckpoint is returned by Model.Restore when a tensor or metadata
	// entry is missing or has the wrong size.
	ErrCheckpoint = errors.New("malformed checkpoint")
)

// DimensionError reports a vector whose length is not the one expected,
// for example an embedding column of the wrong width or a checkpoint
// tensor of the wrong size.
type DimensionError struct {
	What      string // what was measured, e.g. "embedding_a"
	Got, Want int
}

// Error implements error.
func (e *DimensionError) Error() string {
	return fmt.Sprintf("%s: got dimension %d, want %d", e.What, e.Got, e.Want)
}
