package schemas

import (
	"errors"
	"math"
	"reflect"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	t.Run("preference", func(t *testing.T) {
		for _, dim := range []int{0, 16} {
			rows := preferenceRows(t, 50, dim)
			got := roundTrip(t, rows, EncodePreferences, (*Decoder).DecodePreferences)
			if !reflect.DeepEqual(got, rows) {
				t.Errorf("dim %d: decoded rows differ from encoded rows", dim)
			}
		}
	})
	t.Run("response", func(t *testing.T) {
		rows := responseRows(t, 40, 8)
		got := roundTrip(t, rows, EncodeResponses, (*Decoder).DecodeResponses)
		if !reflect.DeepEqual(got, rows) {
			t.Errorf("decoded rows differ from encoded rows")
		}
	})
	t.Run("refined", func(t *testing.T) {
		rows := refinedRows(t, 30)
		got := roundTrip(t, rows, EncodeRefined, (*Decoder).DecodeRefined)
		if !reflect.DeepEqual(got, rows) {
			t.Errorf("decoded rows differ from encoded rows")
		}
	})
}

// roundTrip encodes rows into one message and decodes it with a
// leak-checked decoder.
func roundTrip[T any](t *testing.T, rows []T,
	enc func([]T, int, ...EncodeOption) ([][]byte, error),
	dec func(*Decoder, []byte) ([]T, error)) []T {
	t.Helper()
	msgs, err := enc(rows, 0, WithEncodeAllocator(checkedAlloc(t)))
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	if len(msgs) != 1 {
		t.Fatalf("encoded %d messages, want 1", len(msgs))
	}
	d := NewDecoder(WithAllocator(checkedAlloc(t)))
	got, err := dec(d, msgs[0])
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	return got
}

func TestEncodeSplitsUnderLimit(t *testing.T) {
	rows := preferenceRows(t, 1000, 0)
	whole, err := EncodePreferences(rows, 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("1,000 HH-RLHF rows in one message: %d bytes", len(whole[0]))

	for _, maxBytes := range []int{0, 256 << 10, 50 << 10} {
		limit := maxBytes
		if limit == 0 {
			limit = DefaultEncodeMaxBytes
		}
		msgs, err := EncodePreferences(rows, maxBytes, WithEncodeAllocator(checkedAlloc(t)))
		if err != nil {
			t.Fatalf("maxBytes %d: %v", maxBytes, err)
		}
		want := (len(whole[0]) + limit - 1) / limit
		if len(msgs) < want {
			t.Errorf("maxBytes %d: %d messages, need at least %d", maxBytes, len(msgs), want)
		}
		d := NewDecoder(WithAllocator(checkedAlloc(t)))
		var got []Preference
		for i, m := range msgs {
			if len(m) > limit {
				t.Errorf("maxBytes %d: message %d is %d bytes", maxBytes, i, len(m))
			}
			part, err := d.DecodePreferences(m)
			if err != nil {
				t.Fatalf("decode message %d: %v", i, err)
			}
			got = append(got, part...)
		}
		if !reflect.DeepEqual(got, rows) {
			t.Errorf("maxBytes %d: rows changed across %d messages", maxBytes, len(msgs))
		}
		t.Logf("maxBytes %d: %d messages", limit, len(msgs))
	}
}

func TestEncodeRowsLimit(t *testing.T) {
	rows := refinedRows(t, 25)
	msgs, err := EncodeRefined(rows, 0, WithEncodeLimits(Limits{MaxRows: 10}))
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 3 {
		t.Errorf("25 rows at 10 per message: %d messages, want 3", len(msgs))
	}
}

func TestEncodeRejects(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Preference)
		reason Reason
		field  string
	}{
		{"nan", func(p *Preference) { p.Preference = float32(math.NaN()) },
			ReasonNaNPreference, "preference"},
		{"range", func(p *Preference) { p.Preference = 1.01 }, ReasonPreferenceOutOfRange, "preference"},
		{"empty id", func(p *Preference) { p.EventID = "" }, ReasonEmptyEventID, "event_id"},
		{"empty text", func(p *Preference) { p.ResponseB = "" }, ReasonEmptyText, "response_b"},
		{"zero ts", func(p *Preference) { p.TS = p.TS.AddDate(-100, 0, 0) },
			ReasonInvalidTimestamp, "ts"},
		{"role", func(p *Preference) { p.RoleA = "boss" }, ReasonInvalidValue, "role_a"},
		{"dims", func(p *Preference) { p.EmbeddingA = []float32{1, 2}; p.EmbeddingB = []float32{1} },
			ReasonInvalidEmbedding, "embedding_b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows := preferenceRows(t, 5, 0)
			tt.mutate(&rows[3])
			_, err := EncodePreferences(rows, 0)
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("err = %v, want a *DecodeError", err)
			}
			if de.Reason != tt.reason || de.Row != 3 || de.Field != tt.field {
				t.Errorf("got %s row %d field %s, want %s row 3 field %s",
					de.Reason, de.Row, de.Field, tt.reason, tt.field)
			}
		})
	}
	t.Run("row too large", func(t *testing.T) {
		_, err := EncodePreferences(preferenceRows(t, 3, 0), 2000)
		if !errors.Is(err, ErrRowTooLarge) {
			t.Errorf("err = %v, want ErrRowTooLarge", err)
		}
	})
}
