package selector

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// renderRequirements renders clauses one per element, for comparison.
func renderRequirements(cs []Clause) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.String())
	}
	return out
}

func TestRequirements(t *testing.T) {
	for _, tc := range []struct {
		sel  string
		want []string // clauses, each satisfied by every match; nil: none
	}{
		{"all()", nil},
		{"global()", nil},
		{"!has(a)", nil},
		{"a != 'x'", nil},             // an absent a matches
		{"a not in {'x', 'y'}", nil},  // likewise
		{"!(a == 'x')", nil},          // likewise
		{"a == 'x' || !has(b)", nil},  // the second branch needs nothing
		{"a == 'x' || a != 'y'", nil}, // likewise
		{"has(a)", []string{"has(a)"}},
		{"a == 'x'", []string{`a in {"x"}`}},
		{"a in {'y', 'x', 'y'}", []string{`a in {"x", "y"}`}},
		{"a contains 'x'", []string{"has(a)"}},
		{"a starts with 'x'", []string{"has(a)"}},
		{"a ends with 'x'", []string{"has(a)"}},
		{"!(a != 'x')", []string{`a in {"x"}`}},
		{"!(a not in {'x'})", []string{`a in {"x"}`}},
		{"a == 'x' && has(b)", []string{`a in {"x"}`, "has(b)"}},
		{"a == 'x' || b == 'y'", []string{`a in {"x"} || b in {"y"}`}},
		{"a == 'x' || has(b)", []string{`a in {"x"} || has(b)`}},
		{"a == '1' || has(a)", []string{"has(a)"}},
		{"(a == '1' || a in {'2', '3'}) && has(b)", []string{`a in {"1", "2", "3"}`, "has(b)"}},
		{"tier in {'web'} && has(x) || tier == 'web'", []string{`tier in {"web"}`}},
		{"(a == '1' && b == '2') || (c == '3' && d == '4')", []string{
			`a in {"1"} || c in {"3"}`, `a in {"1"} || d in {"4"}`, `b in {"2"} || c in {"3"}`, `b in {"2"} || d in {"4"}`,
		}},
		{"a == 'x' && (b == '1' || all())", []string{`a in {"x"}`}},
		{"global() && has(a)", []string{"has(a)"}},
		{"a in {'1', '2'} && a in {'2', '3'}", []string{`a in {"2"}`}},
		{"has(a) && a == '1'", []string{`a in {"1"}`}},
		// Never satisfied.
		{"a in {}", []string{"false"}},
		{"!all()", []string{"false"}},
		{"a in {'1'} && a == '2'", []string{"false"}},
		{"a in {} && b == '1'", []string{"false"}},
		{"a in {} || b == '1'", []string{`b in {"1"}`}},
		{"a in {} || !global()", []string{"false"}},
	} {
		t.Run(tc.sel, func(t *testing.T) {
			sel, err := Parse(tc.sel)
			if err != nil {
				t.Fatal(err)
			}
			if got := renderRequirements(RequirementsOf(sel)); !slices.Equal(got, tc.want) {
				t.Errorf("Requirements(%s) = %q, want %q", tc.sel, got, tc.want)
			}
		})
	}
}

// TestRequirementsOfOpaque: a Selector that does not implement Requirer
// has no known requirements, and callers may modify the result.
func TestRequirementsOfOpaque(t *testing.T) {
	if got := RequirementsOf(opaqueSelector{MustParse("a == 'x'")}); got != nil {
		t.Errorf("RequirementsOf(opaque) = %v, want nil", got)
	}
	sel := MustParse("a in {'x', 'y'}")
	r := RequirementsOf(sel)
	r[0][0].Values[0] = "changed"
	if got := renderRequirements(RequirementsOf(sel)); !slices.Equal(got, []string{`a in {"x", "y"}`}) {
		t.Errorf("Requirements after modifying a result = %q", got)
	}
}

// randomSelector returns a random selector over keys a..d and values 1..3.
func randomSelector(rng *rand.Rand, depth int) string {
	key := string(rune('a' + rng.IntN(4)))
	value := func() string { return fmt.Sprintf("'%d'", 1+rng.IntN(3)) }
	leaf := func() string {
		switch rng.IntN(11) {
		case 0:
			return "has(" + key + ")"
		case 1:
			return "!has(" + key + ")"
		case 2:
			return key + " != " + value()
		case 3:
			return key + " in {" + value() + ", " + value() + "}"
		case 4:
			return key + " not in {" + value() + "}"
		case 5:
			return key + " contains " + value()
		case 6:
			return "all()"
		case 7:
			return key + " in {}"
		default:
			return key + " == " + value()
		}
	}
	if depth == 0 || rng.IntN(3) == 0 {
		return leaf()
	}
	a, b := randomSelector(rng, depth-1), randomSelector(rng, depth-1)
	switch rng.IntN(5) {
	case 0:
		return "!(" + a + ")"
	case 1, 2:
		return "(" + a + ") && (" + b + ")"
	default:
		return "(" + a + ") || (" + b + ")"
	}
}

