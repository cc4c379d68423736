package schemas

import (
	"strings"
	"testing"
)

// BenchmarkDecodePreferences decodes one message of 1,000 rows per
// iteration and reports rows/s: "hh" is HH-RLHF as is (real text, ~0.97
// MB), "hh-x3" the same with every text three times over (~2.9 MB, the
// size the design measured for its batches).
func BenchmarkDecodePreferences(b *testing.B) {
	b.Run("hh", func(b *testing.B) { benchDecode(b, 1) })
	b.Run("hh-x3", func(b *testing.B) { benchDecode(b, 3) })
}

func benchDecode(b *testing.B, repeat int) {
	rows := preferenceRows(b, 1000, 0)
	for i := range rows {
		r := &rows[i]
		r.Prompt = strings.Repeat(r.Prompt, repeat)
		r.ResponseA = strings.Repeat(r.ResponseA, repeat)
		r.ResponseB = strings.Repeat(r.ResponseB, repeat)
	}
	msgs, err := EncodePreferences(rows, 8<<20)
	if err != nil || len(msgs) != 1 {
		b.Fatalf("encode: %d messages, %v", len(msgs), err)
	}
	d := NewDecoder(WithLimits(Limits{MaxMessageBytes: 8 << 20}))
	b.SetBytes(int64(len(msgs[0])))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.DecodePreferences(msgs[0]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*1000/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkEncodePreferences encodes 1,000 HH-RLHF rows per iteration,
// split under the default limit, and reports rows/s.
func BenchmarkEncodePreferences(b *testing.B) {
	rows := preferenceRows(b, 1000, 0)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := EncodePreferences(rows, 0); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*1000/b.Elapsed().Seconds(), "rows/s")
}
