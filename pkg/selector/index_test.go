package selector

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// recorder collects Index callbacks as "+sel/item" and "-sel/item".
type recorder struct{ events []string }

func (r *recorder) started(s, i string) { r.events = append(r.events, "+"+s+"/"+i) }
func (r *recorder) stopped(s, i string) { r.events = append(r.events, "-"+s+"/"+i) }

// take returns the sorted events since the last call and forgets them.
func (r *recorder) take() []string {
	e := r.events
	r.events = nil
	slices.Sort(e)
	return e
}

func newTestIndex() (*Index[string, string], *recorder) {
	r := &recorder{}
	return NewIndex(r.started, r.stopped), r
}

func expectEvents(t *testing.T, r *recorder, step string, want ...string) {
	t.Helper()
	slices.Sort(want)
	if got := r.take(); !slices.Equal(got, want) {
		t.Errorf("%s: events %q, want %q", step, got, want)
	}
}

// A scenario shared by the add-order tests.
var (
	indexSelectors = map[string]string{
		"web":    "app == 'web'",
		"notweb": "app != 'web'",
		"all":    "all()",
		"prod":   "env in {'prod', 'staging'} && has(app)",
	}
	indexItems = map[string]labelSet{
		"pod1": {"app": "web", "env": "prod"},
		"pod2": {"app": "db", "env": "dev"},
		"pod3": {},
	}
	indexWantMatches = map[string][]string{
		"web":    {"pod1"},
		"notweb": {"pod2", "pod3"},
		"all":    {"pod1", "pod2", "pod3"},
		"prod":   {"pod1"},
	}
)

func checkMatches(t *testing.T, idx *Index[string, string], want map[string][]string) {
	t.Helper()
	for selID, items := range want {
		if got := SortedMatches(idx, selID); !slices.Equal(got, items) {
			t.Errorf("Matches(%s) = %q, want %q", selID, got, items)
		}
	}
}

func allStartEvents(want map[string][]string) []string {
	var events []string
	for selID, items := range want {
		for _, item := range items {
			events = append(events, "+"+selID+"/"+item)
		}
	}
	return events
}

func TestIndexSelectorsThenItems(t *testing.T) {
	idx, r := newTestIndex()
	for id, s := range indexSelectors {
		idx.UpdateSelector(id, MustParse(s))
	}
	expectEvents(t, r, "selectors only")
	for id, labels := range indexItems {
		idx.UpdateLabels(id, labels)
	}
	expectEvents(t, r, "items added", allStartEvents(indexWantMatches)...)
	checkMatches(t, idx, indexWantMatches)
}

func TestIndexItemsThenSelectors(t *testing.T) {
	idx, r := newTestIndex()
	for id, labels := range indexItems {
		idx.UpdateLabels(id, labels)
	}
	expectEvents(t, r, "items only")
	for id, s := range indexSelectors {
		idx.UpdateSelector(id, MustParse(s))
	}
	expectEvents(t, r, "selectors added", allStartEvents(indexWantMatches)...)
	checkMatches(t, idx, indexWantMatches)
}

func TestIndexLabelChanges(t *testing.T) {
	idx, r := newTestIndex()
	idx.UpdateSelector("web", MustParse("app == 'web'"))
	idx.UpdateSelector("notweb", MustParse("app != 'web'"))
	idx.UpdateSelector("hasenv", MustParse("has(env)"))

	idx.UpdateLabels("pod", labelSet{"app": "db"})
	expectEvents(t, r, "add pod", "+notweb/pod")

	idx.UpdateLabels("pod", labelSet{"app": "web"})
	expectEvents(t, r, "app=web", "+web/pod", "-notweb/pod")

	idx.UpdateLabels("pod", labelSet{"app": "web", "env": "x"})
	expectEvents(t, r, "add env", "+hasenv/pod")

	idx.UpdateLabels("pod", labelSet{"app": "web", "env": "y"})
	expectEvents(t, r, "change env value")

	idx.UpdateLabels("pod", labelSet{"env": "y"})
	expectEvents(t, r, "remove app", "-web/pod", "+notweb/pod")

	idx.UpdateLabels("pod", nil)
	expectEvents(t, r, "remove all labels", "-hasenv/pod")
	checkMatches(t, idx, map[string][]string{"web": nil, "notweb": {"pod"}, "hasenv": nil})
}

func TestIndexDeletes(t *testing.T) {
	idx, r := newTestIndex()
	idx.UpdateSelector("a", MustParse("has(x)"))
	idx.UpdateSelector("b", MustParse("all()"))
	idx.UpdateLabels("i1", labelSet{"x": "1"})
	idx.UpdateLabels("i2", labelSet{"y": "1"})
	r.take()

	idx.DeleteLabels("i1")
	expectEvents(t, r, "delete i1", "-a/i1", "-b/i1")
	idx.DeleteSelector("b")
	expectEvents(t, r, "delete b", "-b/i2")
	idx.DeleteSelector("b")
	idx.DeleteLabels("i1")
	idx.DeleteSelector("never-added")
	expectEvents(t, r, "delete unknown ids")

	// Re-adding after deletion works from a clean slate.
	idx.UpdateLabels("i1", labelSet{"x": "2"})
	expectEvents(t, r, "re-add i1", "+a/i1")
	if got := idx.Matches("b"); got != nil {
		t.Errorf("Matches of deleted selector = %q, want nil", got)
	}
}

