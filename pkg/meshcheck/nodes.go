package meshcheck

import (
	"slices"
	"strings"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

// ownNodes returns the names of names that are not empty and not mirrored
// (a mirrored node's name contains v3.RemoteNameSeparator), sorted and
// without duplicates.
func ownNodes(names []string) []string {
	var out []string
	for _, n := range names {
		if n == "" || strings.Contains(n, v3.RemoteNameSeparator) {
			continue
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// commonNodes is the unique-node-name rule: it returns the names present
// in both a and b, which are sorted and unique (see ownNodes), in order.
func commonNodes(a, b []string) []string {
	var out []string
	for i, j := 0, 0; i < len(a) && j < len(b); {
		switch c := strings.Compare(a[i], b[j]); {
		case c < 0:
			i++
		case c > 0:
			j++
		default:
			out = append(out, a[i])
			i++
			j++
		}
	}
	return out
}
