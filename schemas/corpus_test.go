package schemas

import (
	"bytes"
	"errors"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

var update = flag.Bool("update", false, "regenerate testdata/good and testdata/bad")

// corpusLimits are the limits the corpus is decoded with: small, so that
// the size-related files stay small. testdata/README.md repeats them.
func corpusLimits() Limits {
	return Limits{
		MaxMessageBytes: 64 << 10, MaxRows: 100, MaxTextBytes: 4 << 10,
		MaxEmbeddingDim: 64, MaxCandidates: 8, MinAllocation: 1 << 20,
	}
}

// corpusCase is one corpus file: kind is the decoder, want the reason ("" for
// a good file).
type corpusCase struct {
	kind, want, desc string
	build            func(t *testing.T) []byte
}

func (c corpusCase) path() string {
	if c.want == "" {
		return filepath.Join("testdata", "good", c.kind+"--"+c.desc+".arrow")
	}
	return filepath.Join("testdata", "bad", c.kind, c.want+"--"+c.desc+".arrow")
}

func pref(fill filler, rows ...int) func(*testing.T) []byte {
	return func(t *testing.T) []byte { return stream(t, PreferenceSchema(4), fill, rows...) }
}

func prefSchema(s *arrow.Schema, fill filler, rows ...int) func(*testing.T) []byte {
	return func(t *testing.T) []byte { return stream(t, s, fill, rows...) }
}

func resp(fill filler) func(*testing.T) []byte {
	return func(t *testing.T) []byte { return stream(t, ResponseSchema(0), fill, 5) }
}

func refd(fill filler) func(*testing.T) []byte {
	return func(t *testing.T) []byte { return stream(t, RefinedSchema(), fill, 5) }
}

func corpusCases() []corpusCase {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	p4 := PreferenceSchema(4)
	valid := pref(nil, 5)
	return []corpusCase{
		{PreferenceName, "", "hh-10rows", func(t *testing.T) []byte {
			msgs, err := EncodePreferences(preferenceRows(t, 10, 0), 0)
			mustOne(t, msgs, err)
			return msgs[0]
		}},
		{PreferenceName, "", "embeddings-d4", valid},
		{PreferenceName, "", "two-batches", pref(nil, 3, 4)},
		{PreferenceName, "", "required-declared-nullable",
			prefSchema(reshape(p4, nullable("event_id"), nil), nil, 3)},
		{ResponseName, "", "candidates", resp(nil)},
		{RefinedName, "", "basic", refd(nil)},

		{PreferenceName, "empty_message", "zero-bytes", func(*testing.T) []byte { return nil }},
		{PreferenceName, "empty_message", "no-batches", pref(nil)},
		{PreferenceName, "empty_message", "zero-row-batch", pref(nil, 0)},
		{PreferenceName, "oversized_message", "70k", pref(
			func(f arrow.Field, b array.Builder, r int) bool {
				if f.Name != "prompt" {
					return false
				}
				b.(*array.StringBuilder).Append(strings.Repeat("x", 4000))
				return true
			}, 18)},
		{PreferenceName, "oversized_allocation", "zstd-bomb", zstdBomb},
		{PreferenceName, "corrupt_ipc", "not-arrow", func(*testing.T) []byte {
			return []byte("this is not an arrow stream, just text\n")
		}},
		{PreferenceName, "corrupt_ipc", "trailing-bytes", func(t *testing.T) []byte {
			return append(valid(t), "junk"...)
		}},
		{PreferenceName, "corrupt_ipc", "decreasing-offsets", badOffsets},
		{PreferenceName, "truncated_ipc", "cut-in-body", func(t *testing.T) []byte {
			m := valid(t)
			return m[:len(m)-100]
		}},
		{PreferenceName, "truncated_ipc", "no-end-marker", func(t *testing.T) []byte {
			m := valid(t)
			return m[:len(m)-8]
		}},
		{PreferenceName, "truncated_ipc", "cut-in-schema", func(t *testing.T) []byte {
			return valid(t)[:50]
		}},
		{PreferenceName, "wrong_schema", "response-message", resp(nil)},
		{PreferenceName, "wrong_schema", "foreign-record", prefSchema(arrow.NewSchema(
			[]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int64}}, nil), nil, 3)},
		{PreferenceName, "wrong_schema", "unknown-column", prefSchema(reshape(p4, nil, nil,
			arrow.Field{Name: "sentiment", Type: arrow.PrimitiveTypes.Float32}), nil, 3)},
		{PreferenceName, "wrong_schema", "duplicate-column", prefSchema(reshape(p4, nil, nil,
			arrow.Field{Name: "prompt", Type: arrow.BinaryTypes.String}), nil, 3)},
		{PreferenceName, "unknown_version", "v2", prefSchema(reshape(p4, nil,
			meta(MetaSchemaName, PreferenceName, MetaSchemaVersion, "2")), nil, 3)},
		{PreferenceName, "missing_field", "no-preference-column",
			prefSchema(reshape(p4, drop("preference"), nil), nil, 3)},
		{PreferenceName, "missing_field", "null-event-id", prefSchema(
			reshape(p4, nullable("event_id"), nil), with("event_id", 2, setNull), 4)},
		{PreferenceName, "wrong_type", "preference-float64", prefSchema(
			reshape(p4, retype("preference", arrow.PrimitiveTypes.Float64), nil), nil, 3)},
		{PreferenceName, "wrong_type", "ts-seconds", prefSchema(reshape(p4, retype("ts",
			&arrow.TimestampType{Unit: arrow.Second, TimeZone: "UTC"}), nil), nil, 3)},
		{PreferenceName, "wrong_type", "ts-no-zone", prefSchema(reshape(p4, retype("ts",
			&arrow.TimestampType{Unit: arrow.Millisecond}), nil), nil, 3)},
		{PreferenceName, "wrong_type", "event-id-int64", prefSchema(
			reshape(p4, retype("event_id", arrow.PrimitiveTypes.Int64), nil), nil, 3)},
		{PreferenceName, "wrong_type", "embedding-float64", prefSchema(reshape(p4,
			retype("embedding_a", arrow.FixedSizeListOf(4, arrow.PrimitiveTypes.Float64)), nil),
			nil, 3)},
		{PreferenceName, "nan_preference", "row-2", pref(with("preference", 2, setF32(nan)), 4)},
		{PreferenceName, "preference_out_of_range", "one-and-half",
			pref(with("preference", 1, setF32(1.5)), 4)},
		{PreferenceName, "preference_out_of_range", "negative",
			pref(with("preference", 0, setF32(-0.01)), 4)},
		{PreferenceName, "preference_out_of_range", "inf",
			pref(with("preference", 3, setF32(inf)), 4)},
		{PreferenceName, "empty_text", "response-a", pref(with("response_a", 1, setText("")), 3)},
		{PreferenceName, "oversized_text", "prompt-5k",
			pref(with("prompt", 1, setText(strings.Repeat("y", 5000))), 3)},
		{PreferenceName, "invalid_utf8", "prompt", pref(with("prompt", 2, setText("ok \xff no")), 3)},
		{PreferenceName, "too_many_rows", "101", pref(nil, 60, 41)},
		{PreferenceName, "invalid_embedding", "nan",
			pref(with("embedding_a", 1, setEmb(0, nan, 0, 0)), 3)},
		{PreferenceName, "invalid_embedding", "inf",
			pref(with("prompt_embedding", 0, setEmb(0, 0, -inf, 0)), 3)},
		{PreferenceName, "invalid_embedding", "null-item", pref(with("embedding_b", 2,
			func(b array.Builder) {
				lb := b.(*array.FixedSizeListBuilder)
				lb.Append(true)
				lb.ValueBuilder().(*array.Float32Builder).AppendValues([]float32{1, 2, 3, 4},
					[]bool{true, false, true, true})
			}), 3)},
		{PreferenceName, "invalid_embedding", "dims-disagree", prefSchema(reshape(p4,
			retype("embedding_b", arrow.FixedSizeListOf(8, arrow.PrimitiveTypes.Float32)), nil),
			nil, 3)},
		{PreferenceName, "invalid_embedding", "dim-65", prefSchema(PreferenceSchema(65), nil, 2)},
		{PreferenceName, "invalid_timestamp", "epoch-zero", pref(with("ts", 1, setTS(0)), 3)},
		{PreferenceName, "invalid_timestamp", "year-2200",
			pref(with("ts", 0, setTS(7258118400000)), 3)},
		{PreferenceName, "empty_event_id", "row-1", pref(with("event_id", 1, setText("")), 3)},
		{PreferenceName, "invalid_value", "role", pref(with("role_b", 1, setText("boss")), 3)},
		{PreferenceName, "invalid_value", "prob-above-one", pref(with("prob_a", 2, setF32(1.2)), 3)},
		{PreferenceName, "invalid_value", "negative-weight", pref(with("weight", 0, setF32(-1)), 3)},
		{PreferenceName, "invalid_value", "negative-policy-version",
			pref(with("policy_version", 1, setI64(-3)), 3)},

		{ResponseName, "wrong_schema", "preference-message", valid},
		{ResponseName, "too_many_candidates", "nine", resp(with("candidates", 3,
			setList("1", "2", "3", "4", "5", "6", "7", "8", "9")))},
		{ResponseName, "empty_text", "empty-candidate", resp(with("candidates", 1, setList("a", "")))},
		{ResponseName, "missing_field", "null-candidate", resp(with("candidates", 2,
			func(b array.Builder) {
				lb := b.(*array.ListBuilder)
				lb.Append(true)
				lb.ValueBuilder().AppendNull()
			}))},
		{ResponseName, "invalid_utf8", "candidate", resp(with("candidates", 4, setList("\xc3(")))},
		{ResponseName, "empty_event_id", "request-id", resp(with("request_id", 0, setText("")))},
		{ResponseName, "wrong_type", "candidates-not-list", prefSchema(reshape(ResponseSchema(0),
			retype("candidates", arrow.BinaryTypes.String), nil), nil, 2)},

		{RefinedName, "wrong_schema", "preference-message", valid},
		{RefinedName, "invalid_value", "negative-rounds", refd(with("rounds", 1, setI32(-1)))},
		{RefinedName, "invalid_value", "follower-prob-nan",
			refd(with("follower_prob", 2, setF32(nan)))},
		{RefinedName, "missing_field", "null-changed", prefSchema(
			reshape(RefinedSchema(), nullable("changed"), nil), with("changed", 3, setNull), 5)},
		{RefinedName, "empty_text", "reason", refd(with("reason", 4, setText("")))},
		{RefinedName, "missing_field", "no-latency",
			prefSchema(reshape(RefinedSchema(), drop("latency_us"), nil), nil, 2)},
	}
}

