package ipamgc

import (
	"cmp"
	"slices"
	"time"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

// HandleRelease is a handle to release and the leaked addresses it holds.
type HandleRelease struct {
	// Handle is the handle to release.
	Handle string
	// Leaks are its allocations, every one leaked.
	Leaks []Leak
}

// Plan is what one garbage collection pass does.
type Plan struct {
	// Releases are the handles to release, sorted.
	Releases []HandleRelease
	// DeleteBlocks are the empty blocks of gone nodes to delete (with
	// their resourceVersion as precondition).
	DeleteBlocks []v3.IPAMBlock
	// Waiting counts the leaks still inside the grace period.
	Waiting int
	// Next is when the first waiting leak is due; zero when none waits.
	Next time.Time
	// Seen is when each leak still pending was first seen: the Seen of the
	// next pass's NewPlan.
	Seen map[string]time.Time
}

// Keys of Plan.Seen.
func handleKey(h string) string   { return "handle/" + h }
func blockKey(name string) string { return "block/" + name }

// NewPlan decides a pass over s at now. A leak is due when it has been
// seen leaked (per seen, the previous pass's Plan.Seen) for grace, and,
// for an allocation whose timestamp attribute parses, the allocation is
// older than grace. A handle is released only when every allocation it
// holds is leaked.
func NewPlan(s *State, seen map[string]time.Time, now time.Time, grace time.Duration) (*Plan, error) {
	leaks, err := Leaks(s)
	if err != nil {
		return nil, err
	}
	groups := groupByHandle(leaks)
	held, err := handleCounts(s, groups)
	if err != nil {
		return nil, err
	}
	p := &Plan{Seen: map[string]time.Time{}}
	for _, group := range groups {
		h := group[0].Handle
		if len(group) != held[h] {
			continue // the handle still holds a live address
		}
		due := p.track(handleKey(h), seen, now, grace)
		for _, l := range group {
			if ts, ok := ParseTimestamp(l.Attrs[AttrTimestamp]); ok {
				due = later(due, ts.Add(grace))
			}
		}
		if p.ready(due, now) {
			p.Releases = append(p.Releases, HandleRelease{Handle: h, Leaks: group})
		}
	}
	for _, b := range EmptyBlocksOfGoneNodes(s) {
		if p.ready(p.track(blockKey(b.Name), seen, now, grace), now) {
			p.DeleteBlocks = append(p.DeleteBlocks, b)
		}
	}
	return p, nil
}

// track records when key was first seen and returns when its grace ends.
func (p *Plan) track(key string, seen map[string]time.Time, now time.Time, grace time.Duration) time.Time {
	first, ok := seen[key]
	if !ok || first.After(now) {
		first = now
	}
	p.Seen[key] = first
	return first.Add(grace)
}

// ready reports whether due has come; if not it counts a waiting leak.
func (p *Plan) ready(due, now time.Time) bool {
	if !due.After(now) {
		return true
	}
	p.Waiting++
	if p.Next.IsZero() || due.Before(p.Next) {
		p.Next = due
	}
	return false
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// groupByHandle splits leaks sorted by handle into one group per handle.
func groupByHandle(leaks []Leak) [][]Leak {
	var out [][]Leak
	for i := 0; i < len(leaks); {
		j := i + 1
		for j < len(leaks) && leaks[j].Handle == leaks[i].Handle {
			j++
		}
		out = append(out, leaks[i:j])
		i = j
	}
	slices.SortFunc(out, func(x, y []Leak) int { return cmp.Compare(x[0].Handle, y[0].Handle) })
	return out
}

// handleCounts counts the allocations each leaked handle holds in local
// blocks.
func handleCounts(s *State, leaked [][]Leak) (map[string]int, error) {
	held := make(map[string]int, len(leaked))
	for _, g := range leaked {
		held[g[0].Handle] = 0
	}
	for i := range s.Blocks {
		if !IsLocal(&s.Blocks[i]) {
			continue
		}
		allocs, err := Allocations(&s.Blocks[i])
		if err != nil {
			return nil, err
		}
		for _, a := range allocs {
			if n, ok := held[a.Handle]; ok {
				held[a.Handle] = n + 1
			}
		}
	}
	return held, nil
}
