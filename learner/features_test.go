package learner

import (
	"math"
	"testing"
)

func TestResponseScalars(t *testing.T) {
	tests := []struct {
		name       string
		prompt     string
		text       string
		repetition float64
		coverage   float64
		refusal    float64
	}{
		{"plain", "Name two colours.", "Red and blue.", 0, 0, 0},
		{"covers", "Name two colours.", "Two colours: red, blue.", 0, 2.0 / 3, 0},
		// bigrams: a b, b a, a b, b a, a b → three repeat an earlier one
		{"loop", "Say it.", "a b a b a b", 3.0 / 5, 0, 0},
		{"refusal", "How do I pick a lock?", "I’m sorry, I can’t help.", 0, 1.0 / 6, 1},
		{"one word", "Hi", "Hello", 0, 0, 0},
	}
	f := featurizer{enc: HashEncoder{D: 16}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := f.prompt(tt.prompt, nil)
			if err != nil {
				t.Fatal(err)
			}
			z := make([]float64, f.width())
			if err := f.response(z, &p, tt.text, nil); err != nil {
				t.Fatal(err)
			}
			s := z[16 : 16+numScalars]
			for _, c := range []struct {
				name      string
				got, want float64
			}{
				{"repetition", s[scalarRepetition], tt.repetition},
				{"coverage", s[scalarCoverage], tt.coverage},
				{"refusal", s[scalarRefusal], tt.refusal},
			} {
				if math.Abs(c.got-c.want) > 1e-12 {
					t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
				}
			}
			cross := z[16+numScalars:]
			for i, g := range p.desc {
				for j, v := range s {
					if cross[i*numScalars+j] != g*v {
						t.Fatalf("interaction (%d, %d) = %v, want %v", i, j,
							cross[i*numScalars+j], g*v)
					}
				}
			}
		})
	}
}

func TestPromptDescriptors(t *testing.T) {
	tests := []struct {
		name            string
		prompt          string
		turns, question float64
	}{
		{"instruction", "Write a haiku about rain.", 0, 0},
		{"question", "Why is the sky blue?  \n", 0, 1},
		{"chat", "Human: hi\n\nAssistant: hello\n\nHuman: how are you?", 3.0 / 8, 1},
		{"not a tag", "note: lower case\nA very long speaker name: no\nTime 10:30", 0, 0},
	}
	f := featurizer{enc: HashEncoder{D: 8}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := f.prompt(tt.prompt, nil)
			if err != nil {
				t.Fatal(err)
			}
			if p.desc[promptTurns] != tt.turns || p.desc[promptQuestion] != tt.question {
				t.Fatalf("turns, question = %v, %v; want %v, %v",
					p.desc[promptTurns], p.desc[promptQuestion], tt.turns, tt.question)
			}
			if want := math.Log1p(float64(len([]rune(tt.prompt)))) / 8; p.desc[promptLength] != want {
				t.Fatalf("length = %v, want %v", p.desc[promptLength], want)
			}
		})
	}
}