func TestIndexSelectorReplaced(t *testing.T) {
	idx, r := newTestIndex()
	idx.UpdateLabels("i1", labelSet{"app": "a"})
	idx.UpdateLabels("i2", labelSet{"app": "b"})
	idx.UpdateLabels("i3", labelSet{"app": "c"})
	idx.UpdateSelector("s", MustParse("app in {'a', 'b'}"))
	expectEvents(t, r, "add", "+s/i1", "+s/i2")

	idx.UpdateSelector("s", MustParse("app in {'b', 'c'}"))
	expectEvents(t, r, "replace", "-s/i1", "+s/i3")

	before := idx.evaluations
	idx.UpdateSelector("s", MustParse(`app in {"c", "b", "c"}`)) // same canonical form
	expectEvents(t, r, "same selector")
	if idx.evaluations != before {
		t.Errorf("re-adding an identical selector evaluated %d times", idx.evaluations-before)
	}

	// The replaced selector's old keys are no longer indexed.
	idx.UpdateSelector("s", MustParse("has(tier)"))
	expectEvents(t, r, "switch keys", "-s/i2", "-s/i3")
	idx.UpdateLabels("i1", labelSet{"app": "b"})
	expectEvents(t, r, "old key changes")
	idx.UpdateLabels("i1", labelSet{"app": "b", "tier": "x"})
	expectEvents(t, r, "new key changes", "+s/i1")
}

// opaqueSelector hides the concrete type of a parsed selector, so the Index
// falls back to key-level indexing without value gating.
type opaqueSelector struct{ Selector }

// TestIndexEvaluatesOnlyAffectedSelectors checks the cost model: changing a
// key no selector reads evaluates nothing; changing a key evaluates only the
// selectors reading it, and for parsed selectors only those whose required
// values include the old or new value.
func TestIndexEvaluatesOnlyAffectedSelectors(t *testing.T) {
	for _, opaque := range []bool{false, true} {
		t.Run(fmt.Sprint("opaque=", opaque), func(t *testing.T) {
			testIndexEvaluations(t, opaque)
		})
	}
}

func testIndexEvaluations(t *testing.T, opaque bool) {
	idx, r := newTestIndex()
	add := func(id, s string) {
		var sel Selector = MustParse(s)
		if opaque {
			sel = opaqueSelector{sel}
		}
		idx.UpdateSelector(id, sel)
	}
	for i := range 100 {
		add(fmt.Sprint("app", i), fmt.Sprintf("app == 'a%d'", i))
	}
	add("all", "all()")
	add("notier", "tier != 'db'")
	add("tier", "tier in {'web'} && has(x) || tier == 'web'")
	// With opaque selectors every selector reading a changed key is
	// evaluated; otherwise only notier, any app selector accepting the old
	// or new app value, and tier when the old or new tier is "web".
	pick := func(gated, keyLevel int) int {
		if opaque {
			return keyLevel
		}
		return gated
	}
	evaluations := func(step string, want int, update func()) {
		t.Helper()
		before := idx.evaluations
		update()
		if n := idx.evaluations - before; n != want {
			t.Errorf("%s: %d evaluations, want %d", step, n, want)
		}
	}

	evaluations("add item with an unread key", 0, func() {
		idx.UpdateLabels("pod", labelSet{"unrelated": "1"})
	})
	expectEvents(t, r, "add pod", "+all/pod", "+notier/pod")

	evaluations("change unread keys", 0, func() {
		idx.UpdateLabels("pod", labelSet{"unrelated": "2", "other": "x"})
		idx.UpdateLabels("pod", labelSet{"other": "y"})
		idx.UpdateLabels("pod", labelSet{"other": "y"}) // unchanged
	})
	expectEvents(t, r, "unread keys")

	evaluations("set tier=web", 2, func() {
		idx.UpdateLabels("pod", labelSet{"other": "y", "tier": "web"})
	})
	expectEvents(t, r, "tier=web", "+tier/pod")

	evaluations("set tier=db and app=a7", pick(3, 102), func() {
		idx.UpdateLabels("pod", labelSet{"other": "y", "tier": "db", "app": "a7"})
	})
	expectEvents(t, r, "tier=db app=a7", "-tier/pod", "-notier/pod", "+app7/pod")

	evaluations("set tier=mq and app=a8", pick(3, 102), func() {
		idx.UpdateLabels("pod", labelSet{"other": "y", "tier": "mq", "app": "a8"})
	})
	expectEvents(t, r, "tier=mq app=a8", "-app7/pod", "+app8/pod", "+notier/pod")

	evaluations("set app=zzz", pick(1, 100), func() {
		idx.UpdateLabels("pod", labelSet{"other": "y", "tier": "mq", "app": "zzz"})
	})
	expectEvents(t, r, "app=zzz", "-app8/pod")

	evaluations("add item with app", pick(1, 100), func() {
		idx.UpdateLabels("pod2", labelSet{"app": "a3"})
	})
	expectEvents(t, r, "add pod2", "+app3/pod2", "+all/pod2", "+notier/pod2")
}

