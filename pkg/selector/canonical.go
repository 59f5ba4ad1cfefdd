package selector

import "strings"

// Operator precedence levels used to decide where parentheses are needed.
const (
	precOr = iota + 1
	precAnd
	precUnary // "!", function calls and comparisons
)

// canonicalString renders n in the canonical form described in the package
// documentation.
func canonicalString(n node) string {
	var b strings.Builder
	writeNode(&b, n)
	return b.String()
}

// writeNode appends the canonical form of n to b.
func writeNode(b *strings.Builder, n node) {
	switch n := n.(type) {
	case allNode:
		b.WriteString("all()")
	case globalNode:
		b.WriteString("global()")
	case *hasNode:
		b.WriteString("has(")
		b.WriteString(n.key)
		b.WriteString(")")
	case *compareNode:
		b.WriteString(n.key)
		b.WriteString(" ")
		b.WriteString(n.op.String())
		b.WriteString(" ")
		writeString(b, n.value)
	case *setNode:
		b.WriteString(n.key)
		if n.negated {
			b.WriteString(" not in {")
		} else {
			b.WriteString(" in {")
		}
		for i, v := range n.values {
			if i > 0 {
				b.WriteString(", ")
			}
			writeString(b, v)
		}
		b.WriteString("}")
	case *notNode:
		b.WriteString("!")
		writeOperand(b, n.operand, precUnary)
	case *andNode:
		for i, o := range n.operands {
			if i > 0 {
				b.WriteString(" && ")
			}
			writeOperand(b, o, precAnd)
		}
	case *orNode:
		for i, o := range n.operands {
			if i > 0 {
				b.WriteString(" || ")
			}
			writeOperand(b, o, precOr)
		}
	}
}

// writeOperand writes n, parenthesised if it binds more loosely than its
// parent operator.
func writeOperand(b *strings.Builder, n node, parent int) {
	if precedence(n) < parent {
		b.WriteString("(")
		writeNode(b, n)
		b.WriteString(")")
		return
	}
	writeNode(b, n)
}

// precedence returns how tightly n's top-level operator binds.
func precedence(n node) int {
	switch n.(type) {
	case *orNode:
		return precOr
	case *andNode:
		return precAnd
	default:
		return precUnary
	}
}

// writeString writes s as a literal: double-quoted unless s contains a
// double quote. The lexer guarantees s cannot contain both quote characters.
func writeString(b *strings.Builder, s string) {
	q := `"`
	if strings.Contains(s, `"`) {
		q = `'`
	}
	b.WriteString(q)
	b.WriteString(s)
	b.WriteString(q)
}
