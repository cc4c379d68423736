package schemas

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// addCorpus seeds f with every good and bad corpus file.
func addCorpus(f *testing.F) {
	paths, _ := filepath.Glob("testdata/good/*.arrow")
	bad, _ := filepath.Glob("testdata/bad/*/*.arrow")
	for _, p := range append(paths, bad...) {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// fuzzDecode checks the decoder's contract on arbitrary bytes: no panic, a
// *DecodeError with a known reason on failure, no Arrow memory left
// behind, and on success rows that survive an encode/decode round trip.
func fuzzDecode[T any](t *testing.T, msg []byte,
	dec func(*Decoder, []byte) ([]T, error),
	enc func([]T, int, ...EncodeOption) ([][]byte, error)) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	d := NewDecoder(WithAllocator(mem))
	rows, err := dec(d, msg)
	if n := mem.CurrentAlloc(); n != 0 {
		t.Fatalf("%d bytes left allocated (err %v)", n, err)
	}
	if err != nil {
		var de *DecodeError
		if !errors.As(err, &de) || !slices.Contains(Reasons(), de.Reason) {
			t.Fatalf("error %v is not a *DecodeError with a known reason", err)
		}
		return
	}
	if len(rows) == 0 {
		t.Fatal("accepted a message without rows")
	}
	msgs, err := enc(rows, 64<<20, WithEncodeLimits(Limits{MaxRows: len(rows)}))
	if err != nil {
		t.Fatalf("accepted rows do not re-encode: %v", err)
	}
	back, err := dec(d, msgs[0])
	if err != nil || !reflect.DeepEqual(back, rows) {
		t.Fatalf("round trip changed the rows (err %v)", err)
	}
}

func FuzzDecodePreferences(f *testing.F) {
	addCorpus(f)
	f.Fuzz(func(t *testing.T, msg []byte) {
		fuzzDecode(t, msg, (*Decoder).DecodePreferences, EncodePreferences)
	})
}

func FuzzDecodeResponses(f *testing.F) {
	addCorpus(f)
	f.Fuzz(func(t *testing.T, msg []byte) {
		fuzzDecode(t, msg, (*Decoder).DecodeResponses, EncodeResponses)
	})
}

func FuzzDecodeRefined(f *testing.F) {
	addCorpus(f)
	f.Fuzz(func(t *testing.T, msg []byte) {
		fuzzDecode(t, msg, (*Decoder).DecodeRefined, EncodeRefined)
	})
}