func mustOne(t *testing.T, msgs [][]byte, err error) {
	t.Helper()
	if err != nil || len(msgs) != 1 {
		t.Fatalf("encode: %d messages, %v", len(msgs), err)
	}
}

// zstdBomb is a few kilobytes of zstd-compressed IPC whose one prompt
// inflates to 2 MiB, more than the corpus budget of max(64 × size, 1 MiB).
func zstdBomb(t *testing.T) []byte {
	s := PreferenceSchema(0)
	rec := buildBatch(s, with("prompt", 0, setText(strings.Repeat("a", 2<<20))), 0, 1)
	defer rec.Release()
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(s), ipc.WithZstd())
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// badOffsets writes a prompt column whose offsets decrease, which only
// Arrow's full validation catches.
func badOffsets(t *testing.T) []byte {
	s := PreferenceSchema(0)
	rec := buildBatch(s, nil, 0, 3)
	defer rec.Release()
	col := rec.Column(2).Data()
	offs := []int32{0, 8, 4, 16}
	data := array.NewData(col.DataType(), 3, []*memory.Buffer{nil,
		memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(offs)),
		memory.NewBufferBytes([]byte("prompt 0prompt 1"))}, nil, 0, 0)
	defer data.Release()
	bad := array.MakeFromData(data)
	defer bad.Release()
	cols := append([]arrow.Array(nil), rec.Columns()...)
	cols[2] = bad
	out := array.NewRecordBatch(s, cols, 3)
	defer out.Release()
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(s))
	if err := w.Write(out); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// decodeKind decodes msg with the decoder of kind and returns the error.