func TestIndexCopiesLabels(t *testing.T) {
	idx, r := newTestIndex()
	idx.UpdateSelector("s", MustParse("a == 'x'"))
	labels := labelSet{"a": "x"}
	idx.UpdateLabels("i", labels)
	labels["a"] = "y" // must not affect the index
	idx.UpdateLabels("i", labelSet{"a": "x"})
	expectEvents(t, r, "caller mutation", "+s/i")
}

func TestIndexNilCallbacks(t *testing.T) {
	idx := NewIndex[int, int](nil, nil)
	idx.UpdateSelector(1, MustParse("has(a)"))
	idx.UpdateLabels(7, labelSet{"a": ""})
	if got := SortedMatches(idx, 1); !slices.Equal(got, []int{7}) {
		t.Errorf("Matches = %v, want [7]", got)
	}
	idx.DeleteSelector(1)
	idx.DeleteLabels(7)
}

// TestIndexRandomAgainstOracle applies random operations and checks, after
// each, that the events reported so far describe exactly the match relation
// computed by brute force.
func TestIndexRandomAgainstOracle(t *testing.T) {
	selectorPool := []string{
		"all()", "global()", "has(a)", "!has(a)", "a == '1'", "a != '1'", "b in {'1', '2'}",
		"b not in {'1'}", "a == '1' && b == '2'", "a == '1' || c contains '3'", "!(a == '2' || has(c))",
		"c starts with '1' || b ends with '2'", "a in {}", "a not in {}", "!all()",
		"(a == '1' || a in {'2', '3'}) && has(b)", "a in {'1'} && a == '2'", "a in {} && b == '1'",
		"!(a == '1') && b in {'2'} || c == '3' && b == '1'",
	}
	keys := []string{"a", "b", "c", "d"}
	values := []string{"1", "2", "3"}
	rng := rand.New(rand.NewPCG(1, 2))

	live := map[string]bool{} // "sel/item" pairs reported as matching
	idx := NewIndex(
		func(s, i string) {
			if live[s+"/"+i] {
				t.Fatalf("duplicate start %s/%s", s, i)
			}
			live[s+"/"+i] = true
		},
		func(s, i string) {
			if !live[s+"/"+i] {
				t.Fatalf("stop without start %s/%s", s, i)
			}
			delete(live, s+"/"+i)
		},
	)
	sels := map[string]Selector{}
	items := map[string]labelSet{}

	for step := range 20000 {
		switch rng.IntN(5) {
		case 0:
			id := fmt.Sprint("s", rng.IntN(8))
			var sel Selector = MustParse(selectorPool[rng.IntN(len(selectorPool))])
			if rng.IntN(4) == 0 {
				sel = opaqueSelector{sel}
			}
			sels[id] = sel
			idx.UpdateSelector(id, sel)
		case 1:
			id := fmt.Sprint("s", rng.IntN(8))
			delete(sels, id)
			idx.DeleteSelector(id)
		case 2, 3:
			id := fmt.Sprint("i", rng.IntN(10))
			labels := labelSet{}
			for _, k := range keys {
				if rng.IntN(2) == 0 {
					labels[k] = values[rng.IntN(len(values))]
				}
			}
			items[id] = labels
			idx.UpdateLabels(id, labels)
		case 4:
			id := fmt.Sprint("i", rng.IntN(10))
			delete(items, id)
			idx.DeleteLabels(id)
		}

		want := map[string]bool{}
		for sID, sel := range sels {
			var wantItems []string
			for iID, labels := range items {
				if sel.Evaluate(labels) {
					want[sID+"/"+iID] = true
					wantItems = append(wantItems, iID)
				}
			}
			slices.Sort(wantItems)
			if got := SortedMatches(idx, sID); !slices.Equal(got, wantItems) {
				t.Fatalf("step %d: Matches(%s) = %q, want %q", step, sID, got, wantItems)
			}
		}
		if len(want) != len(live) {
			t.Fatalf("step %d: %d live matches reported, want %d", step, len(live), len(want))
		}
		for pair := range want {
			if !live[pair] {
				t.Fatalf("step %d: match %s not reported", step, pair)
			}
		}
	}
}
