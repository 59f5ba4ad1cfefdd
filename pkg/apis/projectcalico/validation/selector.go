package validation

import (
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/meshapi/meshapi/pkg/selector"
)

// ValidateSelector checks that s is a valid selector in the Calico label
// selector language; the empty selector is valid and means all(). An invalid
// selector yields a single field.Invalid on fldPath carrying s, with the
// parser's message and the 1-based column of the offending token.
func ValidateSelector(fldPath *field.Path, s string) field.ErrorList {
	err := selector.Validate(s)
	if err == nil {
		return nil
	}
	var pe *selector.ParseError
	if errors.As(err, &pe) {
		return field.ErrorList{field.Invalid(fldPath, s,
			fmt.Sprintf("invalid selector at column %d: %s", pe.Column, pe.Msg))}
	}
	return field.ErrorList{field.Invalid(fldPath, s, "invalid selector: "+err.Error())}
}
