package selector

import "testing"

// TestCompile checks the shape of compiled programs: one instruction per
// label test, negations folded into jump targets, constants compiled away,
// and jumps only forward.
func TestCompile(t *testing.T) {
	tests := []struct {
		sel          string
		instructions int
		entry        int32
	}{
		{"all()", 0, pcAccept},
		{"!all()", 0, pcReject},
		{"global() && !all()", 0, pcReject},
		{"all() || has(a)", 1, pcAccept}, // has(a) is unreachable but still emitted
		{"has(a) && all()", 1, 0},
		{`a == "b"`, 1, 0},
		{`a != "b"`, 1, 0},
		{`!!!a not in {"x"}`, 1, 0},
		{`a in {"x"} && has(b) && c != "d"`, 3, 0},
		{`(a == "x" || b == "y") && !(c == "z" || has(d))`, 4, 0},
	}
	for _, tc := range tests {
		p := MustParse(tc.sel).(*parsedSelector).program
		if len(p.code) != tc.instructions || p.entry != tc.entry {
			t.Errorf("compile(%q): %d instructions, entry %d; want %d, %d", tc.sel, len(p.code), p.entry, tc.instructions, tc.entry)
		}
		for pc, in := range p.code {
			for _, target := range []int32{in.onTrue, in.onFalse} {
				if target >= 0 && target <= int32(pc) || target >= int32(len(p.code)) || target < pcReject {
					t.Errorf("compile(%q): instruction %d jumps to %d", tc.sel, pc, target)
				}
			}
		}
	}
}

// TestCompileNegation checks that "!=" and "not in" become the positive test
// with swapped targets, so that they match an absent label.
func TestCompileNegation(t *testing.T) {
	for _, sel := range []string{`a != "b"`, `a not in {"b"}`, `!a == "b"`, `!a in {"b"}`} {
		p := MustParse(sel).(*parsedSelector).program
		in := p.code[0]
		if in.op != testEq && in.op != testIn || in.onTrue != pcReject || in.onFalse != pcAccept {
			t.Errorf("compile(%q) = %+v, want a positive test jumping to reject when it holds", sel, in)
		}
	}
}
