package selector

import (
	"slices"
	"strings"
)

// node is an element of a parsed selector's syntax tree. The parser builds
// trees in a normal form: "!" never wraps "!", and "&&" ("||") never has an
// "&&" ("||") operand.
type node interface {
	// eval reports whether the labels satisfy the expression.
	eval(labels map[string]string) bool
}

// allNode is all(): it matches every label set.
type allNode struct{}

// globalNode is global(): treated like all().
type globalNode struct{}

// hasNode is has(key).
type hasNode struct{ key string }

// compareOp is an operator comparing a label's value with one string.
type compareOp int

const (
	opEq compareOp = iota
	opNe
	opContains
	opStartsWith
	opEndsWith
)

// String returns the operator as written in a selector.
func (op compareOp) String() string {
	switch op {
	case opEq:
		return "=="
	case opNe:
		return "!="
	case opContains:
		return "contains"
	case opStartsWith:
		return "starts with"
	default:
		return "ends with"
	}
}

// compareNode is `key <op> "value"`.
type compareNode struct {
	key   string
	op    compareOp
	value string
}

// setNode is `key in {...}`, or `key not in {...}` when negated.
type setNode struct {
	key     string
	negated bool
	values  []string // sorted, deduplicated
}

// notNode is !operand.
type notNode struct{ operand node }

// andNode is operands[0] && operands[1] && ...
type andNode struct{ operands []node }

// orNode is operands[0] || operands[1] || ...
type orNode struct{ operands []node }

func (allNode) eval(map[string]string) bool    { return true }
func (globalNode) eval(map[string]string) bool { return true }

func (n *hasNode) eval(labels map[string]string) bool {
	_, ok := labels[n.key]
	return ok
}

func (n *compareNode) eval(labels map[string]string) bool {
	v, ok := labels[n.key]
	if !ok {
		return n.op == opNe // Calico: "!=" matches an absent label.
	}
	switch n.op {
	case opEq:
		return v == n.value
	case opNe:
		return v != n.value
	case opContains:
		return strings.Contains(v, n.value)
	case opStartsWith:
		return strings.HasPrefix(v, n.value)
	default:
		return strings.HasSuffix(v, n.value)
	}
}

func (n *setNode) eval(labels map[string]string) bool {
	v, ok := labels[n.key]
	if !ok {
		return n.negated // Calico: "not in" matches an absent label.
	}
	_, found := slices.BinarySearch(n.values, v)
	return found != n.negated
}

func (n *notNode) eval(labels map[string]string) bool { return !n.operand.eval(labels) }

func (n *andNode) eval(labels map[string]string) bool {
	for _, o := range n.operands {
		if !o.eval(labels) {
			return false
		}
	}
	return true
}

func (n *orNode) eval(labels map[string]string) bool {
	for _, o := range n.operands {
		if o.eval(labels) {
			return true
		}
	}
	return false
}

// negate returns !n, cancelling a double negation.
func negate(n node) node {
	if inner, ok := n.(*notNode); ok {
		return inner.operand
	}
	return &notNode{operand: n}
}

// labelKeys returns the sorted, deduplicated label keys that n reads, or nil.
func labelKeys(n node) []string {
	var keys []string
	var walk func(node)
	walk = func(n node) {
		switch n := n.(type) {
		case *hasNode:
			keys = append(keys, n.key)
		case *compareNode:
			keys = append(keys, n.key)
		case *setNode:
			keys = append(keys, n.key)
		case *notNode:
			walk(n.operand)
		case *andNode:
			for _, o := range n.operands {
				walk(o)
			}
		case *orNode:
			for _, o := range n.operands {
				walk(o)
			}
		}
	}
	walk(n)
	slices.Sort(keys)
	return slices.Compact(keys)
}
