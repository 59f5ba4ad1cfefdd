package selector

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// maxLabelLength is the longest label name Calico accepts.
const maxLabelLength = 512

// tokenKind is the lexical class of a token.
type tokenKind int

const (
	tokEOF     tokenKind = iota
	tokInvalid           // lexical error; text holds the message
	tokWord              // label name or positional keyword: [A-Za-z0-9_./-]+
	tokString            // quoted literal; text holds the unquoted value
	tokLParen            // (
	tokRParen            // )
	tokLBrace            // {
	tokRBrace            // }
	tokComma             // ,
	tokNot               // !
	tokAnd               // &&
	tokOr                // ||
	tokEq                // ==
	tokNe                // !=
)

// token is one lexical unit of a selector.
type token struct {
	kind tokenKind
	text string // see tokenKind; for punctuation, the source text
	pos  int    // byte offset of the token's first character
}

// lexer splits a selector into tokens on demand, so that the parser reports
// the first problem in input order, lexical or syntactic.
type lexer struct {
	input string
	pos   int
}

// next returns the next token. After a tokEOF or tokInvalid token the
// parser stops, so the lexer need not recover from errors.
func (l *lexer) next() token {
	for l.pos < len(l.input) && isSpace(l.input[l.pos]) {
		l.pos++
	}
	start := l.pos
	if start >= len(l.input) {
		return token{kind: tokEOF, pos: start}
	}
	rest := l.input[start:]
	c := rest[0]
	switch c {
	case '(':
		return l.punct(tokLParen, 1)
	case ')':
		return l.punct(tokRParen, 1)
	case '{':
		return l.punct(tokLBrace, 1)
	case '}':
		return l.punct(tokRBrace, 1)
	case ',':
		return l.punct(tokComma, 1)
	case '!':
		if strings.HasPrefix(rest, "!=") {
			return l.punct(tokNe, 2)
		}
		return l.punct(tokNot, 1)
	case '=':
		if strings.HasPrefix(rest, "==") {
			return l.punct(tokEq, 2)
		}
		return l.invalid(`unexpected "="; did you mean "=="?`)
	case '&':
		if strings.HasPrefix(rest, "&&") {
			return l.punct(tokAnd, 2)
		}
		return l.invalid(`unexpected "&"; did you mean "&&"?`)
	case '|':
		if strings.HasPrefix(rest, "||") {
			return l.punct(tokOr, 2)
		}
		return l.invalid(`unexpected "|"; did you mean "||"?`)
	case '\'', '"':
		return l.stringLiteral(c)
	}
	if isWordByte(c) {
		return l.word()
	}
	return l.invalid(l.unexpectedChar())
}

// punct consumes a punctuation token of n bytes.
func (l *lexer) punct(kind tokenKind, n int) token {
	t := token{kind: kind, text: l.input[l.pos : l.pos+n], pos: l.pos}
	l.pos += n
	return t
}

// invalid returns a tokInvalid token at the current position.
func (l *lexer) invalid(msg string) token {
	return token{kind: tokInvalid, text: msg, pos: l.pos}
}

// stringLiteral consumes a literal opened by quote. There are no escapes: the
// literal ends at the next occurrence of the same quote character.
func (l *lexer) stringLiteral(quote byte) token {
	start := l.pos
	end := strings.IndexByte(l.input[start+1:], quote)
	if end < 0 {
		return l.invalid(fmt.Sprintf("unterminated string literal: no closing %c", quote))
	}
	l.pos = start + 1 + end + 1
	return token{kind: tokString, text: l.input[start+1 : start+1+end], pos: start}
}

// word consumes a run of label characters.
func (l *lexer) word() token {
	start := l.pos
	end := start
	for end < len(l.input) && isWordByte(l.input[end]) {
		end++
	}
	text := l.input[start:end]
	if len(text) > maxLabelLength {
		return l.invalid(fmt.Sprintf("label name %q... is longer than %d characters", text[:16], maxLabelLength))
	}
	l.pos = end
	return token{kind: tokWord, text: text, pos: start}
}

// unexpectedChar describes the character at the current position, which
// starts no token.
func (l *lexer) unexpectedChar() string {
	r, size := utf8.DecodeRuneInString(l.input[l.pos:])
	if r == utf8.RuneError && size == 1 {
		return fmt.Sprintf("invalid UTF-8 byte 0x%02x", l.input[l.pos])
	}
	if l.pos > 0 && isWordByte(l.input[l.pos-1]) {
		return fmt.Sprintf("unexpected character %q in label name (allowed: letters, digits, '_', '.', '/', '-')", string(r))
	}
	return fmt.Sprintf("unexpected character %q", string(r))
}

// isSpace reports whether c is insignificant whitespace: the characters of
// RE2's \s, which Calico's tokenizer allows between the words of "not in",
// "starts with" and "ends with" (it allows only space and tab elsewhere).
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'
}

// isWordByte reports whether c may appear in a label name.
func isWordByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '_' || c == '.' || c == '/' || c == '-'
}
