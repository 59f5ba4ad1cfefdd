package selector

import "fmt"

// ParseError describes why a selector failed to parse and where.
type ParseError struct {
	// Selector is the complete input that failed to parse.
	Selector string
	// Column is the 1-based column, counted in runes, of the offending
	// token. A problem at the end of the input reports the column just past
	// the last character.
	Column int
	// Msg describes the problem.
	Msg string
}

// Error implements error, e.g.
// `selector "app == " column 8: expected a string literal after "==", found end of input`.
func (e *ParseError) Error() string {
	return fmt.Sprintf("selector %q column %d: %s", e.Selector, e.Column, e.Msg)
}
