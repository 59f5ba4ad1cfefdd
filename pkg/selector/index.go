package selector

import (
	"cmp"
	"maps"
	"slices"
)

// Index maintains the match relation between a set of selectors (keyed by S)
// and a set of labelled items (keyed by I), and reports every change of that
// relation through the callbacks given to NewIndex.
//
// The result of a selector depends only on the label keys it reads
// (Selector.LabelKeys), and a selector implementing Requirer (as those
// returned by Parse do) states necessary conditions for a match, so:
//
//   - when an item's labels change, only selectors reading a key whose
//     presence or value changed are evaluated; a change to a key no selector
//     reads evaluates nothing. A selector that can only match when key k has
//     one of a set of values (a Requirements clause of one term with values,
//     e.g. from k == "v", k in {...}, or such a condition in every branch of
//     an "||" or in any operand of an "&&") is skipped when neither the old
//     nor the new value of k is in that set;
//   - when an item is added, only selectors reading one of its keys and not
//     skipped by that rule are evaluated; every other selector matches it
//     exactly when it matches the empty label set, which is computed once
//     per selector;
//   - when a selector is added or changed, and it does not match the empty
//     label set, only the items satisfying one of its Requirements clauses,
//     or having one of its keys, are evaluated, whichever are fewer: the
//     Index keeps the items by value for every key that a selector's
//     requirements name with values. A selector matching the empty label
//     set (e.g. all(), !has(k)) is evaluated against every item.
//
// Index works with any Selector implementation whose LabelKeys is complete
// and whose Requirements, if any, are necessary conditions. It is not safe
// for concurrent use and starts no goroutines. Callbacks run synchronously,
// in no specified order, and must not call back into the Index.
type Index[S comparable, I comparable] struct {
	onMatchStarted func(S, I)
	onMatchStopped func(S, I)

	selectors map[S]*indexedSelector[S, I]
	items     map[I]*indexedItem[S, I]

	// selectorsByKey finds the selectors reading a label key.
	selectorsByKey map[string]*keySelectors[S, I]
	// itemsByKey maps a label key to the items that have it.
	itemsByKey map[string]map[I]*indexedItem[S, I]
	// itemsByValue maps a label key that some selector's requirements
	// name with values to, under each value, the items having it.
	itemsByValue map[string]*valueItems[S, I]
	// emptyMatchers holds the selectors that match the empty label set and
	// hence every item that has none of their keys.
	emptyMatchers map[S]struct{}

	// Scratch space, reused across calls to avoid allocation. A selector is
	// in candidates iff its visited field equals epoch; an item has been
	// seen by computeMatches iff its visited field equals itemEpoch.
	candidates  []*indexedSelector[S, I]
	epoch       uint64
	itemEpoch   uint64
	changedKeys []string

	// evaluations counts Selector.Evaluate calls; read by tests.
	evaluations int
}

// keySelectors holds the selectors that read one label key.
type keySelectors[S comparable, I comparable] struct {
	// always holds the selectors that must be re-evaluated on any change of
	// the key.
	always map[S]*indexedSelector[S, I]
	// byValue holds, under each value, the selectors that can only match
	// when the key has one of a set of values including that one.
	byValue map[string]map[S]*indexedSelector[S, I]
}

// valueItems indexes the items having one label key by its value.
type valueItems[S comparable, I comparable] struct {
	refs  int // selectors whose requirements name the key with values
	items map[string]map[I]*indexedItem[S, I]
}

// indexedSelector is the Index's record of one selector.
type indexedSelector[S comparable, I comparable] struct {
	id      S
	visited uint64 // see Index.candidates
	sel     Selector
	uid     string
	keys    []string
	reqs    []Clause
	// gates holds, for some keys, the values one of which the key must
	// have for the selector to match (from single-term clauses).
	gates map[string][]string
	// valueKeys are the keys the requirements name with values.
	valueKeys []string
	// never is set when a requirement cannot be satisfied: the selector
	// matches nothing and is not indexed under any key.
	never        bool
	matchesEmpty bool
	matches      map[I]struct{}
}

