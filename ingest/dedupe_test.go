package ingest

import (
	"fmt"
	"testing"
)

func TestDedupe(t *testing.T) {
	d := NewDedupe(3)
	steps := []struct {
		id   string
		want bool
	}{
		{"a", true}, {"b", true}, {"a", false}, {"c", true},
		{"d", true},  // evicts a
		{"a", true},  // forgotten, so new again; evicts b
		{"c", false}, // still remembered
		{"b", true},
	}
	for i, s := range steps {
		if got := d.Add(s.id); got != s.want {
			t.Fatalf("step %d: Add(%q) = %v, want %v", i, s.id, got, s.want)
		}
	}
	if d.Len() != 3 {
		t.Fatalf("Len = %d, want 3", d.Len())
	}
}

func TestDedupeStateRoundTrip(t *testing.T) {
	d := NewDedupe(100)
	for i := range 150 {
		d.Add(fmt.Sprint("e", i))
	}
	text, err := d.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	r := NewDedupe(100)
	if err := r.UnmarshalText(text); err != nil {
		t.Fatal(err)
	}
	// The restored set must make the same decisions, evictions included.
	for i := range 200 {
		id := fmt.Sprint("e", (i*7)%220)
		if a, b := d.Add(id), r.Add(id); a != b {
			t.Fatalf("after restore, Add(%q) = %v, original says %v", id, b, a)
		}
	}
}

func TestDedupeUnmarshalRejectsGarbage(t *testing.T) {
	d := NewDedupe(4)
	for _, bad := range []string{"!!!", "AAAA"} { // not base64; 3 bytes
		if err := d.UnmarshalText([]byte(bad)); err == nil {
			t.Errorf("UnmarshalText(%q) succeeded", bad)
		}
	}
}
