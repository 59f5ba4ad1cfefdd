package selector

import (
	"slices"
	"strings"
)

// Term is a condition on one label of a label set: the label Key is
// present and, when Values is not nil, its value is one of Values. A
// non-nil empty Values is a condition no label set satisfies.
type Term struct {
	Key    string
	Values []string // nil: any value
}

// Clause is a disjunction of Terms: a label set satisfies it when it
// satisfies at least one of them. An empty Clause is never satisfied.
type Clause []Term

// Requirer is implemented by Selectors that can state necessary conditions
// for a match, which Index uses to find the candidate items of a new
// selector and to skip selectors a label change cannot affect. The
// selectors returned by Parse implement it.
type Requirer interface {
	// Requirements returns clauses that every label set the selector
	// matches satisfies (a conjunction; nil means none are known). The
	// keys of the terms must be among LabelKeys. The result may be weaker
	// than the selector but never stronger; the caller may modify it.
	Requirements() []Clause
}

// RequirementsOf returns sel.Requirements() if sel implements Requirer, and
// nil otherwise.
func RequirementsOf(sel Selector) []Clause {
	if r, ok := sel.(Requirer); ok {
		return r.Requirements()
	}
	return nil
}

// String renders the clause as a selector-like expression, e.g.
// `a in {"x"} || has(b)`; the empty clause is "false". Meant for tests and
// debugging.
func (c Clause) String() string {
	if len(c) == 0 {
		return "false"
	}
	parts := make([]string, len(c))
	for i, t := range c {
		parts[i] = t.String()
	}
	return strings.Join(parts, " || ")
}

// String renders the term, e.g. `has(b)` or `a in {"x", "y"}`.
func (t Term) String() string {
	if t.Values == nil {
		return "has(" + t.Key + ")"
	}
	return canonicalString(&setNode{key: t.Key, values: t.Values})
}

// maxOrClauses bounds the number of clauses derived from an "||" by
// distributing it over its operands' clauses.
const maxOrClauses = 16

// requirements returns necessary conditions for n to match, in a normal
// form: each clause has at most one term per key, sorted by key, with
// sorted values; no clause is implied by another; and [[]] (one empty
// clause) when n can never match.
func requirements(n node) []Clause {
	switch n := n.(type) {
	case *hasNode:
		return []Clause{{{Key: n.key}}}
	case *compareNode:
		switch n.op {
		case opEq:
			return []Clause{{{Key: n.key, Values: []string{n.value}}}}
		case opNe:
			return nil // an absent label matches
		default:
			return []Clause{{{Key: n.key}}} // an absent label does not match
		}
	case *setNode:
		if n.negated {
			return nil // an absent label matches
		}
		return setRequirements(n)
	case *notNode:
		switch o := n.operand.(type) {
		case allNode, globalNode:
			return []Clause{{}}
		case *compareNode:
			if o.op == opNe {
				return []Clause{{{Key: o.key, Values: []string{o.value}}}}
			}
		case *setNode:
			if o.negated {
				return setRequirements(o)
			}
		}
		return nil
	case *andNode:
		var out []Clause
		for _, o := range n.operands {
			out = append(out, requirements(o)...)
		}
		return simplify(out)
	case *orNode:
		return orRequirements(n.operands)
	}
	return nil // all(), global()
}

// setRequirements returns the requirements of `key in {values}`.
func setRequirements(n *setNode) []Clause {
	if len(n.values) == 0 {
		return []Clause{{}}
	}
	return []Clause{{{Key: n.key, Values: slices.Clone(n.values)}}}
}

// orRequirements returns necessary conditions for one of the operands to
// match: the distribution of the "||" over the operands' clauses.
func orRequirements(operands []node) []Clause {
	var lists [][]Clause
	size := 1
	for _, o := range operands {
		req := requirements(o)
		switch {
		case len(req) == 0:
			return nil // this operand may match anything
		case len(req) == 1 && len(req[0]) == 0:
			continue // this operand never matches
		}
		lists = append(lists, req)
		size *= len(req)
		size = min(size, maxOrClauses+1)
	}
	if len(lists) == 0 {
		return []Clause{{}}
	}
	if size > maxOrClauses {
		// Keep one clause per operand; any subset of an operand's
		// clauses is still necessary for it.
		for i, l := range lists {
			lists[i] = []Clause{slices.MinFunc(l, func(a, b Clause) int { return len(a) - len(b) })}
		}
	}
	out := []Clause{nil}
	for _, l := range lists {
		var next []Clause
		for _, acc := range out {
			for _, c := range l {
				next = append(next, mergeClauses(acc, c))
			}
		}
		out = next
	}
	return simplify(out)
}

