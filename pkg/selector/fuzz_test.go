package selector

import (
	"errors"
	"slices"
	"testing"
	"unicode/utf8"
)

// FuzzParse checks that Parse never panics, that errors are well-formed
// *ParseErrors, and that the canonical form of a valid selector re-parses
// to an equivalent selector.
func FuzzParse(f *testing.F) {
	for _, tc := range evaluateCases {
		f.Add(tc.sel)
	}
	for _, tc := range canonicalCases {
		f.Add(tc.in)
	}
	for _, tc := range parseErrorCases {
		f.Add(tc.sel)
	}
	f.Add(`a == 'x"y' || b in {"it's", 'q'} && !(c starts with "" || !d ends with '"')`)
	f.Add("!(!(!(a not in {'1','2',}) && has(b))) || global()")

	fixed := []map[string]string{
		nil,
		{"a": "1"},
		{"a": "", "b": "2", "c": "x\"y", "app": "web"},
		{"x": "it's", "in": "not", "all": "has"},
	}
	f.Fuzz(func(t *testing.T, input string) {
		sel, err := Parse(input)
		if err != nil {
			var perr *ParseError
			if !errors.As(err, &perr) {
				t.Fatalf("Parse(%q) error %v is not a *ParseError", input, err)
			}
			if perr.Column < 1 || perr.Column > utf8.RuneCountInString(input)+1 {
				t.Fatalf("Parse(%q): column %d out of range", input, perr.Column)
			}
			if Validate(input) == nil {
				t.Fatalf("Validate(%q) succeeded but Parse failed: %v", input, err)
			}
			return
		}
		if err := Validate(input); err != nil {
			t.Fatalf("Parse(%q) succeeded but Validate failed: %v", input, err)
		}
		canonical := sel.String()
		again, err := Parse(canonical)
		if err != nil {
			t.Fatalf("canonical form %q of %q does not parse: %v", canonical, input, err)
		}
		if again.String() != canonical {
			t.Fatalf("canonical form not idempotent: %q -> %q -> %q", input, canonical, again.String())
		}
		if again.UniqueID() != sel.UniqueID() {
			t.Fatalf("UniqueID changed across round trip of %q", input)
		}
		if !slices.Equal(again.LabelKeys(), sel.LabelKeys()) {
			t.Fatalf("LabelKeys changed across round trip of %q: %q vs %q", input, sel.LabelKeys(), again.LabelKeys())
		}
		// Label sets built from the selector's own keys reach its
		// comparisons; the fixed ones cover absent labels.
		labelSets := slices.Clone(fixed)
		for _, value := range append([]string{"", "1", "a"}, firstN(literals(sel.(*parsedSelector).root), 8)...) {
			m := map[string]string{}
			for _, k := range sel.LabelKeys() {
				m[k] = value
			}
			labelSets = append(labelSets, m)
		}
		for _, labels := range labelSets {
			if got, want := sel.Evaluate(labels), sel.(*parsedSelector).root.eval(labels); got != want {
				t.Fatalf("%q on %v: compiled program says %v, syntax tree says %v", input, labels, got, want)
			}
			if got, want := sel.(LabelsEvaluator).EvaluateLabels(InternLabels(labels)), sel.Evaluate(labels); got != want {
				t.Fatalf("%q on %v: EvaluateLabels says %v, Evaluate says %v", input, labels, got, want)
			}
			if sel.Evaluate(labels) != again.Evaluate(labels) {
				t.Fatalf("Evaluate(%v) differs between %q and its canonical form %q", labels, input, canonical)
			}
			checkRequirements(t, sel, labels)
		}
	})
}

// checkRequirements verifies that Requirements states necessary
// conditions (if the selector matches, every clause has a satisfied term)
// over keys the selector reads.
func checkRequirements(t *testing.T, sel Selector, labels map[string]string) {
	t.Helper()
	reqs := RequirementsOf(sel)
	for _, c := range reqs {
		for _, term := range c {
			if _, found := slices.BinarySearch(sel.LabelKeys(), term.Key); !found {
				t.Fatalf("%s: requirement %s names a key it does not read", sel, c)
			}
		}
	}
	if !sel.Evaluate(labels) {
		return
	}
	for _, c := range reqs {
		if !clauseSatisfied(c, labels) {
			t.Fatalf("%s matches %v but does not satisfy its requirement %s", sel, labels, c)
		}
	}
}

// clauseSatisfied reports whether labels satisfy one of c's terms.
func clauseSatisfied(c Clause, labels map[string]string) bool {
	for _, term := range c {
		if v, ok := labels[term.Key]; ok && (term.Values == nil || slices.Contains(term.Values, v)) {
			return true
		}
	}
	return false
}

// literals returns the string literals in n.
func literals(n node) []string {
	switch n := n.(type) {
	case *compareNode:
		return []string{n.value}
	case *setNode:
		return n.values
	case *notNode:
		return literals(n.operand)
	case *andNode:
		var out []string
		for _, o := range n.operands {
			out = append(out, literals(o)...)
		}
		return out
	case *orNode:
		var out []string
		for _, o := range n.operands {
			out = append(out, literals(o)...)
		}
		return out
	}
	return nil
}

// firstN returns at most n elements of s.
func firstN(s []string, n int) []string {
	return s[:min(len(s), n)]
}
