package selector

import (
	"slices"
	"strings"
	"unique"
)

// testOp is the condition one instruction of a compiled program checks.
// Negations ("!", "!=", "not in") cost nothing at run time: the compiler
// swaps the instruction's jump targets instead.
type testOp uint8

const (
	testHas        testOp = iota // the label is present
	testEq                       // the label is present and equals value
	testIn                       // the label is present and is one of values
	testContains                 // the label is present and contains value
	testStartsWith               // the label is present and starts with value
	testEndsWith                 // the label is present and ends with value
)

// Jump targets that end a program run.
const (
	pcAccept int32 = -1 // the selector matches
	pcReject int32 = -2 // the selector does not match
)

// linearSetMax is the largest set searched linearly; larger sets are
// searched by bisection.
const linearSetMax = 8

// instruction tests one label and jumps to onTrue or onFalse, each the index
// of the next instruction or pcAccept / pcReject.
type instruction struct {
	op      testOp
	onTrue  int32
	onFalse int32
	key     string
	value   string   // testEq, testContains, testStartsWith, testEndsWith
	values  []string // testIn: sorted, deduplicated
}

// internedOperands are an instruction's operands interned, for
// EvaluateLabels. They are kept apart from the instructions so that
// Evaluate's loop walks smaller ones.
type internedOperands struct {
	key    unique.Handle[string]
	value  unique.Handle[string]   // testEq
	values []unique.Handle[string] // testIn, if at most linearSetMax
}

// program is a selector compiled to a flat branching program: a chain of
// label tests with short-circuit jumps, so that evaluating it walks a slice
// instead of a tree of interface values. Jumps only go forward.
type program struct {
	entry    int32 // first instruction, or pcAccept / pcReject for constants
	code     []instruction
	interned []internedOperands // interned[pc] are code[pc]'s operands
	// eq is set when the program is one == or != test (the commonest
	// selector, `app == "x"`): Evaluate then does the one lookup and
	// comparison without entering the loop.
	eq *instruction
}

// Evaluate reports whether labels satisfy the program. It is one loop with
// the tests written out, not a call per test: the label lookup dominates
// either way, and the calls cost as much again for a one-test selector.
// parsedSelector gets it by embedding, so that a call through the Selector
// interface lands here directly.
func (p *program) Evaluate(labels map[string]string) bool {
	if in := p.eq; in != nil {
		if v, ok := labels[in.key]; ok && v == in.value {
			return in.onTrue == pcAccept
		}
		return in.onFalse == pcAccept
	}
	pc := p.entry
	for pc >= 0 {
		in := &p.code[pc]
		v, ok := labels[in.key]
		if ok {
			switch in.op {
			case testHas:
			case testEq:
				ok = v == in.value
			case testIn:
				ok = setContains(in.values, v)
			case testContains:
				ok = strings.Contains(v, in.value)
			case testStartsWith:
				ok = strings.HasPrefix(v, in.value)
			default:
				ok = strings.HasSuffix(v, in.value)
			}
		}
		if ok {
			pc = in.onTrue
		} else {
			pc = in.onFalse
		}
	}
	return pc == pcAccept
}

// EvaluateLabels is Evaluate over interned labels: the key lookup and the ==, and
// small in, tests compare handles.
func (p *program) EvaluateLabels(labels Labels) bool {
	pc := p.entry
	for pc >= 0 {
		in, operands := &p.code[pc], &p.interned[pc]
		v, ok := labels.get(operands.key)
		if ok {
			switch in.op {
			case testHas:
			case testEq:
				ok = v == operands.value
			case testIn:
				if len(in.values) <= linearSetMax {
					ok = slices.Contains(operands.values, v)
				} else {
					ok = setContains(in.values, v.Value())
				}
			default:
				ok = in.matchSubstring(v.Value())
			}
		}
		if ok {
			pc = in.onTrue
		} else {
			pc = in.onFalse
		}
	}
	return pc == pcAccept
}

// matchSubstring runs a contains, starts with or ends with test on the
// value v of the instruction's label.
func (in *instruction) matchSubstring(v string) bool {
	switch in.op {
	case testContains:
		return strings.Contains(v, in.value)
	case testStartsWith:
		return strings.HasPrefix(v, in.value)
	default:
		return strings.HasSuffix(v, in.value)
	}
}

