package validation

import (
	"k8s.io/apimachinery/pkg/util/validation/field"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

// ValidateIPAMConfiguration checks an IPAMConfiguration: it is named
// "default" and caps blocks per host with a number that is not negative.
func ValidateIPAMConfiguration(c *v3.IPAMConfiguration) field.ErrorList {
	var errs field.ErrorList
	if c.Name != v3.IPAMConfigurationName {
		errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), c.Name, `must be "default": IPAM reads only that one`))
	}
	if c.Spec.MaxBlocksPerHost < 0 {
		errs = append(errs, field.Invalid(field.NewPath("spec", "maxBlocksPerHost"), c.Spec.MaxBlocksPerHost, "must be 0 (no limit) or more"))
	}
	return errs
}
