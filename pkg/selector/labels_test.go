package selector

import (
	"fmt"
	"testing"
)

// TestEvaluateLabelsLargeSet checks interned label sets above
// linearLabelsMax, which are kept in a map.
func TestEvaluateLabelsLargeSet(t *testing.T) {
	m := map[string]string{}
	for i := range linearLabelsMax + 4 {
		m[fmt.Sprintf("k%02d", i)] = fmt.Sprintf("v%02d", i)
	}
	labels := InternLabels(m)
	if labels.Len() != len(m) || labels.byKey == nil {
		t.Fatalf("InternLabels of %d labels: Len %d, map form %v", len(m), labels.Len(), labels.byKey != nil)
	}
	tests := []struct {
		sel  string
		want bool
	}{
		{"k00 == 'v00' && k19 == 'v19'", true},
		{"k19 in {'v18', 'v19'}", true},
		{"k05 == 'v06'", false},
		{"has(k20)", false},
		{"k20 != 'x'", true},
		{"k07 starts with 'v0' && k17 ends with '7' && k11 contains '1'", true},
		{"k01 in {'0','1','2','3','4','5','6','7','8','v01'}", true},
	}
	for _, tc := range tests {
		sel := MustParse(tc.sel)
		if got := sel.(LabelsEvaluator).EvaluateLabels(labels); got != tc.want {
			t.Errorf("%q: EvaluateLabels = %v, want %v", tc.sel, got, tc.want)
		}
		if got := sel.Evaluate(m); got != tc.want {
			t.Errorf("%q: Evaluate = %v, want %v", tc.sel, got, tc.want)
		}
	}
}

// TestInternLabelsEmpty checks that nil, empty and zero Labels are the
// empty set.
func TestInternLabelsEmpty(t *testing.T) {
	sel := MustParse("!has(a) && a != 'x' && a not in {'y'}")
	for _, l := range []Labels{{}, InternLabels(nil), InternLabels(map[string]string{})} {
		if l.Len() != 0 || !sel.(LabelsEvaluator).EvaluateLabels(l) {
			t.Errorf("%+v: Len %d, EvaluateLabels false; want the empty set", l, l.Len())
		}
	}
}
