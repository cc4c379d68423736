package ingest

import "testing"

// TestPoisonGuardCountsCrashes simulates processes that die while a
// message is in flight: each "process" opens the guard, begins the
// message and never ends it.
func TestPoisonGuardCountsCrashes(t *testing.T) {
	dir := t.TempDir()
	for crash := range 2 {
		g, err := OpenPoisonGuard(dir, 2)
		if err != nil {
			t.Fatal(err)
		}
		if got := g.Crashes("fb", 1, 42); got != crash {
			t.Fatalf("after %d crashes, Crashes = %d", crash, got)
		}
		if g.Poisoned("fb", 1, 42) {
			t.Fatalf("poisoned after %d crashes, limit 2", crash)
		}
		if err := g.Begin("fb", 1, 42); err != nil {
			t.Fatal(err)
		}
		g.Close() // the process dies here, mark still set
	}
	g, err := OpenPoisonGuard(dir, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if !g.Poisoned("fb", 1, 42) {
		t.Fatalf("not poisoned after 2 crashes (count %d)", g.Crashes("fb", 1, 42))
	}
	if g.Poisoned("fb", 1, 43) || g.Poisoned("fb", 0, 42) {
		t.Fatal("other positions must not be poisoned")
	}
	// Handling the message (dead-lettering it) clears its record.
	if err := g.End("fb", 1, 42); err != nil {
		t.Fatal(err)
	}
	if g.Poisoned("fb", 1, 42) {
		t.Fatal("still poisoned after End")
	}
}

func TestPoisonGuardCleanExitLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	g, err := OpenPoisonGuard(dir, 1)
	if err != nil {
		t.Fatal(err)
	}
	for off := range int64(5) {
		if err := g.Begin("fb", 0, off); err != nil {
			t.Fatal(err)
		}
		if err := g.End("fb", 0, off); err != nil {
			t.Fatal(err)
		}
	}
	g.Close()
	g, err = OpenPoisonGuard(dir, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	for off := range int64(5) {
		if g.Crashes("fb", 0, off) != 0 {
			t.Fatalf("offset %d counted a crash after clean ends", off)
		}
	}
}
