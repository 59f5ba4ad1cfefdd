package registry

import (
	"fmt"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

// NormalizeRules moves the compatibility alias rule.ports into
// rule.destination.ports, where the original product's documentation means
// it, and returns a warning for each rule it rewrote. A rule that sets both
// is left alone for validation to reject. path names the rule list, e.g.
// "spec.egress".
func NormalizeRules(path string, rules []v3.Rule) []string {
	var warnings []string
	for i := range rules {
		r := &rules[i]
		if len(r.Ports) == 0 || len(r.Destination.Ports) > 0 {
			continue
		}
		r.Destination.Ports, r.Ports = r.Ports, nil
		warnings = append(warnings, fmt.Sprintf("%s[%d].ports is deprecated: moved to %s[%d].destination.ports", path, i, path, i))
	}
	return warnings
}
