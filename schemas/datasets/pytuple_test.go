package datasets

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// tupleCase is one line of testdata/pytuple/cases.jsonl: a literal and the
// value Python's ast.literal_eval gave for it.
type tupleCase struct {
	Literal string      `json:"literal"`
	Want    [][2]string `json:"want"`
}

func readTupleCases(t testing.TB) []tupleCase {
	f, err := os.Open("testdata/pytuple/cases.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cases []tupleCase
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var c tupleCase
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatal(err)
		}
		cases = append(cases, c)
	}
	return cases
}

func readBadLiterals(t testing.TB) []string {
	data, err := os.ReadFile("testdata/pytuple/bad.txt")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var s string
		if err := json.Unmarshal([]byte(line), &s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

func TestParseConversationMatchesPython(t *testing.T) {
	for _, c := range readTupleCases(t) {
		got, err := parseConversation(c.Literal)
		if err != nil {
			t.Errorf("%q: %v", c.Literal, err)
			continue
		}
		var flat [][2]string
		for _, m := range got {
			flat = append(flat, [2]string{m.Text, m.Role})
		}
		if !slices.Equal(flat, c.Want) {
			t.Errorf("%q:\n got %q\nwant %q", c.Literal, flat, c.Want)
		}
	}
}

func TestParseConversationRejects(t *testing.T) {
	for _, s := range readBadLiterals(t) {
		if got, err := parseConversation(s); !errors.Is(err, errTuple) {
			t.Errorf("%q: got %q, %v; want an error", s, got, err)
		}
	}
}

// pyRepr writes s the way Python's repr writes a str (for the characters
// it escapes below 0x80), so that parsing must give s back.
func pyRepr(s string) string {
	quote := byte('\'')
	if strings.Contains(s, "'") && !strings.Contains(s, `"`) {
		quote = '"'
	}
	var b strings.Builder
	b.WriteByte(quote)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == quote || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\r':
			b.WriteString(`\r`)
		case c == '\t':
			b.WriteString(`\t`)
		case c < 0x20 || c == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte(quote)
	return b.String()
}

func FuzzParseConversation(f *testing.F) {
	for _, c := range readTupleCases(f) {
		f.Add(c.Literal, "", "")
	}
	for _, s := range readBadLiterals(f) {
		f.Add(s, "", "")
	}
	f.Add("", "it's \"both\"\\\n\x00é", "user")
	f.Fuzz(func(t *testing.T, literal, text, role string) {
		// Any input: no panic, and a parse is stable under re-quoting.
		if msgs, err := parseConversation(literal); err == nil {
			again, err := parseConversation(reprConversation(msgs))
			if err != nil || !slices.Equal(again, msgs) {
				t.Fatalf("re-quoted %q: %q, %v", msgs, again, err)
			}
		}
		// Any strings survive quoting; invalid UTF-8 passes through bytewise.
		want := []message{{text, role}, {role, text}}
		got, err := parseConversation(reprConversation(want))
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("round trip of %q: %q, %v (valid UTF-8 %v)", want, got, err, utf8.ValidString(text))
		}
	})
}

func reprConversation(msgs []message) string {
	parts := make([]string, len(msgs))
	for i, m := range msgs {
		parts[i] = "(" + pyRepr(m.Text) + ", " + pyRepr(m.Role) + ")"
	}
	return "[" + strings.Join(parts, ", ") + "]"
}