// setContains reports whether the sorted set holds v.
func setContains(set []string, v string) bool {
	if len(set) <= linearSetMax {
		for _, s := range set {
			if s == v {
				return true
			}
		}
		return false
	}
	_, found := slices.BinarySearch(set, v)
	return found
}

// compile turns a syntax tree into a program.
func compile(root node) program {
	var c compiler
	entry := c.compile(root, pcAccept, pcReject)
	return c.finish(entry)
}

// compiler emits instructions children first, so an instruction's targets
// are known when it is emitted; finish reverses the code so that jumps go
// forward.
type compiler struct {
	code []instruction
}

// compile emits n, to continue at onTrue if it holds and at onFalse if not,
// and returns the index of its first instruction (or a target, for a
// constant).
func (c *compiler) compile(n node, onTrue, onFalse int32) int32 {
	switch n := n.(type) {
	case allNode, globalNode:
		return onTrue
	case *notNode:
		return c.compile(n.operand, onFalse, onTrue)
	case *andNode:
		next := onTrue
		for i := len(n.operands) - 1; i >= 0; i-- {
			next = c.compile(n.operands[i], next, onFalse)
		}
		return next
	case *orNode:
		next := onFalse
		for i := len(n.operands) - 1; i >= 0; i-- {
			next = c.compile(n.operands[i], onTrue, next)
		}
		return next
	case *hasNode:
		return c.emit(instruction{op: testHas, key: n.key}, onTrue, onFalse)
	case *setNode:
		if n.negated { // "not in" is !(in): it matches an absent label.
			onTrue, onFalse = onFalse, onTrue
		}
		return c.emit(instruction{op: testIn, key: n.key, values: n.values}, onTrue, onFalse)
	case *compareNode:
		return c.compileCompare(n, onTrue, onFalse)
	}
	panic("selector: compile: unknown node type")
}

// compileCompare emits a comparison.
func (c *compiler) compileCompare(n *compareNode, onTrue, onFalse int32) int32 {
	in := instruction{key: n.key, value: n.value}
	switch n.op {
	case opEq:
		in.op = testEq
	case opNe: // "!=" is !(==): it matches an absent label.
		in.op = testEq
		onTrue, onFalse = onFalse, onTrue
	case opContains:
		in.op = testContains
	case opStartsWith:
		in.op = testStartsWith
	default:
		in.op = testEndsWith
	}
	return c.emit(in, onTrue, onFalse)
}

// emit appends in with its targets and returns its (pre-reversal) index.
func (c *compiler) emit(in instruction, onTrue, onFalse int32) int32 {
	in.onTrue, in.onFalse = onTrue, onFalse
	c.code = append(c.code, in)
	return int32(len(c.code) - 1)
}

// finish reverses the emitted code, renumbering the jumps.
func (c *compiler) finish(entry int32) program {
	last := int32(len(c.code) - 1)
	renumber := func(pc int32) int32 {
		if pc < 0 {
			return pc
		}
		return last - pc
	}
	slices.Reverse(c.code)
	for i := range c.code {
		c.code[i].onTrue = renumber(c.code[i].onTrue)
		c.code[i].onFalse = renumber(c.code[i].onFalse)
	}
	p := program{entry: renumber(entry), code: slices.Clip(c.code), interned: intern(c.code)}
	if len(p.code) == 1 && p.entry == 0 && p.code[0].op == testEq {
		p.eq = &p.code[0]
	}
	return p
}

// intern returns the interned operands of code.
func intern(code []instruction) []internedOperands {
	interned := make([]internedOperands, len(code))
	for pc, in := range code {
		o := &interned[pc]
		o.key = unique.Make(in.key)
		switch {
		case in.op == testEq:
			o.value = unique.Make(in.value)
		case in.op == testIn && len(in.values) <= linearSetMax:
			o.values = make([]unique.Handle[string], len(in.values))
			for i, v := range in.values {
				o.values[i] = unique.Make(v)
			}
		}
	}
	return interned
}
