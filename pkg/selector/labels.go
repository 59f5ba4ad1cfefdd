package selector

import (
	"maps"
	"slices"
	"unique"
)

// Labels is a label set interned for evaluation: its keys and values are
// unique.Handles, so that looking a key up and comparing a value compare
// pointers instead of hashing and comparing strings. Build one with
// InternLabels when the same labels are evaluated by many selectors (an
// endpoint against every policy); Evaluate with a plain map is cheaper for
// a single evaluation. The zero Labels is the empty set. A Labels is
// immutable and safe for concurrent use.
type Labels struct {
	// pairs holds small sets, scanned linearly; byKey holds large ones.
	pairs []labelPair
	byKey map[unique.Handle[string]]unique.Handle[string]
}

// labelPair is one interned label.
type labelPair struct {
	key, value unique.Handle[string]
}

// linearLabelsMax is the largest label set kept as pairs.
const linearLabelsMax = 16

// InternLabels returns m as Labels. A nil map is the empty set.
func InternLabels(m map[string]string) Labels {
	if len(m) > linearLabelsMax {
		byKey := make(map[unique.Handle[string]]unique.Handle[string], len(m))
		for k, v := range m {
			byKey[unique.Make(k)] = unique.Make(v)
		}
		return Labels{byKey: byKey}
	}
	pairs := make([]labelPair, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		pairs = append(pairs, labelPair{unique.Make(k), unique.Make(m[k])})
	}
	return Labels{pairs: pairs}
}

// Len returns the number of labels.
func (l Labels) Len() int { return len(l.pairs) + len(l.byKey) }

// get returns the value of key and whether it is present.
func (l Labels) get(key unique.Handle[string]) (unique.Handle[string], bool) {
	if l.byKey != nil {
		v, ok := l.byKey[key]
		return v, ok
	}
	for _, p := range l.pairs {
		if p.key == key {
			return p.value, true
		}
	}
	return unique.Handle[string]{}, false
}

// LabelsEvaluator is implemented by the selectors Parse returns: it
// evaluates a selector against interned labels.
type LabelsEvaluator interface {
	// EvaluateLabels reports whether the label set matches; it gives the
	// same result as Evaluate on the map the labels were interned from.
	EvaluateLabels(labels Labels) bool
}