// indexedItem is the Index's record of one item.
type indexedItem[S comparable, I comparable] struct {
	id      I
	visited uint64            // see Index.itemEpoch
	labels  map[string]string // private copy
	matches map[S]struct{}
}

// NewIndex returns an empty Index. onMatchStarted is called when a selector
// starts matching an item and onMatchStopped when it stops, including when
// either is deleted. Either callback may be nil.
func NewIndex[S comparable, I comparable](onMatchStarted, onMatchStopped func(S, I)) *Index[S, I] {
	if onMatchStarted == nil {
		onMatchStarted = func(S, I) {}
	}
	if onMatchStopped == nil {
		onMatchStopped = func(S, I) {}
	}
	return &Index[S, I]{
		onMatchStarted: onMatchStarted,
		onMatchStopped: onMatchStopped,
		selectors:      map[S]*indexedSelector[S, I]{},
		items:          map[I]*indexedItem[S, I]{},
		selectorsByKey: map[string]*keySelectors[S, I]{},
		itemsByKey:     map[string]map[I]*indexedItem[S, I]{},
		itemsByValue:   map[string]*valueItems[S, I]{},
		emptyMatchers:  map[S]struct{}{},
	}
}

// UpdateSelector adds the selector id or replaces its expression, reporting
// the resulting match changes. Replacing a selector with one of the same
// UniqueID does nothing. sel must not be nil.
func (x *Index[S, I]) UpdateSelector(id S, sel Selector) {
	uid := sel.UniqueID()
	old := x.selectors[id]
	if old != nil && old.uid == uid {
		old.sel = sel
		return
	}
	entry := newIndexedSelector[S, I](id, sel, uid)
	x.acquireValueIndexes(entry)
	if !entry.never {
		entry.matchesEmpty = x.evaluate(sel, nil)
		x.computeMatches(entry)
	}

	var oldMatches map[I]struct{}
	if old != nil {
		x.unindexSelector(id, old)
		x.releaseValueIndexes(old)
		oldMatches = old.matches
	}
	x.selectors[id] = entry
	x.indexSelector(id, entry)

	for itemID := range oldMatches {
		if _, still := entry.matches[itemID]; !still {
			delete(x.items[itemID].matches, id)
			x.onMatchStopped(id, itemID)
		}
	}
	for itemID := range entry.matches {
		if _, was := oldMatches[itemID]; !was {
			x.items[itemID].matches[id] = struct{}{}
			x.onMatchStarted(id, itemID)
		}
	}
}

// newIndexedSelector returns the record of a new selector, its gates
// derived from its requirements.
func newIndexedSelector[S comparable, I comparable](id S, sel Selector, uid string) *indexedSelector[S, I] {
	entry := &indexedSelector[S, I]{id: id, sel: sel, uid: uid, keys: sel.LabelKeys(), matches: map[I]struct{}{}}
	entry.reqs = RequirementsOf(sel)
	entry.gates = map[string][]string{}
	for _, c := range entry.reqs {
		satisfiable := false
		for _, t := range c {
			if t.Values == nil || len(t.Values) > 0 {
				satisfiable = true
			}
			if t.Values != nil && !slices.Contains(entry.valueKeys, t.Key) {
				entry.valueKeys = append(entry.valueKeys, t.Key)
			}
		}
		if !satisfiable {
			entry.never = true
		}
		if len(c) != 1 || c[0].Values == nil {
			continue
		}
		k, values := c[0].Key, c[0].Values
		if prev, ok := entry.gates[k]; ok {
			values = slices.DeleteFunc(slices.Clone(prev), func(v string) bool { return !slices.Contains(values, v) })
		}
		entry.gates[k] = values
		if len(values) == 0 {
			entry.never = true
		}
	}
	if entry.never {
		entry.keys, entry.reqs, entry.gates, entry.valueKeys = nil, nil, nil, nil
	}
	return entry
}

