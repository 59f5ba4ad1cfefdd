package selector

import (
	"fmt"
	"slices"
	"unicode/utf8"
)

// maxNesting bounds parenthesis depth so hostile input cannot exhaust the
// stack. Real selectors nest a handful of levels.
const maxNesting = 100

// parser is a recursive-descent parser over the grammar in doc.go, with one
// token of lookahead in tok. When check is set it only checks the input: it
// builds no nodes and returns nil ones, so that checking a valid selector
// allocates nothing.
type parser struct {
	input string
	lex   lexer
	tok   token // current (not yet consumed) token
	depth int   // current parenthesis nesting
	check bool  // check only: build no syntax tree
}

// parse parses input into a syntax tree in normal form.
func parse(input string) (node, error) {
	p := parser{input: input, lex: lexer{input: input}}
	return p.run()
}

// check reports whether input is a valid selector, without building a tree.
// It returns the same error as parse.
func check(input string) error {
	p := parser{input: input, lex: lexer{input: input}, check: true}
	_, err := p.run()
	return err
}

// run parses the whole input.
func (p *parser) run() (node, error) {
	p.advance()
	if p.tok.kind == tokEOF {
		return allNode{}, nil
	}
	n, err := p.parseOr("")
	if err != nil {
		return nil, err
	}
	switch p.tok.kind {
	case tokEOF:
		return n, nil
	case tokRParen:
		return nil, p.errorAt(p.tok, `unexpected ")" without a matching "("`)
	default:
		return nil, p.unexpected(`expected "&&", "||" or end of input`)
	}
}

// advance consumes the current token.
func (p *parser) advance() { p.tok = p.lex.next() }

// parseOr parses `and { "||" and }`. after names the token preceding the
// expression, for error messages ("" at the start of input).
func (p *parser) parseOr(after string) (node, error) {
	n, err := p.parseAnd(after)
	if err != nil || p.tok.kind != tokOr {
		return n, err
	}
	if p.check {
		return nil, p.skipChain(tokOr, `"||"`, p.parseAnd)
	}
	operands := flattenOr(nil, n)
	for p.tok.kind == tokOr {
		p.advance()
		n, err := p.parseAnd(`"||"`)
		if err != nil {
			return nil, err
		}
		operands = flattenOr(operands, n)
	}
	return &orNode{operands: operands}, nil
}

// parseAnd parses `unary { "&&" unary }`.
func (p *parser) parseAnd(after string) (node, error) {
	n, err := p.parseUnary(after)
	if err != nil || p.tok.kind != tokAnd {
		return n, err
	}
	if p.check {
		return nil, p.skipChain(tokAnd, `"&&"`, p.parseUnary)
	}
	operands := flattenAnd(nil, n)
	for p.tok.kind == tokAnd {
		p.advance()
		n, err := p.parseUnary(`"&&"`)
		if err != nil {
			return nil, err
		}
		operands = flattenAnd(operands, n)
	}
	return &andNode{operands: operands}, nil
}

// skipChain checks the rest of an op-separated chain whose first operand
// has been checked, building nothing; operand parses one operand.
func (p *parser) skipChain(op tokenKind, opText string, operand func(string) (node, error)) error {
	for p.tok.kind == op {
		p.advance()
		if _, err := operand(opText); err != nil {
			return err
		}
	}
	return nil
}

// flattenAnd appends n to operands, splicing in n's operands if n is itself
// an "&&" chain (which happens when it was parenthesised).
func flattenAnd(operands []node, n node) []node {
	if and, ok := n.(*andNode); ok {
		return append(operands, and.operands...)
	}
	return append(operands, n)
}

// flattenOr is flattenAnd for "||" chains.
func flattenOr(operands []node, n node) []node {
	if or, ok := n.(*orNode); ok {
		return append(operands, or.operands...)
	}
	return append(operands, n)
}

// parseUnary parses `{ "!" } primary`, collapsing double negations.
func (p *parser) parseUnary(after string) (node, error) {
	negated := false
	for p.tok.kind == tokNot {
		negated = !negated
		after = `"!"`
		p.advance()
	}
	n, err := p.parsePrimary(after)
	if err != nil || !negated || p.check {
		return n, err
	}
	return negate(n), nil
}

// parsePrimary parses a parenthesised expression, a function call or a
// comparison.
func (p *parser) parsePrimary(after string) (node, error) {
	switch p.tok.kind {
	case tokLParen:
		open := p.tok
		if p.depth >= maxNesting {
			return nil, p.errorAt(open, fmt.Sprintf("parentheses nested more than %d deep", maxNesting))
		}
		p.depth++
		p.advance()
		n, err := p.parseOr(`"("`)
		p.depth--
		if err != nil {
			return nil, err
		}
		if p.tok.kind != tokRParen {
			return nil, p.unexpected(fmt.Sprintf(`expected ")" to close "(" at column %d`, p.column(open.pos)))
		}
		p.advance()
		return n, nil
	case tokWord:
		word := p.tok
		p.advance()
		if p.tok.kind == tokLParen {
			return p.parseCall(word)
		}
		return p.parseComparison(word)
	default:
		msg := "expected an expression"
		if after != "" {
			msg += " after " + after
		}
		return nil, p.unexpected(msg)
	}
}

