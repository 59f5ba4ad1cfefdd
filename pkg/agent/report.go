package agent

import (
	"fmt"
	"strings"

	"github.com/meshapi/meshapi/pkg/dataplane"
)

// maxReported bounds the refusals and conflicts status.dataplane names.
const maxReported = 5

// reportSkipped logs (once each while it lasts) and counts what the
// reconcile left out on purpose: mirrored objects refused by admitRemote
// and routes whose destination a foreign route holds. It returns an error
// describing them for status.dataplane.lastError, nil if there are none;
// it is never a reason to call the reconcile failed.
func (a *Agent) reportSkipped(res Result, conflicts []*dataplane.RouteConflictError) error {
	seen := make(map[string]bool, len(res.Refused)+len(conflicts))
	for _, r := range res.Refused {
		seen[r] = true
		if !a.warned[r] {
			a.log.Warn("not programming a mirrored object", "refusal", r)
		}
	}
	msgs := make([]string, 0, len(conflicts))
	for _, c := range conflicts {
		msg := c.Error()
		msgs = append(msgs, msg)
		seen[msg] = true
		if !a.warned[msg] {
			a.log.Warn("route conflict: a route of another owner holds the destination; skipped", "dst", c.Dst, "err", msg)
		}
	}
	a.warned = seen
	if m := a.cfg.Metrics; m != nil {
		m.RemoteObjectsRefused.Set(float64(len(res.Refused)))
		m.RouteConflicts.Set(float64(len(conflicts)))
	}
	var parts []string
	if n := len(conflicts); n > 0 {
		parts = append(parts, fmt.Sprintf("%d route(s) skipped, their destination held by a route of another owner: %s", n, firstN(msgs, maxReported)))
	}
	if n := len(res.Refused); n > 0 {
		parts = append(parts, fmt.Sprintf("%d mirrored object(s) not programmed: %s", n, firstN(res.Refused, maxReported)))
	}
	if len(parts) == 0 {
		return nil
	}
	return fmt.Errorf("%s", strings.Join(parts, "; "))
}

// firstN joins the first n of msgs, saying how many more there are.
func firstN(msgs []string, n int) string {
	if len(msgs) <= n {
		return strings.Join(msgs, "; ")
	}
	return strings.Join(msgs[:n], "; ") + fmt.Sprintf("; and %d more", len(msgs)-n)
}