// acquireValueIndexes makes sure the items are indexed by value for every
// key the selector's requirements name with values.
func (x *Index[S, I]) acquireValueIndexes(entry *indexedSelector[S, I]) {
	for _, k := range entry.valueKeys {
		vi := x.itemsByValue[k]
		if vi == nil {
			vi = &valueItems[S, I]{items: map[string]map[I]*indexedItem[S, I]{}}
			for itemID, item := range x.itemsByKey[k] {
				addToSet(vi.items, item.labels[k], itemID, item)
			}
			x.itemsByValue[k] = vi
		}
		vi.refs++
	}
}

// releaseValueIndexes reverses acquireValueIndexes.
func (x *Index[S, I]) releaseValueIndexes(entry *indexedSelector[S, I]) {
	for _, k := range entry.valueKeys {
		if vi := x.itemsByValue[k]; vi != nil {
			if vi.refs--; vi.refs <= 0 {
				delete(x.itemsByValue, k)
			}
		}
	}
}

// computeMatches fills entry.matches from the current items.
func (x *Index[S, I]) computeMatches(entry *indexedSelector[S, I]) {
	if entry.matchesEmpty {
		// Items with none of the selector's keys match: no shortcut.
		for itemID, item := range x.items {
			if x.evaluate(entry.sel, item.labels) {
				entry.matches[itemID] = struct{}{}
			}
		}
		return
	}
	// Only items satisfying every clause can match. Having one of the
	// selector's keys is such a clause too (an item with none of them
	// looks like the empty set to the selector). Evaluate the items of
	// the clause that has the fewest.
	var best Clause
	bestCost := 0
	for _, k := range entry.keys {
		bestCost += len(x.itemsByKey[k])
	}
	for _, c := range entry.reqs {
		if cost := x.clauseCost(c); cost < bestCost {
			best, bestCost = c, cost
		}
	}
	if best == nil {
		best = make(Clause, len(entry.keys))
		for i, k := range entry.keys {
			best[i] = Term{Key: k}
		}
	}
	x.itemEpoch++
	visit := func(item *indexedItem[S, I]) {
		if item.visited == x.itemEpoch {
			return
		}
		item.visited = x.itemEpoch
		if x.evaluate(entry.sel, item.labels) {
			entry.matches[item.id] = struct{}{}
		}
	}
	for _, t := range best {
		vi := x.itemsByValue[t.Key]
		if t.Values == nil || vi == nil {
			for _, item := range x.itemsByKey[t.Key] {
				visit(item)
			}
			continue
		}
		for _, v := range t.Values {
			for _, item := range vi.items[v] {
				visit(item)
			}
		}
	}
}

// clauseCost returns how many items the clause's terms select (counting
// an item once per term).
func (x *Index[S, I]) clauseCost(c Clause) int {
	cost := 0
	for _, t := range c {
		vi := x.itemsByValue[t.Key]
		if t.Values == nil || vi == nil {
			cost += len(x.itemsByKey[t.Key])
			continue
		}
		for _, v := range t.Values {
			cost += len(vi.items[v])
		}
	}
	return cost
}

// DeleteSelector removes the selector id, reporting a stopped match for
// every item it matched. Deleting an unknown id does nothing.
func (x *Index[S, I]) DeleteSelector(id S) {
	entry := x.selectors[id]
	if entry == nil {
		return
	}
	x.unindexSelector(id, entry)
	x.releaseValueIndexes(entry)
	delete(x.selectors, id)
	for itemID := range entry.matches {
		delete(x.items[itemID].matches, id)
		x.onMatchStopped(id, itemID)
	}
}

