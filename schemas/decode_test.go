package schemas

import (
	"errors"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/prometheus/client_golang/prometheus"
)

// TestFirstFailingRow checks that the reported row is the first bad one
// across record batches and across column-level and row-level checks.
func TestFirstFailingRow(t *testing.T) {
	nan := float32(math.NaN())
	both := func(f arrow.Field, b array.Builder, r int) bool {
		switch {
		case f.Name == "preference" && r == 6:
			b.(*array.Float32Builder).Append(nan) // row-level, later
		case f.Name == "event_id" && r == 5:
			b.AppendNull() // column-level, earlier
		default:
			return false
		}
		return true
	}
	s := reshape(PreferenceSchema(0), nullable("event_id"), nil)
	tests := []struct {
		name    string
		msg     []byte
		row     int
		reason  Reason
		field   string
		batches []int
	}{
		{"second batch", stream(t, PreferenceSchema(0),
			with("response_b", 4, setText("")), 3, 3), 4, ReasonEmptyText, "response_b", nil},
		{"column before row", stream(t, s, both, 4, 4), 5, ReasonMissingField, "event_id", nil},
		{"row before column", stream(t, s, func(f arrow.Field, b array.Builder, r int) bool {
			if f.Name == "event_id" && r == 6 {
				b.AppendNull()
				return true
			}
			return with("preference", 2, setF32(nan))(f, b, r)
		}, 8), 2, ReasonNaNPreference, "preference", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewDecoder(WithAllocator(checkedAlloc(t))).DecodePreferences(tt.msg)
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("err = %v", err)
			}
			if de.Row != tt.row || de.Reason != tt.reason || de.Field != tt.field {
				t.Errorf("got %v, want %s row %d field %s", de, tt.reason, tt.row, tt.field)
			}
		})
	}
}

func TestDecoderLimits(t *testing.T) {
	msgs, err := EncodePreferences(preferenceRows(t, 20, 0), 0)
	mustOne(t, msgs, err)
	msg, bomb := msgs[0], zstdBomb(t)
	tests := []struct {
		name string
		lim  Limits
		want Reason
		msg  []byte
	}{
		{"defaults accept", Limits{}, "", nil},
		{"message bytes", Limits{MaxMessageBytes: len(msg) - 1}, ReasonOversizedMessage, nil},
		{"exact message bytes", Limits{MaxMessageBytes: len(msg)}, "", nil},
		{"rows", Limits{MaxRows: 19}, ReasonTooManyRows, nil},
		{"text", Limits{MaxTextBytes: 100}, ReasonOversizedText, nil},
		{"time window", Limits{MaxTS: baseTS}, ReasonInvalidTimestamp, nil},
		// The bomb inflates 2 MiB of text out of 3 KB: within the default
		// budget of 8 MiB (then its text is too long), beyond 1 MiB.
		{"bomb in budget", Limits{}, ReasonOversizedText, bomb},
		{"bomb over budget", Limits{MinAllocation: 1 << 20}, ReasonOversizedAllocation, bomb},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDecoder(WithLimits(tt.lim), WithAllocator(checkedAlloc(t)))
			m := tt.msg
			if m == nil {
				m = msg
			}
			_, err := d.DecodePreferences(m)
			if got := ReasonOf(err); got != tt.want {
				t.Errorf("reason %q (%v), want %q", got, err, tt.want)
			}
			if tt.want == ReasonOversizedAllocation && !errors.Is(err, ErrAllocationBudget) {
				t.Errorf("err %v does not wrap ErrAllocationBudget", err)
			}
		})
	}
}

func TestZeroDecoder(t *testing.T) {
	msgs, err := EncodeResponses(responseRows(t, 3, 0), 0)
	mustOne(t, msgs, err)
	var d Decoder
	rows, err := d.DecodeResponses(msgs[0])
	if err != nil || len(rows) != 3 {
		t.Fatalf("zero Decoder: %d rows, %v", len(rows), err)
	}
	if got := d.Limits().MaxRows; got != DefaultMaxRows {
		t.Errorf("zero Decoder MaxRows = %d, want %d", got, DefaultMaxRows)
	}
}

func TestDecoderMetrics(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	d := NewDecoder(WithRegisterer(reg))
	NewDecoder(WithRegisterer(reg)) // a second decoder shares the counters
	msgs, err := EncodePreferences(preferenceRows(t, 7, 0), 0)
	mustOne(t, msgs, err)
	for i := 0; i < 2; i++ {
		if _, err := d.DecodePreferences(msgs[0]); err != nil {
			t.Fatal(err)
		}
	}
	d.DecodePreferences(msgs[0][:10])
	d.DecodeRefined(msgs[0])
	want := map[string]float64{
		`slhf_schemas_rejected_messages_total{kind="preference",reason="truncated_ipc"}`: 1,
		`slhf_schemas_rejected_messages_total{kind="refined",reason="wrong_schema"}`:     1,
		`slhf_schemas_decoded_rows_total{kind="preference"}`:                             14,
		`slhf_schemas_decoded_messages_total{kind="preference"}`:                         2,
	}
	got := gather(t, reg)
	if len(got) != len(want) {
		t.Errorf("series %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
}

// gather flattens the counters of reg into "name{labels}" -> value.
func gather(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, lp := range m.GetLabel() {
				labels = append(labels, lp.GetName()+`="`+lp.GetValue()+`"`)
			}
			out[mf.GetName()+"{"+strings.Join(labels, ",")+"}"] = m.GetCounter().GetValue()
		}
	}
	return out
}

// TestDecoderConcurrent runs one Decoder from several goroutines; run
// with -race.
func TestDecoderConcurrent(t *testing.T) {
	msgs, err := EncodePreferences(preferenceRows(t, 30, 4), 0)
	mustOne(t, msgs, err)
	d := NewDecoder(WithAllocator(checkedAlloc(t)))
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				rows, err := d.DecodePreferences(msgs[0])
				if err == nil && len(rows) != 30 {
					err = errors.New("wrong row count")
				}
				if err != nil {
					errs <- err
					return
				}
				if _, err := d.DecodePreferences(msgs[0][:len(msgs[0])-3]); err == nil {
					errs <- errors.New("truncated message accepted")
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestBudgetAllocator(t *testing.T) {
	mem := checkedAlloc(t)
	b := NewBudgetAllocator(mem, 1000)
	x := b.Allocate(600)
	x = b.Reallocate(900, x)
	b.Free(x)
	y := b.Allocate(50)
	_ = y
	func() {
		defer func() {
			p := recover()
			err, ok := p.(error)
			if !ok || !errors.Is(err, ErrAllocationBudget) {
				t.Errorf("panic %v, want ErrAllocationBudget", p)
			}
		}()
		b.Allocate(51) // 900 + 50 + 51 > 1000: frees do not refund
	}()
	if !b.Exceeded() {
		t.Error("Exceeded = false after a refusal")
	}
	if n := b.FreeAll(); n != 1 {
		t.Errorf("FreeAll freed %d buffers, want 1", n)
	}
}
