package policy

import (
	"maps"
	"net/netip"
	"slices"
)

// ipSet is the set of addresses of the endpoints one scopedSelector
// matches, shared by every entity with the same selector criteria.
type ipSet struct {
	id      string
	sel     *scopedSelector
	refs    int                  // entities using the set
	members map[string]struct{}  // endpoint keys
	counts  map[netip.Prefix]int // member endpoints having each address
}

// setChange remembers, for one State call, what the dataplane last saw of
// a set: whether it existed and, for every address touched, whether it was
// a member.
type setChange struct {
	existed bool
	initial map[netip.Prefix]bool
}

// touchSet records the set's existence before the call's first change.
func (s *State) touchSet(id string) *setChange {
	ch := s.changes[id]
	if ch == nil {
		_, existed := s.sets[id]
		ch = &setChange{existed: existed, initial: map[netip.Prefix]bool{}}
		s.changes[id] = ch
	}
	return ch
}

// addIPs counts the addresses into the set.
func (s *State) addIPs(set *ipSet, ips []netip.Prefix) {
	ch := s.touchSet(set.id)
	for _, p := range ips {
		if _, seen := ch.initial[p]; !seen {
			ch.initial[p] = set.counts[p] > 0
		}
		set.counts[p]++
	}
}

// removeIPs counts the addresses out of the set.
func (s *State) removeIPs(set *ipSet, ips []netip.Prefix) {
	ch := s.touchSet(set.id)
	for _, p := range ips {
		if _, seen := ch.initial[p]; !seen {
			ch.initial[p] = set.counts[p] > 0
		}
		if set.counts[p]--; set.counts[p] <= 0 {
			delete(set.counts, p)
		}
	}
}

// refSet takes a reference to the set of sel, creating it (and computing
// its members) if it is new, and returns its ID.
func (s *State) refSet(sel *scopedSelector) string {
	id := sel.setID()
	if set := s.sets[id]; set != nil {
		set.refs++
		return id
	}
	s.touchSet(id)
	s.sets[id] = &ipSet{id: id, sel: sel, refs: 1, members: map[string]struct{}{}, counts: map[netip.Prefix]int{}}
	s.ruleIndex.UpdateSelector(id, sel)
	return id
}

// unrefSet drops a reference to a set, deleting the set with its last.
func (s *State) unrefSet(id string) {
	set := s.sets[id]
	if set == nil {
		return
	}
	if set.refs--; set.refs > 0 {
		return
	}
	s.touchSet(id)
	s.ruleIndex.DeleteSelector(id) // reports every member stopped
	delete(s.sets, id)
}

// ruleMatchStarted is the rule index's callback: endpoint epKey joined
// set id.
func (s *State) ruleMatchStarted(id, epKey string) {
	set, ep := s.sets[id], s.endpoints[epKey]
	set.members[epKey] = struct{}{}
	ep.sets[id] = struct{}{}
	s.addIPs(set, ep.ep.IPs)
}

// ruleMatchStopped is the rule index's callback: endpoint epKey left set
// id.
func (s *State) ruleMatchStopped(id, epKey string) {
	set, ep := s.sets[id], s.endpoints[epKey]
	delete(set.members, epKey)
	delete(ep.sets, id)
	s.removeIPs(set, ep.ep.IPs)
}

// setMembers returns the sorted addresses of a set, empty and not nil.
func setMembers(set *ipSet) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(set.counts))
	for p := range set.counts {
		out = append(out, p)
	}
	slices.SortFunc(out, comparePrefix)
	return out
}

// flush reports the call's changes through the Callbacks and forgets them.
func (s *State) flush() {
	var added, removed []string
	type delta struct {
		id             string
		added, removed []netip.Prefix
	}
	var deltas []delta
	for _, id := range slices.Sorted(maps.Keys(s.changes)) {
		ch := s.changes[id]
		set, exists := s.sets[id]
		switch {
		case !exists:
			if ch.existed {
				removed = append(removed, id)
			}
			continue
		case !ch.existed:
			added = append(added, id)
		}
		d := delta{id: id}
		for p, was := range ch.initial {
			if is := set.counts[p] > 0; is && !was {
				d.added = append(d.added, p)
			} else if was && !is {
				d.removed = append(d.removed, p)
			}
		}
		if len(d.added) > 0 || len(d.removed) > 0 {
			slices.SortFunc(d.added, comparePrefix)
			slices.SortFunc(d.removed, comparePrefix)
			deltas = append(deltas, d)
		}
	}
	dirty := slices.Sorted(maps.Keys(s.dirty))
	clear(s.changes)
	clear(s.dirty)

	if cb := s.cb.SetAdded; cb != nil {
		for _, id := range added {
			cb(id)
		}
	}
	if cb := s.cb.SetChanged; cb != nil {
		for _, d := range deltas {
			cb(d.id, d.added, d.removed)
		}
	}
	if cb := s.cb.PoliciesChanged; cb != nil && len(dirty) > 0 {
		cb(dirty)
	}
	if cb := s.cb.SetRemoved; cb != nil {
		for _, id := range removed {
			cb(id)
		}
	}
}
