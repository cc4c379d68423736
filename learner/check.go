package learner

import (
	"fmt"

	"github.com/slhf-dev/slhf/schemas"
)

// Check reports whether Learn can use ev, without touching the model. The
// schema decoder cannot know the learner's encoder, so this is where an
// event that is valid preference.v1 but unusable by this model is caught,
// before it reaches a batch: with the column encoder, both responses must
// carry embeddings of width Dim, and a prompt embedding, if present, too.
// The learn stage dead-letters a message with such a row instead of
// failing its step on every restart. Check is stricter than Learn, which
// also accepts a response without embedding when its prompt's candidate
// set already holds it: Check must not depend on state.
func (m *Model) Check(ev *schemas.Preference) error {
	if m.cfg.Encoder != EncoderColumn {
		return nil
	}
	for _, e := range []struct {
		what     string
		emb      []float32
		required bool
	}{
		{"prompt_embedding", ev.PromptEmbedding, false},
		{"embedding_a", ev.EmbeddingA, true},
		{"embedding_b", ev.EmbeddingB, true},
	} {
		if e.emb == nil && e.required {
			return fmt.Errorf("event %q: %s: %w", ev.EventID, e.what, ErrNoEmbedding)
		}
		if e.emb != nil && len(e.emb) != m.cfg.Dim {
			return fmt.Errorf("event %q: %w", ev.EventID,
				&DimensionError{What: e.what, Got: len(e.emb), Want: m.cfg.Dim})
		}
	}
	return nil
}
