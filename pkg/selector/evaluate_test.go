package selector

import "testing"

// labelSet is shorthand for a label map in test tables.
type labelSet = map[string]string

// evaluateCases lists selectors with a label set and the expected result.
var evaluateCases = []struct {
	sel    string
	labels labelSet
	want   bool
}{
	// all(), global() and the empty selector.
	{"", nil, true},
	{"   \t\n", labelSet{"a": "b"}, true},
	{"all()", nil, true},
	{"all()", labelSet{"a": "b"}, true},
	{"global()", nil, true},
	{"global()", labelSet{"a": "b"}, true},
	{"!all()", labelSet{"a": "b"}, false},

	// has().
	{"has(a)", labelSet{"a": ""}, true},
	{"has(a)", labelSet{"b": "x"}, false},
	{"has(a)", nil, false},
	{"!has(a)", nil, true},
	{"!has(a)", labelSet{"a": "x"}, false},
	{"has( projectcalico.org/namespace )", labelSet{"projectcalico.org/namespace": "x"}, true},

	// == and !=.
	{"a == 'b'", labelSet{"a": "b"}, true},
	{`a == "b"`, labelSet{"a": "b"}, true},
	{"a == 'b'", labelSet{"a": "c"}, false},
	{"a == 'b'", nil, false},
	{"a == ''", labelSet{"a": ""}, true},
	{"a == ''", nil, false},
	{"a != 'b'", labelSet{"a": "c"}, true},
	{"a != 'b'", labelSet{"a": "b"}, false},
	{"a != 'b'", nil, true}, // absent label matches !=
	{"a != 'b'", labelSet{"c": "b"}, true},
	{"!a == 'b'", nil, true},
	{"!a == 'b'", labelSet{"a": "b"}, false},
	{"k8s.io/app-name == 'web'", labelSet{"k8s.io/app-name": "web"}, true},
	{`a == 'x"y'`, labelSet{"a": `x"y`}, true},
	{`a == "x'y"`, labelSet{"a": "x'y"}, true},
	{"a == 'B'", labelSet{"a": "b"}, false}, // case-sensitive

	// in and not in.
	{"a in {'x', 'y'}", labelSet{"a": "x"}, true},
	{"a in {'x', 'y'}", labelSet{"a": "y"}, true},
	{"a in {'x', 'y'}", labelSet{"a": "z"}, false},
	{"a in {'x', 'y'}", nil, false},
	{"a in {}", labelSet{"a": ""}, false},
	{"a in {}", nil, false},
	{"a in {''}", labelSet{"a": ""}, true},
	{"a in {'x',}", labelSet{"a": "x"}, true},
	{"a not in {'x', 'y'}", labelSet{"a": "z"}, true},
	{"a not in {'x', 'y'}", labelSet{"a": "x"}, false},
	{"a not in {'x', 'y'}", nil, true}, // absent label matches not in
	{"a not in {}", nil, true},
	{"a not in {}", labelSet{"a": "x"}, true},
	{"a   not\n in{'x'}", labelSet{"a": "y"}, true},

	{"a notin {'x', 'y'}", labelSet{"a": "z"}, true},
	{"a notin {'x', 'y'}", labelSet{"a": "x"}, false},
	{"a notin {'x', 'y'}", nil, true},
	{"a not\fin {'x'}", labelSet{"a": "x"}, false},

	// contains, starts with, ends with.
	{"a contains 'ell'", labelSet{"a": "hello"}, true},
	{"a contains 'xyz'", labelSet{"a": "hello"}, false},
	{"a contains ''", labelSet{"a": "hello"}, true},
	{"a contains ''", nil, false},
	{"a contains 'ell'", nil, false},
	{"a starts with 'he'", labelSet{"a": "hello"}, true},
	{"a starts with 'lo'", labelSet{"a": "hello"}, false},
	{"a starts with 'he'", nil, false},
	{"a ends with 'lo'", labelSet{"a": "hello"}, true},
	{"a ends with 'he'", labelSet{"a": "hello"}, false},
	{"a ends with 'lo'", nil, false},
	{"!a starts with 'he'", nil, true},
	{"a startswith 'he'", labelSet{"a": "hello"}, true},
	{"a startswith 'lo'", labelSet{"a": "hello"}, false},
	{"a endswith 'lo'", labelSet{"a": "hello"}, true},
	{"a endswith 'lo'", nil, false},
	{"a ends\t\twith 'he'", labelSet{"a": "hello"}, false},

	// Sets larger than linearSetMax are searched by bisection.
	{"a in {'1','2','3','4','5','6','7','8','9','10'}", labelSet{"a": "9"}, true},
	{"a in {'1','2','3','4','5','6','7','8','9','10'}", labelSet{"a": "1"}, true},
	{"a in {'1','2','3','4','5','6','7','8','9','10'}", labelSet{"a": "11"}, false},
	{"a not in {'1','2','3','4','5','6','7','8','9','10'}", labelSet{"a": "10"}, false},
	{"a not in {'1','2','3','4','5','6','7','8','9','10'}", labelSet{"a": "0"}, true},

	// Boolean operators and precedence.
	{"a == 'x' && b == 'y'", labelSet{"a": "x", "b": "y"}, true},
	{"a == 'x' && b == 'y'", labelSet{"a": "x"}, false},
	{"a == 'x' || b == 'y'", labelSet{"b": "y"}, true},
	{"a == 'x' || b == 'y'", labelSet{"c": "z"}, false},
	{"a == 'x' || b == 'y' && c == 'z'", labelSet{"a": "x"}, true},    // && binds tighter
	{"(a == 'x' || b == 'y') && c == 'z'", labelSet{"a": "x"}, false}, // parentheses override
	{"!has(a) && has(b)", labelSet{"b": "1"}, true},
	{"!(has(a) && has(b))", labelSet{"a": "1", "b": "1"}, false},
	{"!(has(a) && has(b))", labelSet{"a": "1"}, true},
	{"!!has(a)", labelSet{"a": "1"}, true},
	{"!!!has(a)", labelSet{"a": "1"}, false},
	{"!(!has(a))", labelSet{"a": "1"}, true},
	{"((has(a)))", labelSet{"a": "1"}, true},
	{"has(a)&&has(b)||has(c)", labelSet{"c": "1"}, true},
	{"all() && a == 'x'", labelSet{"a": "x"}, true},
	{"global() || a == 'x'", nil, true},

	// Labels spelled like keywords.
	{"in == 'x'", labelSet{"in": "x"}, true},
	{"has == 'x'", labelSet{"has": "x"}, true},
	{"all in {'x'}", labelSet{"all": "x"}, true},
	{"not not in {'x'}", labelSet{"not": "y"}, true},
	{"has(in)", labelSet{"in": ""}, true},
}

