package adfs

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Pos is a place in claim rule text: 1-based line and column (in runes).
type Pos struct{ Line, Col int }

func (p Pos) String() string { return fmt.Sprintf("%d:%d", p.Line, p.Col) }

// SyntaxError is malformed claim rule text, at the place it went wrong.
type SyntaxError struct {
	Pos Pos
	Msg string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("claim rules %s: %s", e.Pos, e.Msg) }

type tokKind int

const (
	tEOF    tokKind = iota
	tIdent          // issue, c, Type, store, NOT, …
	tString         // "…" (the language has no escapes: a string cannot hold ")
	tPunct          // [ ] ( ) , ; : . + @ = == != =~ !~ => &&
)

type token struct {
	kind tokKind
	text string // the string's content for tString
	pos  Pos
	off  int // byte offset in the source
}

// puncts are longest first so that "==" is not read as "=" "=".
var puncts = []string{"=>", "==", "!=", "=~", "!~", "&&", "[", "]", "(", ")", ",", ";", ":", ".", "+", "@", "="}

// lex splits claim rule text into tokens. ADFS writes typographic quotes
// when rules are pasted from Word; they are accepted as quotes.
func lex(src string) ([]token, error) {
	var out []token
	line, col := 1, 1
	i := 0
	advance := func(n int) {
		for _, r := range src[i : i+n] {
			if r == '\n' {
				line, col = line+1, 1
			} else {
				col++
			}
		}
		i += n
	}
	for i < len(src) {
		r, size := utf8.DecodeRuneInString(src[i:])
		pos := Pos{line, col}
		switch {
		case r == utf8.RuneError && size == 1:
			return nil, &SyntaxError{pos, "invalid UTF-8"}
		case unicode.IsSpace(r) || r == '\ufeff':
			advance(size)
		case isQuote(r):
			end := indexQuote(src[i+size:])
			if end < 0 {
				return nil, &SyntaxError{pos, "string not closed (a string cannot contain a double quote)"}
			}
			text := src[i+size : i+size+end]
			if !utf8.ValidString(text) {
				return nil, &SyntaxError{pos, "invalid UTF-8 in a string"}
			}
			_, qs := utf8.DecodeRuneInString(src[i+size+end:])
			out = append(out, token{tString, text, pos, i})
			advance(size + end + qs)
		case r == '_' || unicode.IsLetter(r):
			n := 0
			for n < len(src[i:]) {
				r2, s2 := utf8.DecodeRuneInString(src[i+n:])
				if r2 != '_' && !unicode.IsLetter(r2) && !unicode.IsDigit(r2) {
					break
				}
				n += s2
			}
			out = append(out, token{tIdent, src[i : i+n], pos, i})
			advance(n)
		default:
			p := punctAt(src[i:])
			if p == "" {
				return nil, &SyntaxError{pos, fmt.Sprintf("unexpected character %q", r)}
			}
			out = append(out, token{tPunct, p, pos, i})
			advance(len(p))
		}
	}
	return append(out, token{tEOF, "", Pos{line, col}, len(src)}), nil
}

func isQuote(r rune) bool { return r == '"' || r == '“' || r == '”' }

func indexQuote(s string) int {
	for j, r := range s {
		if isQuote(r) {
			return j
		}
	}
	return -1
}

func punctAt(s string) string {
	for _, p := range puncts {
		if strings.HasPrefix(s, p) {
			return p
		}
	}
	return ""
}
