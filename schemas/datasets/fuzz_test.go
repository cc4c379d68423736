package datasets

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecodePreferences feeds arbitrary bytes to every single-file decoder:
// it must not panic, and whatever it returns must keep the read's promises.
func FuzzDecodePreferences(f *testing.F) {
	single := []Format{HHRLHF, PandaLM, MTBench, LLMBar, AlpacaEval}
	seeds := map[string]Format{"hh": HHRLHF, "pandalm": PandaLM, "mtbench": MTBench,
		"llmbar": LLMBar, "alpaca": AlpacaEval}
	for dir, format := range seeds {
		files, _ := filepath.Glob(filepath.Join("testdata", dir, "*"))
		for _, name := range files {
			data, err := os.ReadFile(name)
			if err == nil {
				f.Add(byte(indexOf(single, format)), data)
			}
		}
	}
	f.Fuzz(func(t *testing.T, which byte, data []byte) {
		format := single[int(which)%len(single)]
		rows, err := DecodePreferences(bytes.NewReader(data), format, "")
		if err != nil {
			if errors.Is(err, ErrUnsupported) || errors.Is(err, ErrUnknownFormat) {
				t.Fatalf("%s: unexpected sentinel %v", format, err)
			}
			return
		}
		ids := map[string]bool{}
		for _, p := range rows {
			if ids[p.EventID] || p.Preference < 0 || p.Preference > 1 {
				t.Fatalf("%s: bad row %+v", format, p)
			}
			ids[p.EventID] = true
		}
	})
}

func indexOf(fs []Format, f Format) int {
	for i, g := range fs {
		if g == f {
			return i
		}
	}
	return -1
}