func decodeKind(d *Decoder, kind string, msg []byte) error {
	var err error
	switch kind {
	case PreferenceName:
		_, err = d.DecodePreferences(msg)
	case ResponseName:
		_, err = d.DecodeResponses(msg)
	case RefinedName:
		_, err = d.DecodeRefined(msg)
	}
	return err
}

// TestGenerateCorpus rewrites testdata/good and testdata/bad; run it with
// go test ./schemas -run TestGenerateCorpus -update.
func TestGenerateCorpus(t *testing.T) {
	if !*update {
		t.Skip("run with -update to regenerate the corpus")
	}
	for _, dir := range []string{"testdata/good", "testdata/bad"} {
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range corpusCases() {
		if err := os.MkdirAll(filepath.Dir(c.path()), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(c.path(), c.build(t), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCorpus decodes every corpus file and checks that a good file decodes
// and a bad one fails with exactly the reason its name starts with, leaving
// no Arrow memory behind either way.
func TestCorpus(t *testing.T) {
	files := corpusFiles(t)
	if len(files) < len(corpusCases()) {
		t.Fatalf("%d corpus files, want %d; run TestGenerateCorpus -update",
			len(files), len(corpusCases()))
	}
	covered := map[Reason]bool{}
	for _, f := range files {
		t.Run(f.name, func(t *testing.T) {
			msg, err := os.ReadFile(f.path)
			if err != nil {
				t.Fatal(err)
			}
			d := NewDecoder(WithLimits(corpusLimits()), WithAllocator(checkedAlloc(t)))
			err = decodeKind(d, f.kind, msg)
			if f.want == "" {
				if err != nil {
					t.Fatalf("good file rejected: %v", err)
				}
				return
			}
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("err = %v, want *DecodeError %s", err, f.want)
			}
			if string(de.Reason) != f.want {
				t.Errorf("reason %s (%v), want %s", de.Reason, de, f.want)
			}
			covered[de.Reason] = true
		})
	}
	for _, r := range Reasons() {
		if !covered[r] && r != ReasonDuplicateEvent && r != ReasonPoisonMessage {
			t.Errorf("no corpus file for reason %s", r)
		}
	}
}

type corpusFile struct{ path, name, kind, want string }

func corpusFiles(t *testing.T) []corpusFile {
	var out []corpusFile
	good, _ := filepath.Glob("testdata/good/*.arrow")
	for _, p := range good {
		base := filepath.Base(p)
		kind, _, _ := strings.Cut(base, "--")
		out = append(out, corpusFile{p, "good/" + base, kind, ""})
	}
	bad, _ := filepath.Glob("testdata/bad/*/*.arrow")
	for _, p := range bad {
		kind := filepath.Base(filepath.Dir(p))
		base := filepath.Base(p)
		want, _, _ := strings.Cut(base, "--")
		out = append(out, corpusFile{p, "bad/" + kind + "/" + base, kind, want})
	}
	return out
}

// TestCorpusUpToDate fails when the generator would write other bytes than
// the committed files, so a stale corpus does not go unnoticed.
func TestCorpusUpToDate(t *testing.T) {
	if *update {
		t.Skip("regenerating")
	}
	for _, c := range corpusCases() {
		got, err := os.ReadFile(c.path())
		if err != nil {
			t.Errorf("%s: %v (run TestGenerateCorpus -update)", c.path(), err)
			continue
		}
		if !bytes.Equal(got, c.build(t)) {
			t.Errorf("%s is stale; run TestGenerateCorpus -update", c.path())
		}
	}
}