// parseCall parses all(), global() or has(label); the current token is the
// "(" following name.
func (p *parser) parseCall(name token) (node, error) {
	switch name.text {
	case "all", "global":
		p.advance()
		if p.tok.kind != tokRParen {
			return nil, p.unexpected(fmt.Sprintf(`expected ")" after "%s(" (it takes no arguments)`, name.text))
		}
		p.advance()
		if name.text == "all" {
			return allNode{}, nil
		}
		return globalNode{}, nil
	case "has":
		p.advance()
		if p.tok.kind != tokWord {
			return nil, p.unexpected("expected a label name inside has()")
		}
		key := p.tok.text
		p.advance()
		if p.tok.kind != tokRParen {
			return nil, p.unexpected(`expected ")" to close "has("`)
		}
		p.advance()
		if p.check {
			return nil, nil
		}
		return &hasNode{key: key}, nil
	default:
		return nil, p.errorAt(name, fmt.Sprintf("unknown function %q: expected all(), global() or has(label)", name.text))
	}
}

// parseComparison parses the operator and operand following the label.
func (p *parser) parseComparison(label token) (node, error) {
	key := label.text
	op := p.tok
	switch {
	case op.kind == tokEq:
		return p.parseCompare(key, opEq)
	case op.kind == tokNe:
		return p.parseCompare(key, opNe)
	case op.kind == tokWord && op.text == "contains":
		return p.parseCompare(key, opContains)
	case op.kind == tokWord && op.text == "in":
		p.advance()
		return p.parseSet(key, false)
	case op.kind == tokWord && op.text == "not":
		p.advance()
		if err := p.expectWord("in", `expected "in" after "not"`); err != nil {
			return nil, err
		}
		return p.parseSet(key, true)
	case op.kind == tokWord && op.text == "starts":
		p.advance()
		if p.tok.kind != tokWord || p.tok.text != "with" {
			return nil, p.unexpected(`expected "with" after "starts"`)
		}
		return p.parseCompare(key, opStartsWith)
	case op.kind == tokWord && op.text == "ends":
		p.advance()
		if p.tok.kind != tokWord || p.tok.text != "with" {
			return nil, p.unexpected(`expected "with" after "ends"`)
		}
		return p.parseCompare(key, opEndsWith)
	// Calico's tokenizer allows no space between the words of a two-word
	// operator (`not\s*in\b`, `starts\s*with`, `ends\s*with`).
	case op.kind == tokWord && op.text == "notin":
		p.advance()
		return p.parseSet(key, true)
	case op.kind == tokWord && op.text == "startswith":
		return p.parseCompare(key, opStartsWith)
	case op.kind == tokWord && op.text == "endswith":
		return p.parseCompare(key, opEndsWith)
	}
	return nil, p.unexpected(fmt.Sprintf(
		"expected an operator (==, !=, in, not in, contains, starts with, ends with) after label %q", key))
}

// expectWord consumes the keyword want or fails with msg.
func (p *parser) expectWord(want, msg string) error {
	if p.tok.kind != tokWord || p.tok.text != want {
		return p.unexpected(msg)
	}
	p.advance()
	return nil
}

// parseCompare consumes the last token of op and then its string operand.
func (p *parser) parseCompare(key string, op compareOp) (node, error) {
	p.advance()
	if p.tok.kind != tokString {
		return nil, p.unexpected(fmt.Sprintf("expected a string literal after %q", op.String()))
	}
	value := p.tok.text
	p.advance()
	if p.check {
		return nil, nil
	}
	return &compareNode{key: key, op: op, value: value}, nil
}

// parseSet parses `{ "a", "b" }` after "in" or "not in".
func (p *parser) parseSet(key string, negated bool) (node, error) {
	opText := `"in"`
	if negated {
		opText = `"not in"`
	}
	if p.tok.kind != tokLBrace {
		return nil, p.unexpected(`expected "{" after ` + opText)
	}
	p.advance()
	var values []string
	for p.tok.kind != tokRBrace {
		if p.tok.kind != tokString {
			return nil, p.unexpected(`expected a string literal or "}" in set`)
		}
		if !p.check {
			values = append(values, p.tok.text)
		}
		p.advance()
		if p.tok.kind == tokComma {
			p.advance()
			continue
		}
		if p.tok.kind != tokRBrace {
			return nil, p.unexpected(`expected "," or "}" in set`)
		}
	}
	p.advance()
	if p.check {
		return nil, nil
	}
	slices.Sort(values)
	return &setNode{key: key, negated: negated, values: slices.Compact(values)}, nil
}

// unexpected reports that the current token is not what was expected. If
// the current token is a lexical error, that error is reported instead.
func (p *parser) unexpected(expected string) error {
	if p.tok.kind == tokInvalid {
		return p.errorAt(p.tok, p.tok.text)
	}
	return p.errorAt(p.tok, expected+", found "+describe(p.tok))
}

// errorAt returns a *ParseError located at t.
func (p *parser) errorAt(t token, msg string) error {
	return &ParseError{Selector: p.input, Column: p.column(t.pos), Msg: msg}
}

// column converts a byte offset into a 1-based rune column.
func (p *parser) column(pos int) int {
	return utf8.RuneCountInString(p.input[:pos]) + 1
}

// describe names a token for an error message.
func describe(t token) string {
	switch t.kind {
	case tokEOF:
		return "end of input"
	case tokWord:
		return fmt.Sprintf("word %q", abbreviate(t.text))
	case tokString:
		return fmt.Sprintf("string literal %q", abbreviate(t.text))
	default:
		return fmt.Sprintf("%q", t.text)
	}
}

// abbreviate shortens s for display in an error message.
func abbreviate(s string) string {
	const max = 40
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}
