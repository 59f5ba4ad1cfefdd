package selector

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
)

// Selector is a parsed Calico label selector. Values returned by Parse are
// immutable and safe for concurrent use.
type Selector interface {
	// Evaluate reports whether the label set matches. A nil map is an
	// empty label set.
	Evaluate(labels map[string]string) bool
	// String returns the canonical form (see the package documentation).
	String() string
	// UniqueID returns the hex SHA-256 of the canonical form.
	UniqueID() string
	// LabelKeys returns the sorted, deduplicated label keys the selector
	// reads, or nil if it reads none (e.g. all()). The result of Evaluate
	// depends only on the presence and values of these keys.
	LabelKeys() []string
}

// parsedSelector is the Selector implementation returned by Parse. Derived
// fields are computed once at parse time.
type parsedSelector struct {
	program   // first, so that Evaluate and EvaluateLabels are its own
	root      node
	canonical string
	id        string
	keys      []string
	reqs      []Clause
}

// Parse parses a selector. An empty or all-whitespace input is all(). On
// failure the error is a *ParseError.
func Parse(s string) (Selector, error) {
	root, err := parse(s)
	if err != nil {
		return nil, err
	}
	canonical := canonicalString(root)
	sum := sha256.Sum256([]byte(canonical))
	return &parsedSelector{
		program:   compile(root),
		root:      root,
		canonical: canonical,
		id:        hex.EncodeToString(sum[:]),
		keys:      labelKeys(root),
		reqs:      requirements(root),
	}, nil
}

// Validate reports whether s is a valid selector; a non-nil error is a
// *ParseError, the same Parse returns. It builds no syntax tree, so
// validating a valid selector allocates nothing.
func Validate(s string) error {
	return check(s)
}

// MustParse is like Parse but panics on error. It is meant for tests and
// selectors that are compile-time constants.
func MustParse(s string) Selector {
	sel, err := Parse(s)
	if err != nil {
		panic(fmt.Sprintf("selector.MustParse: %v", err))
	}
	return sel
}

// String implements Selector and fmt.Stringer.
func (s *parsedSelector) String() string { return s.canonical }

// UniqueID implements Selector.
func (s *parsedSelector) UniqueID() string { return s.id }

// LabelKeys implements Selector. The returned slice is a copy.
func (s *parsedSelector) LabelKeys() []string { return slices.Clone(s.keys) }

// Requirements implements Requirer. The result is a copy.
func (s *parsedSelector) Requirements() []Clause { return cloneClauses(s.reqs) }