// indexSelector records entry under its label keys.
func (x *Index[S, I]) indexSelector(id S, entry *indexedSelector[S, I]) {
	for _, k := range entry.keys {
		ks := x.selectorsByKey[k]
		if ks == nil {
			ks = &keySelectors[S, I]{
				always:  map[S]*indexedSelector[S, I]{},
				byValue: map[string]map[S]*indexedSelector[S, I]{},
			}
			x.selectorsByKey[k] = ks
		}
		values, gated := entry.gates[k]
		if !gated {
			ks.always[id] = entry
			continue
		}
		for _, v := range values {
			addToSet(ks.byValue, v, id, entry)
		}
	}
	if entry.matchesEmpty {
		x.emptyMatchers[id] = struct{}{}
	}
}

// unindexSelector reverses indexSelector.
func (x *Index[S, I]) unindexSelector(id S, entry *indexedSelector[S, I]) {
	for _, k := range entry.keys {
		ks := x.selectorsByKey[k]
		if ks == nil {
			continue
		}
		delete(ks.always, id)
		for _, v := range entry.gates[k] {
			removeFromSet(ks.byValue, v, id)
		}
		if len(ks.always) == 0 && len(ks.byValue) == 0 {
			delete(x.selectorsByKey, k)
		}
	}
	delete(x.emptyMatchers, id)
}

// UpdateLabels adds the item id or replaces its labels, reporting the
// resulting match changes. The Index keeps its own copy of labels.
func (x *Index[S, I]) UpdateLabels(id I, labels map[string]string) {
	item := x.items[id]
	if item == nil {
		x.addItem(id, labels)
		return
	}

	// Only selectors reading a key whose presence or value changed can
	// change their result.
	changed := x.changedKeys[:0]
	for k, oldV := range item.labels {
		if newV, ok := labels[k]; !ok || newV != oldV {
			changed = append(changed, k)
		}
	}
	for k := range labels {
		if _, ok := item.labels[k]; !ok {
			changed = append(changed, k)
		}
	}
	x.changedKeys = changed[:0]
	if len(changed) == 0 {
		return
	}

	x.startCandidates()
	for _, k := range changed {
		x.addCandidates(k, item.labels, labels)
	}

	// Apply the change to the item's private copy, itemsByKey and
	// itemsByValue.
	for _, k := range changed {
		oldV, had := item.labels[k]
		newV, ok := labels[k]
		vi := x.itemsByValue[k]
		if had && vi != nil {
			removeFromSet(vi.items, oldV, id)
		}
		if !ok {
			delete(item.labels, k)
			removeFromSet(x.itemsByKey, k, id)
			continue
		}
		if !had {
			addToSet(x.itemsByKey, k, id, item)
		}
		if vi != nil {
			addToSet(vi.items, newV, id, item)
		}
		item.labels[k] = newV
	}

	for _, sel := range x.candidates {
		now := x.evaluate(sel.sel, item.labels)
		if _, was := item.matches[sel.id]; now != was {
			x.setMatch(sel, id, item, now)
		}
	}
}

// addItem handles UpdateLabels for an item the Index has not seen.
func (x *Index[S, I]) addItem(id I, labels map[string]string) {
	item := &indexedItem[S, I]{id: id, labels: maps.Clone(labels), matches: map[S]struct{}{}}
	if item.labels == nil {
		item.labels = map[string]string{}
	}
	x.items[id] = item

	x.startCandidates()
	for k, v := range item.labels {
		addToSet(x.itemsByKey, k, id, item)
		if vi := x.itemsByValue[k]; vi != nil {
			addToSet(vi.items, v, id, item)
		}
		x.addCandidates(k, nil, item.labels)
	}
	for _, sel := range x.candidates {
		if x.evaluate(sel.sel, item.labels) {
			x.setMatch(sel, id, item, true)
		}
	}
	// The remaining selectors see no relevant label: they match exactly if
	// they match the empty set. (A selector gated on one of the item's keys
	// that was skipped above does not match the empty set either.)
	for selID := range x.emptyMatchers {
		if sel := x.selectors[selID]; sel.visited != x.epoch {
			x.setMatch(sel, id, item, true)
		}
	}
}

