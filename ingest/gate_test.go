package ingest

import (
	"context"
	"errors"
	"strconv"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

type reasonErr string

func (r reasonErr) Error() string { return string(r) }

// decodeInts is a toy decoder: "n" decodes to n ones, "panic" panics,
// anything else fails with reason "not_a_number".
func decodeInts(b []byte) ([]int, error) {
	if string(b) == "panic" {
		panic("decoder bug")
	}
	n, err := strconv.Atoi(string(b))
	if err != nil {
		return nil, reasonErr("not_a_number")
	}
	return make([]int, n), nil
}

func reasonOfToy(err error) string {
	var r reasonErr
	if errors.As(err, &r) {
		return string(r)
	}
	return ""
}

type collect struct{ got []Rejection }

func (c *collect) Reject(_ context.Context, r Rejection) error {
	c.got = append(c.got, r)
	return nil
}

func TestGate(t *testing.T) {
	reg := prometheus.NewRegistry()
	var dl collect
	g := NewGate(decodeInts, reasonOfToy, &dl, WithRegisterer(reg))
	cases := []struct {
		value  string
		rows   int
		ok     bool
		reason string
	}{
		{"3", 3, true, ""},
		{"x", 0, false, "not_a_number"},
		{"panic", 0, false, ReasonDecoder},
		{"0", 0, true, ""},
	}
	for i, c := range cases {
		m := Message{Topic: "t", Partition: 0, Offset: int64(i), Value: []byte(c.value)}
		rows, ok, err := g.Admit(context.Background(), m)
		if err != nil {
			t.Fatalf("%q: %v", c.value, err)
		}
		if ok != c.ok || len(rows) != c.rows {
			t.Errorf("%q: ok=%v rows=%d, want %v %d", c.value, ok, len(rows), c.ok, c.rows)
		}
		if !c.ok {
			last := dl.got[len(dl.got)-1]
			if last.Reason != c.reason || last.Msg.Offset != int64(i) {
				t.Errorf("%q: rejected as %q at %d, want %q at %d",
					c.value, last.Reason, last.Msg.Offset, c.reason, i)
			}
		}
	}
	if got := testutil.ToFloat64(g.metrics.rejected.WithLabelValues("not_a_number")); got != 1 {
		t.Errorf("dead-lettered{not_a_number} = %v, want 1", got)
	}
	if got := testutil.ToFloat64(g.metrics.consumed.WithLabelValues("t")); got != 4 {
		t.Errorf("consumed = %v, want 4", got)
	}
	// A second gate on the same registry shares the series.
	NewGate(decodeInts, reasonOfToy, &dl, WithRegisterer(reg))
}

func TestGateSkipsPoison(t *testing.T) {
	dir := t.TempDir()
	for range 2 { // two deaths with offset 7 in flight
		g, _ := OpenPoisonGuard(dir, 2)
		g.Begin("t", 0, 7)
		g.Close()
	}
	guard, err := OpenPoisonGuard(dir, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer guard.Close()
	decoded := 0
	decode := func(b []byte) ([]int, error) { decoded++; return decodeInts(b) }
	var dl collect
	g := NewGate(decode, reasonOfToy, &dl, WithPoisonGuard(guard))
	_, ok, err := g.Admit(context.Background(), Message{Topic: "t", Offset: 7, Value: []byte("1")})
	if err != nil || ok {
		t.Fatalf("Admit = ok %v, err %v; want rejected", ok, err)
	}
	if decoded != 0 {
		t.Fatal("a poison message must not be decoded")
	}
	if len(dl.got) != 1 || dl.got[0].Reason != ReasonPoison {
		t.Fatalf("rejections = %+v, want one %s", dl.got, ReasonPoison)
	}
	// The next message decodes normally.
	if _, ok, _ := g.Admit(context.Background(), Message{Topic: "t", Offset: 8, Value: []byte("1")}); !ok {
		t.Fatal("message after the poison one was not admitted")
	}
}

func TestGateRejectFailureIsAnError(t *testing.T) {
	fail := RejecterFunc(func(context.Context, Rejection) error { return errors.New("broker down") })
	g := NewGate(decodeInts, reasonOfToy, fail)
	_, ok, err := g.Admit(context.Background(), Message{Topic: "t", Value: []byte("x")})
	if err == nil || ok {
		t.Fatalf("Admit = ok %v, err %v; a failed dead-letter write must be an error", ok, err)
	}
}