// randomLabels returns a random label set over keys a..d and values 1..3.
func randomLabels(rng *rand.Rand) labelSet {
	labels := labelSet{}
	for _, k := range []string{"a", "b", "c", "d"} {
		if rng.IntN(2) == 0 {
			labels[k] = fmt.Sprint(1 + rng.IntN(3))
		}
	}
	return labels
}

// TestRequirementsRandom checks on random selectors and label sets that
// requirements are necessary conditions.
func TestRequirementsRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 3000 {
		sel := MustParse(randomSelector(rng, 3))
		for range 30 {
			checkRequirements(t, sel, randomLabels(rng))
		}
	}
}

// TestIndexRandomSelectorsAgainstBruteForce adds random selectors and
// items to an Index in random orders, mixed with label changes and
// deletions, and compares every selector's matches with a brute-force
// evaluation over every item.
func TestIndexRandomSelectorsAgainstBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for round := range 20 {
		idx := NewIndex[int, int](nil, nil)
		sels := map[int]Selector{}
		items := map[int]labelSet{}
		for step := range 600 {
			switch op := rng.IntN(10); {
			case op < 3:
				id := rng.IntN(40)
				var sel Selector = MustParse(randomSelector(rng, 3))
				if rng.IntN(8) == 0 {
					sel = opaqueSelector{sel}
				}
				sels[id] = sel
				idx.UpdateSelector(id, sel)
			case op < 4:
				id := rng.IntN(40)
				delete(sels, id)
				idx.DeleteSelector(id)
			case op < 9:
				id := rng.IntN(200)
				items[id] = randomLabels(rng)
				idx.UpdateLabels(id, items[id])
			default:
				id := rng.IntN(200)
				delete(items, id)
				idx.DeleteLabels(id)
			}
			if step%50 != 49 {
				continue
			}
			for sID, sel := range sels {
				var want []int
				for iID, labels := range items {
					if sel.Evaluate(labels) {
						want = append(want, iID)
					}
				}
				slices.Sort(want)
				if got := SortedMatches(idx, sID); !slices.Equal(got, want) {
					t.Fatalf("round %d step %d: Matches(%d = %s) = %v, want %v", round, step, sID, sel, got, want)
				}
			}
		}
	}
}

// TestIndexNewSelectorEvaluatesCandidatesOnly checks that adding a
// selector with a required label value evaluates only the items having
// that value, and a selector matching the empty set every item.
func TestIndexNewSelectorEvaluatesCandidatesOnly(t *testing.T) {
	idx := NewIndex[string, int](nil, nil)
	for i := range 1000 {
		idx.UpdateLabels(i, labelSet{"app": fmt.Sprint("app-", i%100), "ns": fmt.Sprint("ns-", i%10), "hash": fmt.Sprint(i)})
	}
	for _, tc := range []struct {
		sel         string
		evaluations int
		matches     int
	}{
		{"app == 'app-7'", 10, 10},
		{"app == 'app-7' && ns == 'ns-7'", 10, 10},
		{"ns == 'ns-7' && app in {'app-7', 'app-8'}", 20, 10}, // the app values are fewer
		{"app == 'app-7' || app == 'app-9'", 20, 20},
		{"app == 'app-7' || ns == 'ns-1'", 110, 110},
		{"has(app) && hash == '5'", 1, 1},
		{"app == 'none'", 0, 0},
		{"app in {}", 0, 0},
		{"app != 'app-7'", 1000, 990},
		{"all()", 1000, 1000},
		{"!has(other)", 1000, 1000},
		{"has(app)", 1000, 1000},
		{"has(other)", 0, 0},
	} {
		before := idx.evaluations
		idx.UpdateSelector(tc.sel, MustParse(tc.sel))
		// One evaluation over the empty set, unless the selector can never
		// match.
		n := idx.evaluations - before
		if tc.sel != "app in {}" {
			n--
		}
		if n != tc.evaluations {
			t.Errorf("adding %s: %d evaluations, want %d", tc.sel, n, tc.evaluations)
		}
		if got := len(idx.Matches(tc.sel)); got != tc.matches {
			t.Errorf("%s: %d matches, want %d", tc.sel, got, tc.matches)
		}
	}
	// Deleting the last selector naming a key with values drops its value
	// index; it is rebuilt when needed.
	for _, s := range []string{"has(app) && hash == '5'"} {
		idx.DeleteSelector(s)
	}
	if _, ok := idx.itemsByValue["hash"]; ok {
		t.Error("value index of hash kept after its last selector was deleted")
	}
	idx.UpdateLabels(5, labelSet{"app": "app-5", "hash": "five"})
	idx.UpdateSelector("five", MustParse("hash == 'five'"))
	if got := idx.Matches("five"); !slices.Equal(got, []int{5}) {
		t.Errorf("Matches(hash == 'five') = %v, want [5]", got)
	}
}