// startCandidates empties the candidate list.
func (x *Index[S, I]) startCandidates() {
	clear(x.candidates) // drop pointers to deleted selectors
	x.candidates = x.candidates[:0]
	x.epoch++
}

// addCandidates adds to the candidate list every selector whose result may
// differ between oldLabels and newLabels because of key k.
func (x *Index[S, I]) addCandidates(k string, oldLabels, newLabels map[string]string) {
	ks := x.selectorsByKey[k]
	if ks == nil {
		return
	}
	for _, sel := range ks.always {
		x.addCandidate(sel)
	}
	// A selector gated on k can only be affected if the old or the new
	// value is one it accepts.
	if v, ok := oldLabels[k]; ok {
		for _, sel := range ks.byValue[v] {
			x.addCandidate(sel)
		}
	}
	if v, ok := newLabels[k]; ok {
		for _, sel := range ks.byValue[v] {
			x.addCandidate(sel)
		}
	}
}

// addCandidate adds sel to the candidate list unless it is already there.
func (x *Index[S, I]) addCandidate(sel *indexedSelector[S, I]) {
	if sel.visited != x.epoch {
		sel.visited = x.epoch
		x.candidates = append(x.candidates, sel)
	}
}

// DeleteLabels removes the item id, reporting a stopped match for every
// selector that matched it. Deleting an unknown id does nothing.
func (x *Index[S, I]) DeleteLabels(id I) {
	item := x.items[id]
	if item == nil {
		return
	}
	for k, v := range item.labels {
		removeFromSet(x.itemsByKey, k, id)
		if vi := x.itemsByValue[k]; vi != nil {
			removeFromSet(vi.items, v, id)
		}
	}
	delete(x.items, id)
	for selID := range item.matches {
		delete(x.selectors[selID].matches, id)
		x.onMatchStopped(selID, id)
	}
}

// setMatch records that sel now does (or no longer does) match item id,
// and reports it.
func (x *Index[S, I]) setMatch(sel *indexedSelector[S, I], id I, item *indexedItem[S, I], match bool) {
	if match {
		sel.matches[id] = struct{}{}
		item.matches[sel.id] = struct{}{}
		x.onMatchStarted(sel.id, id)
		return
	}
	delete(sel.matches, id)
	delete(item.matches, sel.id)
	x.onMatchStopped(sel.id, id)
}

// Matches returns the items the selector id currently matches, in no
// particular order (see SortedMatches), or nil if id is unknown.
func (x *Index[S, I]) Matches(id S) []I {
	sel := x.selectors[id]
	if sel == nil {
		return nil
	}
	return slices.Collect(maps.Keys(sel.matches))
}

// SortedMatches is Index.Matches with the result sorted, for item keys that
// are ordered.
func SortedMatches[S comparable, I cmp.Ordered](x *Index[S, I], id S) []I {
	m := x.Matches(id)
	slices.Sort(m)
	return m
}

// evaluate runs sel against labels, counting the evaluation.
func (x *Index[S, I]) evaluate(sel Selector, labels map[string]string) bool {
	x.evaluations++
	return sel.Evaluate(labels)
}

// addToSet adds v (with payload t) to the set stored under k, creating the
// set if needed.
func addToSet[K, V comparable, T any](m map[K]map[V]T, k K, v V, t T) {
	set := m[k]
	if set == nil {
		set = map[V]T{}
		m[k] = set
	}
	set[v] = t
}

// removeFromSet removes v from the set stored under k, dropping empty sets.
func removeFromSet[K, V comparable, T any](m map[K]map[V]T, k K, v V) {
	set := m[k]
	delete(set, v)
	if len(set) == 0 {
		delete(m, k)
	}
}