// mergeClauses returns the disjunction of a and b (both normalized).
func mergeClauses(a, b Clause) Clause {
	out := make(Clause, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || i < len(a) && a[i].Key < b[j].Key:
			out = append(out, a[i])
			i++
		case i == len(a) || b[j].Key < a[i].Key:
			out = append(out, b[j])
			j++
		default:
			t := Term{Key: a[i].Key}
			if a[i].Values != nil && b[j].Values != nil {
				t.Values = slices.Compact(slices.Sorted(slices.Values(slices.Concat(a[i].Values, b[j].Values))))
			}
			out = append(out, t)
			i++
			j++
		}
	}
	return out
}

// simplify normalizes a conjunction of clauses: terms that cannot be
// satisfied are dropped, single-term clauses on the same key are
// intersected, clauses implied by another are dropped, and the result is
// [[]] if a clause cannot be satisfied.
func simplify(cs []Clause) []Clause {
	var out []Clause
	single := map[string]int{} // key -> index in out of its single-term clause
	for _, c := range cs {
		c = normalizeClause(c)
		if len(c) == 0 {
			return []Clause{{}}
		}
		if len(c) == 1 {
			if i, ok := single[c[0].Key]; ok {
				t := intersectTerms(out[i][0], c[0])
				if t.Values != nil && len(t.Values) == 0 {
					return []Clause{{}}
				}
				out[i] = Clause{t}
				continue
			}
			single[c[0].Key] = len(out)
		}
		out = append(out, c)
	}
	// Drop clauses implied by another (keeping the first of equal ones).
	kept := out[:0]
	for i, c := range out {
		redundant := false
		for j, d := range out {
			if i != j && implies(d, c) && (!implies(c, d) || j < i) {
				redundant = true
				break
			}
		}
		if !redundant {
			kept = append(kept, c)
		}
	}
	return kept
}

// normalizeClause sorts the terms of c by key, merges terms on the same
// key, sorts and deduplicates values and drops terms that cannot be
// satisfied. It does not modify c.
func normalizeClause(c Clause) Clause {
	out := make(Clause, 0, len(c))
	for _, t := range c {
		if t.Values != nil {
			if len(t.Values) == 0 {
				continue
			}
			t.Values = slices.Compact(slices.Sorted(slices.Values(t.Values)))
		}
		out = append(out, t)
	}
	slices.SortStableFunc(out, func(a, b Term) int { return strings.Compare(a.Key, b.Key) })
	merged := out[:0]
	for _, t := range out {
		if n := len(merged); n > 0 && merged[n-1].Key == t.Key {
			merged[n-1] = mergeClauses(Clause{merged[n-1]}, Clause{t})[0]
			continue
		}
		merged = append(merged, t)
	}
	return merged
}

// intersectTerms returns the condition of both terms (same key).
func intersectTerms(a, b Term) Term {
	switch {
	case a.Values == nil:
		return b
	case b.Values == nil:
		return a
	}
	values := []string{}
	for _, v := range a.Values {
		if _, found := slices.BinarySearch(b.Values, v); found {
			values = append(values, v)
		}
	}
	return Term{Key: a.Key, Values: values}
}

// implies reports whether satisfying normalized clause c always satisfies
// normalized clause d: every term of c is covered by d's term on its key.
func implies(c, d Clause) bool {
	for _, t := range c {
		i, found := slices.BinarySearchFunc(d, t.Key, func(u Term, k string) int { return strings.Compare(u.Key, k) })
		if !found {
			return false
		}
		u := d[i]
		if u.Values == nil {
			continue
		}
		if t.Values == nil {
			return false
		}
		for _, v := range t.Values {
			if _, ok := slices.BinarySearch(u.Values, v); !ok {
				return false
			}
		}
	}
	return true
}

// cloneClauses returns a deep copy of cs.
func cloneClauses(cs []Clause) []Clause {
	if cs == nil {
		return nil
	}
	out := make([]Clause, len(cs))
	for i, c := range cs {
		out[i] = make(Clause, len(c))
		for j, t := range c {
			out[i][j] = Term{Key: t.Key, Values: slices.Clone(t.Values)}
		}
	}
	return out
}