func TestEvaluate(t *testing.T) {
	for _, tc := range evaluateCases {
		sel, err := Parse(tc.sel)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.sel, err)
			continue
		}
		if got := sel.Evaluate(tc.labels); got != tc.want {
			t.Errorf("Parse(%q).Evaluate(%v) = %v, want %v", tc.sel, tc.labels, got, tc.want)
		}
		if got := sel.(LabelsEvaluator).EvaluateLabels(InternLabels(tc.labels)); got != tc.want {
			t.Errorf("Parse(%q).EvaluateLabels(%v) = %v, want %v", tc.sel, tc.labels, got, tc.want)
		}
		// The compiled program must agree with the syntax tree.
		if got := sel.(*parsedSelector).root.eval(tc.labels); got != tc.want {
			t.Errorf("Parse(%q) tree eval(%v) = %v, want %v", tc.sel, tc.labels, got, tc.want)
		}
		// The canonical form must evaluate the same way.
		again := MustParse(sel.String())
		if got := again.Evaluate(tc.labels); got != tc.want {
			t.Errorf("Parse(%q).Evaluate(%v) = %v, want %v (canonical of %q)", sel.String(), tc.labels, got, tc.want, tc.sel)
		}
	}
}

func TestLabelKeys(t *testing.T) {
	tests := []struct {
		sel  string
		want []string
	}{
		{"", nil},
		{"all()", nil},
		{"global() && !all()", nil},
		{"has(b) && a == 'x' || b in {} || !c not in {'y'}", []string{"a", "b", "c"}},
		{"z contains 'q' && y starts with 'q' && x ends with 'q' && x != 'r'", []string{"x", "y", "z"}},
	}
	for _, tc := range tests {
		got := MustParse(tc.sel).LabelKeys()
		if len(got) != len(tc.want) {
			t.Errorf("LabelKeys(%q) = %q, want %q", tc.sel, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("LabelKeys(%q) = %q, want %q", tc.sel, got, tc.want)
				break
			}
		}
	}
	// The result is a copy.
	sel := MustParse("a == 'x'")
	sel.LabelKeys()[0] = "mutated"
	if got := sel.LabelKeys()[0]; got != "a" {
		t.Errorf("LabelKeys returned shared slice: now %q", got)
	}
}

func TestUniqueID(t *testing.T) {
	a := MustParse("a == 'x' && b in {'2', '1', '1'}")
	b := MustParse(`a=="x"&&b in{"1","2"}`)
	c := MustParse("a == 'y'")
	if a.UniqueID() != b.UniqueID() {
		t.Errorf("equivalent spellings got different IDs: %s vs %s", a.UniqueID(), b.UniqueID())
	}
	if a.UniqueID() == c.UniqueID() {
		t.Errorf("different selectors share ID %s", a.UniqueID())
	}
	if len(a.UniqueID()) != 64 {
		t.Errorf("UniqueID %q is not 64 hex characters", a.UniqueID())
	}
}

func TestMustParsePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("MustParse(\"a ==\") did not panic")
		}
	}()
	MustParse("a ==")
}
