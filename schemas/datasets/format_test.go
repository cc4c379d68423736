package datasets

import (
	"bytes"
	"compress/gzip"
	"errors"
	"os"
	"strings"
	"testing"
)

func TestParseFormat(t *testing.T) {
	tests := []struct {
		in   string
		want Format
		err  error
	}{
		{"hh-rlhf", HHRLHF, nil},
		{"  MT-Bench ", MTBench, nil},
		{"vicuna-bench", VicunaBench, nil},
		{"hh_rlhf", "", ErrUnknownFormat},
		{"", "", ErrUnknownFormat},
	}
	for _, tt := range tests {
		got, err := ParseFormat(tt.in)
		if got != tt.want || !errors.Is(err, tt.err) {
			t.Errorf("ParseFormat(%q) = %q, %v; want %q, %v", tt.in, got, err, tt.want, tt.err)
		}
	}
	if n := len(Formats()); n != 7 {
		t.Errorf("Formats() has %d entries, want 7", n)
	}
	for _, f := range Formats() {
		if got, err := ParseFormat(string(f)); got != f || err != nil {
			t.Errorf("ParseFormat(%q) = %q, %v", f, got, err)
		}
	}
}

// TestDecodeMatchesLoad checks that DecodePreferences of a stream, plain
// or gzipped, gives the rows and ids LoadPreferences gives the file.
func TestDecodeMatchesLoad(t *testing.T) {
	data, err := os.ReadFile("testdata/hh/good.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	want, _, err := LoadPreferences(os.DirFS("testdata"), "hh/good.jsonl", HHRLHF)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := DecodePreferences(bytes.NewReader(data), HHRLHF, "")
	if err != nil {
		t.Fatal(err)
	}
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	zw.Write(data)
	zw.Close()
	gz, err := DecodePreferences(&zipped, HHRLHF, "")
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if plain[i].EventID != want[i].EventID || rowOf(plain[i]) != rowOf(want[i]) {
			t.Errorf("row %d: decode %+v, load %+v", i, plain[i], want[i])
		}
		if rowOf(gz[i]) != rowOf(want[i]) || !strings.HasPrefix(gz[i].EventID, "hh-rlhf/") {
			t.Errorf("row %d: gzipped decode %+v", i, gz[i])
		}
	}
	named, err := DecodePreferences(bytes.NewReader(data), HHRLHF, "mine")
	if err != nil || named[0].EventID != "hh-rlhf/mine/0" {
		t.Errorf("named source: %v, %v", named, err)
	}
}

func TestDecodeFolderFormatsUnsupported(t *testing.T) {
	for _, f := range []Format{Arena, VicunaBench} {
		if _, err := DecodePreferences(strings.NewReader("{}"), f, ""); !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s: error %v, want ErrUnsupported", f, err)
		}
	}
}

func TestSwappedIsBalanced(t *testing.T) {
	n := 0
	for i := range 10000 {
		if swapped(i) {
			n++
		}
	}
	if n < 4800 || n > 5200 {
		t.Errorf("%d of 10000 rows swapped, want about half", n)
	}
}
