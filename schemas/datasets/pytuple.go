package datasets

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// message is one (text, role) element of a conversation literal.
type message struct {
	Text string
	Role string
}

// errTuple is wrapped by every error of parseConversation.
var errTuple = errors.New("bad conversation literal")

// parseConversation parses a Python list literal of 2-tuples of strings,
// `[('text', 'role'), ("text", "role"), ...]`, as Python's repr writes
// them. Whitespace may surround any token and a trailing comma may close
// the list or a tuple. Strings are single- or double-quoted, without
// prefixes, triple quotes or implicit concatenation, and hold no raw line
// break. Escapes follow Python 3 string literals: \\ \' \" \a \b \f \n
// \r \t \v, \ooo (1–3 octal digits), \xhh, \uhhhh, \Uhhhhhhhh, and a
// backslash before a line break, which joins the lines; \N{...} is
// rejected, and any other backslash is kept as written. A code point that
// UTF-8 cannot hold (a lone surrogate) becomes U+FFFD.
func parseConversation(s string) ([]message, error) {
	p := tupleParser{s: s}
	msgs, err := p.list()
	if err != nil {
		return nil, fmt.Errorf("%w at byte %d: %w", errTuple, p.pos, err)
	}
	return msgs, nil
}

type tupleParser struct {
	s   string
	pos int
}

func (p *tupleParser) list() ([]message, error) {
	if err := p.expect('['); err != nil {
		return nil, err
	}
	var msgs []message
	for !p.accept(']') {
		m, err := p.tuple()
		if err != nil {
			return nil, err
		}
		msgs = append(msgs, m)
		if !p.accept(',') {
			if err := p.expect(']'); err != nil {
				return nil, err
			}
			break
		}
	}
	p.space()
	if p.pos != len(p.s) {
		return nil, errors.New("text after the closing bracket")
	}
	return msgs, nil
}

func (p *tupleParser) tuple() (message, error) {
	var m message
	if err := p.expect('('); err != nil {
		return m, err
	}
	text, err := p.str()
	if err != nil {
		return m, err
	}
	if err := p.expect(','); err != nil {
		return m, err
	}
	role, err := p.str()
	if err != nil {
		return m, err
	}
	p.accept(',')
	if err := p.expect(')'); err != nil {
		return m, err
	}
	return message{Text: text, Role: role}, nil
}

// space skips Python whitespace between tokens.
func (p *tupleParser) space() {
	for p.pos < len(p.s) && strings.IndexByte(" \t\n\r\f\v", p.s[p.pos]) >= 0 {
		p.pos++
	}
}

// accept consumes c after optional space and reports whether it was there.
func (p *tupleParser) accept(c byte) bool {
	p.space()
	if p.pos < len(p.s) && p.s[p.pos] == c {
		p.pos++
		return true
	}
	return false
}

func (p *tupleParser) expect(c byte) error {
	if p.accept(c) {
		return nil
	}
	if p.pos >= len(p.s) {
		return fmt.Errorf("want %q, got end of text", c)
	}
	return fmt.Errorf("want %q, got %q", c, p.s[p.pos])
}

// str parses one quoted string literal.
func (p *tupleParser) str() (string, error) {
	p.space()
	if p.pos >= len(p.s) || (p.s[p.pos] != '\'' && p.s[p.pos] != '"') {
		return "", errors.New("want a quoted string")
	}
	quote := p.s[p.pos]
	p.pos++
	var b strings.Builder
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		switch c {
		case quote:
			p.pos++
			return b.String(), nil
		case '\n', '\r':
			return "", errors.New("line break inside a string")
		case '\\':
			if err := p.escape(&b); err != nil {
				return "", err
			}
		default:
			b.WriteByte(c)
			p.pos++
		}
	}
	return "", errors.New("unterminated string")
}

// escape decodes the escape sequence at p.pos (a backslash) into b.
func (p *tupleParser) escape(b *strings.Builder) error {
	if p.pos+1 >= len(p.s) {
		return errors.New("backslash at end of text")
	}
	c := p.s[p.pos+1]
	p.pos += 2
	if r, ok := simpleEscapes[c]; ok {
		b.WriteByte(r)
		return nil
	}
	switch c {
	case '\n':
		return nil
	case '\r':
		if p.pos < len(p.s) && p.s[p.pos] == '\n' {
			p.pos++
		}
		return nil
	case 'x':
		return p.hexRune(b, 2)
	case 'u':
		return p.hexRune(b, 4)
	case 'U':
		return p.hexRune(b, 8)
	case 'N':
		return errors.New(`\N{...} escapes are not supported`)
	}
	if c >= '0' && c <= '7' {
		p.pos--
		p.octalRune(b)
		return nil
	}
	b.WriteByte('\\') // Python keeps unknown escapes as written.
	p.pos--
	return nil
}

var simpleEscapes = map[byte]byte{
	'\\': '\\', '\'': '\'', '"': '"', 'a': '\a', 'b': '\b',
	'f': '\f', 'n': '\n', 'r': '\r', 't': '\t', 'v': '\v',
}

// hexRune reads exactly n hex digits as one code point.
func (p *tupleParser) hexRune(b *strings.Builder, n int) error {
	if p.pos+n > len(p.s) {
		return errors.New("truncated hex escape")
	}
	v, err := strconv.ParseUint(p.s[p.pos:p.pos+n], 16, 32)
	if err != nil {
		return fmt.Errorf("bad hex escape %q", p.s[p.pos:p.pos+n])
	}
	if v > utf8.MaxRune {
		return fmt.Errorf("escape %q beyond U+10FFFF", p.s[p.pos:p.pos+n])
	}
	p.pos += n
	b.WriteRune(rune(v)) // WriteRune turns surrogates into U+FFFD.
	return nil
}

// octalRune reads one to three octal digits as one code point.
func (p *tupleParser) octalRune(b *strings.Builder) {
	v := 0
	for n := 0; n < 3 && p.pos < len(p.s) && p.s[p.pos] >= '0' && p.s[p.pos] <= '7'; n++ {
		v = v*8 + int(p.s[p.pos]-'0')
		p.pos++
	}
	b.WriteRune(rune(v))
}
