package selector

import "testing"

// canonicalCases maps inputs to their expected canonical form.
var canonicalCases = []struct {
	in   string
	want string
}{
	{"", "all()"},
	{"  \t ", "all()"},
	{"all()", "all()"},
	{"all( )", "all()"},
	{"global()", "global()"},
	{"has(a)", "has(a)"},
	{"has(  a  )", "has(a)"},
	{"a=='b'", `a == "b"`},
	{`a  ==  "b"`, `a == "b"`},
	{"a!='b'", `a != "b"`},
	{"a contains 'b'", `a contains "b"`},
	{"a   starts\twith 'b'", `a starts with "b"`},
	{"a ends  with 'b'", `a ends with "b"`},
	{"a == ''", `a == ""`},
	{`a == 'say "hi"'`, `a == 'say "hi"'`},
	{`a == "it's"`, `a == "it's"`},
	{"k8s.io/app-name == 'x'", `k8s.io/app-name == "x"`},

	// Sets: sorted, deduplicated, trailing comma dropped.
	{"a in {'b','a'}", `a in {"a", "b"}`},
	{"a in {'b', 'a', 'b', 'a'}", `a in {"a", "b"}`},
	{"a in {}", "a in {}"},
	{"a in { }", "a in {}"},
	{"a not in {'z','y',}", `a not in {"y", "z"}`},
	{`a in {'x"y', "x'y"}`, `a in {'x"y', "x'y"}`},
	{"a in {'B', 'a', '_'}", `a in {"B", "_", "a"}`},

	// Negation.
	{"!has(a)", "!has(a)"},
	{"! has(a)", "!has(a)"},
	{"!!has(a)", "has(a)"},
	{"!!!has(a)", "!has(a)"},
	{"!(!has(a))", "has(a)"},
	{"!(a == 'b')", `!a == "b"`},
	{"!a == 'b'", `!a == "b"`},
	{"!(a == 'b' && c == 'd')", `!(a == "b" && c == "d")`},
	{"!(a == 'b' || c == 'd')", `!(a == "b" || c == "d")`},
	{"!(!(a == 'b' || c == 'd'))", `a == "b" || c == "d"`},

	// Parentheses: only where needed.
	{"(has(a))", "has(a)"},
	{"((has(a)))", "has(a)"},
	{"(has(a) && has(b))", "has(a) && has(b)"},
	{"(has(a) && has(b)) && has(c)", "has(a) && has(b) && has(c)"},
	{"has(a) && (has(b) && has(c))", "has(a) && has(b) && has(c)"},
	{"has(a) || (has(b) || has(c))", "has(a) || has(b) || has(c)"},
	{"(has(a) && has(b)) || has(c)", "has(a) && has(b) || has(c)"},
	{"has(a) || (has(b) && has(c))", "has(a) || has(b) && has(c)"},
	{"(has(a) || has(b)) && has(c)", "(has(a) || has(b)) && has(c)"},
	{"has(a) && (has(b) || has(c)) && has(d)", "has(a) && (has(b) || has(c)) && has(d)"},
	{"((has(a) || has(b))) && ((has(c)))", "(has(a) || has(b)) && has(c)"},
	{"(has(a) || has(b)) && (has(c) || has(d))", "(has(a) || has(b)) && (has(c) || has(d))"},
	{"!(has(a) || has(b)) && !has(c)", "!(has(a) || has(b)) && !has(c)"},
	{
		"app=='postgres'&&(tier in{'b','a'}||!has(x))",
		`app == "postgres" && (tier in {"a", "b"} || !has(x))`,
	},
	{"a == 'x' ||\n b == 'y'", `a == "x" || b == "y"`},

	// Two-word operators: any whitespace, including none, between the
	// words, as Calico's tokenizer accepts; the canonical form is unchanged.
	{"a notin {'x'}", `a not in {"x"}`},
	{"a notin{'y','x'}", `a not in {"x", "y"}`},
	{"a not  in {'x'}", `a not in {"x"}`},
	{"a not\fin {'x'}", `a not in {"x"}`},
	{"a not\r\n\tin {'x'}", `a not in {"x"}`},
	{"a startswith 'b'", `a starts with "b"`},
	{"a startswith'b'", `a starts with "b"`},
	{"a starts\fwith 'b'", `a starts with "b"`},
	{"a endswith 'b'", `a ends with "b"`},
	{"a ends\n\twith\"b\"", `a ends with "b"`},
	{"!a notin {'x'} && b startswith 'c' || c endswith 'd'", `!a not in {"x"} && b starts with "c" || c ends with "d"`},

	// Labels spelled like keywords.
	{"in=='x'", `in == "x"`},
	{"notin notin {'x'}", `notin not in {"x"}`},
	{"startswith startswith 'x'", `startswith starts with "x"`},
	{"endswith == 'x' && has(notin)", `endswith == "x" && has(notin)`},
	{"not not in {'x'}", `not not in {"x"}`},
	{"all == 'x' && has(has)", `all == "x" && has(has)`},
}

func TestCanonicalForm(t *testing.T) {
	for _, tc := range canonicalCases {
		sel, err := Parse(tc.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.in, err)
			continue
		}
		if got := sel.String(); got != tc.want {
			t.Errorf("Parse(%q).String() = %s, want %s", tc.in, got, tc.want)
		}
	}
}

// TestCanonicalRoundTrip checks that every valid selector in the test tables
// re-parses from its canonical form to the same canonical form and ID.
func TestCanonicalRoundTrip(t *testing.T) {
	var inputs []string
	for _, tc := range canonicalCases {
		inputs = append(inputs, tc.in)
	}
	for _, tc := range evaluateCases {
		inputs = append(inputs, tc.sel)
	}
	for _, in := range inputs {
		first := MustParse(in)
		second, err := Parse(first.String())
		if err != nil {
			t.Errorf("canonical form %s of %q does not parse: %v", first, in, err)
			continue
		}
		if second.String() != first.String() || second.UniqueID() != first.UniqueID() {
			t.Errorf("round trip of %q: %s then %s", in, first, second)
		}
	}
}
