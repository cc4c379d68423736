package schemas

import (
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestDecodePyarrowFixture decodes a stream written by pyarrow with its
// defaults (every field nullable, required ones included), as a Python
// producer would write it; testdata/pyarrow/check.py wrote it.
func TestDecodePyarrowFixture(t *testing.T) {
	msg, err := os.ReadFile("testdata/pyarrow/preference-from-pyarrow.arrow")
	if err != nil {
		t.Fatal(err)
	}
	rows, err := NewDecoder(WithAllocator(checkedAlloc(t))).DecodePreferences(msg)
	if err != nil {
		t.Fatal(err)
	}
	want := []Preference{
		{
			EventID: "py-1", TS: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
			Prompt: "Human: hi\n\nAssistant:", ResponseA: "Hello! How can I help?",
			ResponseB: "hi", Preference: 0.75, ModelA: "model-x", ProbA: f32p(0.25),
			EmbeddingA: []float32{0.1, 0.2, 0.3},
		},
		{
			EventID: "py-2", TS: time.Date(2026, 1, 1, 0, 0, 1, 0, time.UTC),
			Prompt: "Human: name a colour\n\nAssistant:", ResponseA: "Blue.",
			ResponseB: "Ultramarine, a deep blue.", Preference: 0.5,
		},
	}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("rows\n%+v\nwant\n%+v", rows, want)
	}
}

// TestPyarrowReadsFixtures has pyarrow open the Go-written good corpus
// with pa.ipc.open_stream. It needs SLHF_PYTHON, a Python with pyarrow.
func TestPyarrowReadsFixtures(t *testing.T) {
	python := os.Getenv("SLHF_PYTHON")
	if python == "" {
		t.Skip("set SLHF_PYTHON to a python with pyarrow installed")
	}
	for _, c := range []struct {
		file, kind, rows string
	}{
		{"testdata/good/preference--hh-10rows.arrow", PreferenceName, "10"},
		{"testdata/good/preference--two-batches.arrow", PreferenceName, "7"},
		{"testdata/good/response--candidates.arrow", ResponseName, "5"},
		{"testdata/good/refined--basic.arrow", RefinedName, "5"},
	} {
		out, err := exec.Command(python, "testdata/pyarrow/check.py", "read",
			c.file, c.kind, c.rows).CombinedOutput()
		if err != nil || !strings.HasPrefix(string(out), "ok ") {
			t.Errorf("%s: %v\n%s", c.file, err, out)
		}
	}
}
