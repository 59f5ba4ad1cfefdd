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
// (Selector.LabelKeys), so:
//
//   - when an item's labels change, only selectors reading a key whose
//     presence or value changed are evaluated; a change to a key no selector
//     reads evaluates nothing. For selectors returned by Parse this is
//     narrowed further: a selector that can only match when key k has one of
//     a set of values (k == "v", k in {...}, or such a condition in every
//     branch of an "||" or in any operand of an "&&") is skipped when neither
//     the old nor the new value of k is in that set;
//   - when an item is added, only selectors reading one of its keys are
//     evaluated; every other selector matches it exactly when it matches the
//     empty label set, which is computed once per selector;
//   - when a selector is added or changed, only items having one of its keys
//     are evaluated, by the same reasoning in the other direction.
//
// Index works with any Selector implementation whose LabelKeys is complete.
// It is not safe for concurrent use and starts no goroutines. Callbacks run
// synchronously, in no specified order, and must not call back into the
// Index.
type Index[S comparable, I comparable] struct {
	onMatchStarted func(S, I)
	onMatchStopped func(S, I)

	selectors map[S]*indexedSelector[S, I]
	items     map[I]*indexedItem[S]

	// selectorsByKey finds the selectors reading a label key.
	selectorsByKey map[string]*keySelectors[S, I]
	// itemsByKey maps a label key to the items that have it.
	itemsByKey map[string]map[I]struct{}
	// emptyMatchers holds the selectors that match the empty label set and
	// hence every item that has none of their keys.
	emptyMatchers map[S]struct{}

	// Scratch space, reused across calls to avoid allocation. A selector is
	// in candidates iff its visited field equals epoch.
	candidates  []*indexedSelector[S, I]
	epoch       uint64
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

// indexedSelector is the Index's record of one selector.
type indexedSelector[S comparable, I comparable] struct {
	id           S
	visited      uint64 // see Index.candidates
	sel          Selector
	uid          string
	keys         []string
	required     map[string][]string // see requiredValues
	matchesEmpty bool
	matches      map[I]struct{}
}

// indexedItem is the Index's record of one item.
type indexedItem[S comparable] struct {
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
		items:          map[I]*indexedItem[S]{},
		selectorsByKey: map[string]*keySelectors[S, I]{},
		itemsByKey:     map[string]map[I]struct{}{},
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
	entry := &indexedSelector[S, I]{id: id, sel: sel, uid: uid, keys: sel.LabelKeys(), matches: map[I]struct{}{}}
	if p, ok := sel.(*parsedSelector); ok {
		entry.required = requiredValues(p.root)
	}
	entry.matchesEmpty = x.evaluate(sel, nil)
	x.computeMatches(entry)

	var oldMatches map[I]struct{}
	if old != nil {
		x.unindexSelector(id, old)
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

// computeMatches fills entry.matches from the current items.
func (x *Index[S, I]) computeMatches(entry *indexedSelector[S, I]) {
	candidates := map[I]struct{}{}
	for _, k := range entry.keys {
		maps.Copy(candidates, x.itemsByKey[k])
	}
	for itemID := range candidates {
		if x.evaluate(entry.sel, x.items[itemID].labels) {
			entry.matches[itemID] = struct{}{}
		}
	}
	if !entry.matchesEmpty {
		return
	}
	// Items with none of the selector's keys look like the empty set to it.
	for itemID := range x.items {
		if _, evaluated := candidates[itemID]; !evaluated {
			entry.matches[itemID] = struct{}{}
		}
	}
}

// DeleteSelector removes the selector id, reporting a stopped match for
// every item it matched. Deleting an unknown id does nothing.
func (x *Index[S, I]) DeleteSelector(id S) {
	entry := x.selectors[id]
	if entry == nil {
		return
	}
	x.unindexSelector(id, entry)
	delete(x.selectors, id)
	for itemID := range entry.matches {
		delete(x.items[itemID].matches, id)
		x.onMatchStopped(id, itemID)
	}
}

// indexSelector records entry under its label keys.
func (x *Index[S, I]) indexSelector(id S, entry *indexedSelector[S, I]) {
	for _, k := range entry.keys {
		values, gated := entry.required[k]
		if gated && len(values) == 0 {
			continue // k in {}: no value of k lets the selector match
		}
		ks := x.selectorsByKey[k]
		if ks == nil {
			ks = &keySelectors[S, I]{
				always:  map[S]*indexedSelector[S, I]{},
				byValue: map[string]map[S]*indexedSelector[S, I]{},
			}
			x.selectorsByKey[k] = ks
		}
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
			continue // gated on the empty set: never indexed
		}
		delete(ks.always, id)
		for _, v := range entry.required[k] {
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

	// Apply the change to the item's private copy and to itemsByKey.
	for _, k := range changed {
		newV, ok := labels[k]
		if !ok {
			delete(item.labels, k)
			removeFromSet(x.itemsByKey, k, id)
			continue
		}
		if _, had := item.labels[k]; !had {
			addToSet(x.itemsByKey, k, id, struct{}{})
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
	item := &indexedItem[S]{labels: maps.Clone(labels), matches: map[S]struct{}{}}
	if item.labels == nil {
		item.labels = map[string]string{}
	}
	x.items[id] = item

	x.startCandidates()
	for k := range item.labels {
		addToSet(x.itemsByKey, k, id, struct{}{})
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
	for k := range item.labels {
		removeFromSet(x.itemsByKey, k, id)
	}
	delete(x.items, id)
	for selID := range item.matches {
		delete(x.selectors[selID].matches, id)
		x.onMatchStopped(selID, id)
	}
}

// setMatch records that sel now does (or no longer does) match item id,
// and reports it.
func (x *Index[S, I]) setMatch(sel *indexedSelector[S, I], id I, item *indexedItem[S], match bool) {
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
