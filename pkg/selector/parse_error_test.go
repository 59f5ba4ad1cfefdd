package selector

import (
	"errors"
	"strings"
	"testing"
)

// parseErrorCases lists invalid selectors with the expected error column and
// a fragment of the expected message.
var parseErrorCases = []struct {
	sel    string
	column int
	msg    string
}{
	// Missing operands.
	{"app == ", 8, `expected a string literal after "==", found end of input`},
	{"app != ", 8, `expected a string literal after "!="`},
	{"app ==", 7, `expected a string literal after "=="`},
	{"app == x", 8, `expected a string literal after "==", found word "x"`},
	{"app contains", 13, `expected a string literal after "contains"`},
	{"app starts with 3", 17, `expected a string literal after "starts with", found word "3"`},
	{"app ends with", 14, `expected a string literal after "ends with"`},
	{"a == 'x' &&", 12, `expected an expression after "&&", found end of input`},
	{"a == 'x' ||", 12, `expected an expression after "||", found end of input`},
	{"&& a == 'x'", 1, `expected an expression, found "&&"`},
	{"a == 'x' && || b == 'y'", 13, `expected an expression after "&&", found "||"`},
	{"!", 2, `expected an expression after "!", found end of input`},
	{"!!)", 3, `expected an expression after "!", found ")"`},
	{"a", 2, `expected an operator (==, !=, in, not in, contains, starts with, ends with) after label "a", found end of input`},
	{"a 'x'", 3, `after label "a", found string literal "x"`},
	{"a = 'x'", 3, `unexpected "="; did you mean "=="?`},
	{"a == 'x' & b == 'y'", 10, `unexpected "&"; did you mean "&&"?`},
	{"a == 'x' | b == 'y'", 10, `unexpected "|"; did you mean "||"?`},
	{"'a' == 'x'", 1, `expected an expression, found string literal "a"`},
	{"== 'x'", 1, `expected an expression, found "=="`},

	// Unterminated strings.
	{"a == 'x", 6, "unterminated string literal: no closing '"},
	{`a == "x`, 6, `unterminated string literal: no closing "`},
	{`a == "x'`, 6, `unterminated string literal: no closing "`},
	{"a in {'x', 'y}", 12, "unterminated string literal"},
	{"a == 'x' && b == \"", 18, "unterminated string literal"},

	// Unknown characters and bad label names.
	{"a$ == 'x'", 2, `unexpected character "$" in label name`},
	{"app.kubernetes.io/name~ == 'x'", 23, `unexpected character "~" in label name`},
	{"a == 'x' && $b == 'y'", 13, `unexpected character "$"`},
	{"a == 'x' ; b == 'y'", 10, `unexpected character ";"`},
	{"é == 'x'", 1, `unexpected character "é"`},
	{"a == 'é' && @", 13, `unexpected character "@"`}, // column counts runes, not bytes
	{"a == 'x' \xff", 10, "invalid UTF-8 byte 0xff"},
	{"has('a')", 5, `expected a label name inside has(), found string literal "a"`},
	{"has()", 5, `expected a label name inside has(), found ")"`},
	{"has(a b)", 7, `expected ")" to close "has(", found word "b"`},
	{"has(a", 6, `expected ")" to close "has(", found end of input`},
	{"has(a$)", 6, `unexpected character "$" in label name`},
	{strings.Repeat("a", 513) + " == 'x'", 1, "is longer than 512 characters"},
	{"all(a)", 5, `expected ")" after "all(" (it takes no arguments), found word "a"`},
	{"global(", 8, `expected ")" after "global("`},
	{"any()", 1, `unknown function "any": expected all(), global() or has(label)`},
	{"a == 'x' && foo(b)", 13, `unknown function "foo"`},

	// Unbalanced parentheses.
	{"(a == 'x'", 10, `expected ")" to close "(" at column 1, found end of input`},
	{"((a == 'x')", 12, `expected ")" to close "(" at column 1`},
	{"a == 'x' && (b == 'y' || c == 'z'", 34, `expected ")" to close "(" at column 13`},
	{"a == 'x')", 9, `unexpected ")" without a matching "("`},
	{"(a == 'x'))", 11, `unexpected ")" without a matching "("`},
	{")", 1, `expected an expression, found ")"`},
	{"()", 2, `expected an expression after "(", found ")"`},
	{"(a == 'x' b == 'y')", 11, `expected ")" to close "(" at column 1, found word "b"`},
	{strings.Repeat("(", 101) + "all()" + strings.Repeat(")", 101), 101, "parentheses nested more than 100 deep"},

	// Trailing garbage.
	{"a == 'x' b == 'y'", 10, `expected "&&", "||" or end of input, found word "b"`},
	{"a == 'x' 'y'", 10, `found string literal "y"`},
	{"all() all()", 7, `expected "&&", "||" or end of input, found word "all"`},
	{"has(a) (b == 'c')", 8, `expected "&&", "||" or end of input, found "("`},
	{"a == 'x',", 9, `found ","`},

	// Keyword operators.
	{"a not 'x'", 7, `expected "in" after "not", found string literal "x"`},
	{"a not", 6, `expected "in" after "not", found end of input`},
	{"a notinx {'x'}", 3, `after label "a", found word "notinx"`},
	{"a notin 'x'", 9, `expected "{" after "not in", found string literal "x"`},
	{"a starts 'x'", 10, `expected "with" after "starts"`},
	{"a ends wit 'x'", 8, `expected "with" after "ends", found word "wit"`},
	{"a startswithx 'x'", 3, `after label "a", found word "startswithx"`},
	{"a endswith", 11, `expected a string literal after "ends with", found end of input`},
	{"a starts\vwith 'x'", 9, `unexpected character "\v"`},
	{"a in 'x'", 6, `expected "{" after "in", found string literal "x"`},
	{"a not in ('x')", 10, `expected "{" after "not in", found "("`},

	// Sets.
	{"a in {'x' 'y'}", 11, `expected "," or "}" in set, found string literal "y"`},
	{"a in {'x'", 10, `expected "," or "}" in set, found end of input`},
	{"a in {", 7, `expected a string literal or "}" in set, found end of input`},
	{"a in {,}", 7, `expected a string literal or "}" in set, found ","`},
	{"a in {'x',,}", 11, `expected a string literal or "}" in set, found ","`},
	{"a in {x}", 7, `expected a string literal or "}" in set, found word "x"`},
	{"a in {'x'))", 10, `expected "," or "}" in set, found ")"`},
}

