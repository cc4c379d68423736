package schemas

import (
	"bytes"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
)

func TestSchemas(t *testing.T) {
	tests := []struct {
		name     string
		schema   *arrow.Schema
		kind     string
		fields   int
		required []string
		optional []string
		types    map[string]string
	}{
		{
			name: "preference without embeddings", schema: PreferenceSchema(0),
			kind: PreferenceName, fields: 16,
			required: []string{"event_id", "ts", "prompt", "response_a", "response_b", "preference"},
			optional: []string{"prompt_id", "role_a", "prob_b", "policy_version", "weight"},
			types: map[string]string{
				"ts": "timestamp[ms, tz=UTC]", "preference": "float32",
				"policy_version": "int64", "event_id": "utf8",
			},
		},
		{
			name: "preference with embeddings", schema: PreferenceSchema(384),
			kind: PreferenceName, fields: 19,
			optional: []string{"prompt_embedding", "embedding_a", "embedding_b"},
			types: map[string]string{
				"embedding_a": "fixed_size_list<item: float32, nullable>[384]",
			},
		},
		{
			name: "response", schema: ResponseSchema(8), kind: ResponseName, fields: 8,
			required: []string{"request_id", "ts", "prompt", "response"},
			optional: []string{"candidates", "model", "response_embedding"},
			types:    map[string]string{"candidates": "list<item: utf8, nullable>"},
		},
		{
			name: "refined", schema: RefinedSchema(), kind: RefinedName, fields: 11,
			required: []string{"request_id", "rounds", "changed", "follower_prob", "reason"},
			types:    map[string]string{"rounds": "int32", "changed": "bool", "latency_us": "int64"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.schema
			if got := len(s.Fields()); got != tt.fields {
				t.Errorf("fields = %d, want %d", got, tt.fields)
			}
			md := s.Metadata()
			if v, _ := metaValue(md, MetaSchemaName); v != tt.kind {
				t.Errorf("kind metadata = %q, want %q", v, tt.kind)
			}
			if v, _ := metaValue(md, MetaSchemaVersion); v != "1" {
				t.Errorf("version metadata = %q, want 1", v)
			}
			checkNullable(t, s, tt.required, false)
			checkNullable(t, s, tt.optional, true)
			for name, want := range tt.types {
				f, _ := s.FieldsByName(name)
				if len(f) != 1 || f[0].Type.String() != want {
					t.Errorf("type of %s = %v, want %s", name, f, want)
				}
			}
		})
	}
}

func checkNullable(t *testing.T, s *arrow.Schema, names []string, want bool) {
	t.Helper()
	for _, name := range names {
		f, ok := s.FieldsByName(name)
		if !ok {
			t.Errorf("field %s missing", name)
			continue
		}
		if f[0].Nullable != want {
			t.Errorf("%s nullable = %v, want %v", name, f[0].Nullable, want)
		}
	}
}

func TestDescribe(t *testing.T) {
	var buf bytes.Buffer
	if err := Describe(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"preference.v1", "response.v1", "refined.v1",
		"event_id", "timestamp[ms, tz=UTC]", "fixed_size_list<float32>[D]",
		"list<item: utf8, nullable>", "latency_us",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("Describe output lacks %q", want)
		}
	}
	// One line per field plus one header per kind and two blank lines.
	fields := len(preferenceFields) + len(responseFields) + len(refinedFields)
	if got := strings.Count(out, "\n"); got != fields+3+2 {
		t.Errorf("Describe wrote %d lines, want %d", got, fields+5)
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "  ") && !strings.Contains(line, "required") &&
			!strings.Contains(line, "optional") {
			t.Errorf("field line without required/optional: %q", line)
		}
	}
}
