package learner

import (
	"errors"
	"math"
	"testing"
)

func TestHashEncoder(t *testing.T) {
	e := HashEncoder{D: 256}
	enc := func(s string) []float64 {
		v := make([]float64, e.D)
		if err := e.Encode(v, s, nil); err != nil {
			t.Fatal(err)
		}
		return v
	}
	base := enc("The quick brown fox jumps over the lazy dog.")
	if n := dot(base, base); math.Abs(n-1) > 1e-12 {
		t.Fatalf("squared norm %v, want 1", n)
	}
	if got := enc("The quick brown fox jumps over the lazy dog."); !equal(got, base) {
		t.Fatal("encoding is not deterministic")
	}
	if got := enc("THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG."); !equal(got, base) {
		t.Fatal("encoding is not case-insensitive")
	}
	if got := enc(""); dot(got, got) != 0 {
		t.Fatal("empty text is not the zero vector")
	}
	near := dot(base, enc("The quick brown fox jumped over the lazy dogs."))
	far := dot(base, enc("Photosynthesis converts light into chemical energy."))
	if near < 0.7 || math.Abs(far) > 0.3 {
		t.Fatalf("cosine to a paraphrase %.3f (want > 0.7), to an unrelated text %.3f (want |·| < 0.3)",
			near, far)
	}
}

func TestColumnEncoder(t *testing.T) {
	e := ColumnEncoder{D: 3}
	tests := []struct {
		name string
		emb  []float32
		want []float64
		err  error
	}{
		{"normalised", []float32{3, 0, 4}, []float64{0.6, 0, 0.8}, nil},
		{"zero stays zero", []float32{0, 0, 0}, []float64{0, 0, 0}, nil},
		{"missing", nil, nil, ErrNoEmbedding},
		{"wrong width", []float32{1, 2}, nil, &DimensionError{What: "embedding", Got: 2, Want: 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := make([]float64, 3)
			err := e.Encode(v, "ignored", tt.emb)
			var de *DimensionError
			switch {
			case tt.err == nil && err != nil:
				t.Fatalf("error %v", err)
			case errors.As(tt.err, &de):
				var got *DimensionError
				if !errors.As(err, &got) || *got != *de {
					t.Fatalf("error %v, want %v", err, tt.err)
				}
			case tt.err != nil && !errors.Is(err, tt.err):
				t.Fatalf("error %v, want %v", err, tt.err)
			case tt.err == nil:
				assertClose(t, "embedding", v, tt.want, 1e-7)
			}
		})
	}
}

func TestScalarFeatures(t *testing.T) {
	f := featurizer{enc: HashEncoder{D: 16}}
	p, err := f.prompt("Name three primary colours.", nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		text      string
		truncated float64
		overlap   float64
		length    float64
	}{
		{"finished", "Red, blue and yellow.", 0, 0, math.Log1p(21) / 8},
		{"cut off", "The three primary colours are red, blue and", 1, 3.0 / 8, math.Log1p(43) / 8},
		{"quoted end", `He said "red."`, 0, 0, math.Log1p(14) / 8},
		{"trailing space", "Colours: red, blue, yellow!  \n", 0, 1.0 / 4, math.Log1p(30) / 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			z := make([]float64, f.width())
			if err := f.response(z, &p, tt.text, nil); err != nil {
				t.Fatal(err)
			}
			s := z[16:]
			if s[scalarTruncated] != tt.truncated {
				t.Errorf("truncated = %v, want %v", s[scalarTruncated], tt.truncated)
			}
			if math.Abs(s[scalarOverlap]-tt.overlap) > 1e-12 {
				t.Errorf("overlap = %v, want %v", s[scalarOverlap], tt.overlap)
			}
			if math.Abs(s[scalarLength]-tt.length) > 1e-12 {
				t.Errorf("length = %v, want %v", s[scalarLength], tt.length)
			}
		})
	}
}

func TestFollowerFeatures(t *testing.T) {
	z, z2 := []float64{1, 2}, []float64{4, 8}
	dst := make([]float64, 5)
	follower(dst, z, z2, false)
	assertClose(t, "move", dst, []float64{4, 8, 3, 6, 0}, 0)
	follower(dst, z, z, true)
	assertClose(t, "keep", dst, []float64{1, 2, 0, 0, 1}, 0)
}

// FuzzHashEncoder: any text encodes without panicking to a finite vector
// of norm 0 or 1.
func FuzzHashEncoder(f *testing.F) {
	for _, s := range []string{"", "a", "ab", "héllo wörld", "\xff\xfe", "日本語のテキスト"} {
		f.Add(s)
	}
	e := HashEncoder{D: 31}
	v := make([]float64, 31)
	f.Fuzz(func(t *testing.T, s string) {
		if err := e.Encode(v, s, nil); err != nil {
			t.Fatal(err)
		}
		n := dot(v, v)
		if math.IsNaN(n) || n != 0 && math.Abs(n-1) > 1e-9 {
			t.Fatalf("squared norm %v", n)
		}
	})
}

func equal(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