func TestParseErrors(t *testing.T) {
	for _, tc := range parseErrorCases {
		_, err := Parse(tc.sel)
		var perr *ParseError
		if !errors.As(err, &perr) {
			t.Errorf("Parse(%q) error = %v, want a *ParseError", tc.sel, err)
			continue
		}
		if perr.Selector != tc.sel {
			t.Errorf("Parse(%q).Selector = %q", tc.sel, perr.Selector)
		}
		if perr.Column != tc.column || !strings.Contains(perr.Msg, tc.msg) {
			t.Errorf("Parse(%q) = column %d %q; want column %d containing %q", abbreviate(tc.sel), perr.Column, perr.Msg, tc.column, tc.msg)
		}
		if verr := Validate(tc.sel); verr == nil || verr.Error() != err.Error() {
			t.Errorf("Validate(%q) = %v, want %v", tc.sel, verr, err)
		}
	}
}

func TestParseErrorString(t *testing.T) {
	_, err := Parse("app == ")
	want := `selector "app == " column 8: expected a string literal after "==", found end of input`
	if err == nil || err.Error() != want {
		t.Errorf("error = %v, want %s", err, want)
	}
}

func TestNestingLimitAllowsDeepButSaneInput(t *testing.T) {
	s := strings.Repeat("(", 100) + "has(a)" + strings.Repeat(")", 100)
	if err := Validate(s); err != nil {
		t.Errorf("100 levels of nesting rejected: %v", err)
	}
	s = strings.Repeat("!", 10000) + "has(a)" // "!" does not recurse
	if err := Validate(s); err != nil {
		t.Errorf("10000 negations rejected: %v", err)
	}
}
