package policy

import (
	"maps"
	"net/netip"
	"reflect"
	"slices"
	"strings"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/selector"
)

// State holds endpoints, profiles, tiers and policies, and keeps the IP
// set of every rule selector up to date as they change. The zero value is
// not usable; call NewState. A State is not safe for concurrent use and
// starts no goroutines.
type State struct {
	cb Callbacks

	endpoints map[string]*endpointState
	profiles  map[string]Profile
	// profilesByRef maps a resolved profile reference ("<cluster>/<name>",
	// cluster "" for local) to the names of the profiles it may mean.
	profilesByRef map[string]map[string]struct{}
	// endpointsByRef maps a resolved profile reference to the endpoints
	// whose labels depend on it (as a profile or namespace profile).
	endpointsByRef map[string]map[string]struct{}
	tiers          map[string]Tier
	policies       map[string]*compiledPolicy
	sets           map[string]*ipSet

	// ruleIndex matches set selectors against every endpoint.
	ruleIndex *selector.Index[string, string]
	// policyIndex matches policies' own selectors against local endpoints.
	policyIndex *selector.Index[string, string]

	// Changes of the current call, reported by flush.
	changes map[string]*setChange
	dirty   map[string]struct{}
}

// endpointState is the State's record of one endpoint.
type endpointState struct {
	ep          Endpoint
	profileRefs []string            // resolved references, in order
	nsRef       string              // resolved namespace profile, "" if none
	sets        map[string]struct{} // sets the endpoint is a member of
	policies    map[string]struct{} // policies selecting it (local only)
}

// NewState returns an empty State reporting changes to cb.
func NewState(cb Callbacks) *State {
	s := &State{
		cb:             cb,
		endpoints:      map[string]*endpointState{},
		profiles:       map[string]Profile{},
		profilesByRef:  map[string]map[string]struct{}{},
		endpointsByRef: map[string]map[string]struct{}{},
		tiers:          map[string]Tier{},
		policies:       map[string]*compiledPolicy{},
		sets:           map[string]*ipSet{},
		changes:        map[string]*setChange{},
		dirty:          map[string]struct{}{},
	}
	s.ruleIndex = selector.NewIndex(s.ruleMatchStarted, s.ruleMatchStopped)
	s.policyIndex = selector.NewIndex(s.policyMatchStarted, s.policyMatchStopped)
	return s
}

// refKey is the resolved form of a profile reference.
func refKey(cluster, name string) string { return cluster + "/" + name }

// UpsertEndpoint adds or replaces an endpoint (by Key).
func (s *State) UpsertEndpoint(ep Endpoint) {
	ep.Labels = maps.Clone(ep.Labels)
	ep.Profiles = slices.Clone(ep.Profiles)
	ep.IPs = normalizeIPs(ep.IPs)
	s.upsertEndpoint(ep)
	s.flush()
}

// normalizeIPs returns valid prefixes, masked, sorted and deduplicated.
func normalizeIPs(in []netip.Prefix) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(in))
	for _, p := range in {
		if p.IsValid() {
			out = append(out, p.Masked())
		}
	}
	return sortPrefixes(out)
}

// upsertEndpoint records a normalized endpoint and updates the indexes.
func (s *State) upsertEndpoint(ep Endpoint) {
	st := s.endpoints[ep.Key]
	if st == nil {
		st = &endpointState{ep: ep, sets: map[string]struct{}{}, policies: map[string]struct{}{}}
		s.endpoints[ep.Key] = st
	} else {
		if !slices.Equal(st.ep.IPs, ep.IPs) {
			for id := range st.sets {
				set := s.sets[id]
				s.removeIPs(set, st.ep.IPs)
				s.addIPs(set, ep.IPs)
			}
		}
		if st.ep.Cluster == "" && ep.Cluster != "" {
			s.policyIndex.DeleteLabels(ep.Key)
		}
		s.indexRefs(st, false)
		st.ep = ep
	}
	st.profileRefs = st.profileRefs[:0]
	for _, r := range ep.Profiles {
		if c, n, ok := v3.SplitRemoteName(r); ok {
			st.profileRefs = append(st.profileRefs, refKey(c, n))
		} else {
			st.profileRefs = append(st.profileRefs, refKey(ep.Cluster, r))
		}
	}
	st.nsRef = ""
	if ep.Namespace != "" {
		st.nsRef = refKey(ep.Cluster, NamespaceProfilePrefix+ep.Namespace)
	}
	s.indexRefs(st, true)
	s.relabel(st)
}

// DeleteEndpoint removes the endpoint with the given key, if any.
func (s *State) DeleteEndpoint(key string) {
	st := s.endpoints[key]
	if st == nil {
		return
	}
	s.ruleIndex.DeleteLabels(key)
	s.policyIndex.DeleteLabels(key)
	s.indexRefs(st, false)
	delete(s.endpoints, key)
	s.flush()
}

// indexRefs adds the endpoint to (or removes it from) endpointsByRef.
func (s *State) indexRefs(st *endpointState, add bool) {
	refs := st.profileRefs
	if st.nsRef != "" {
		refs = append(slices.Clip(refs), st.nsRef)
	}
	for _, r := range refs {
		if add {
			if s.endpointsByRef[r] == nil {
				s.endpointsByRef[r] = map[string]struct{}{}
			}
			s.endpointsByRef[r][st.ep.Key] = struct{}{}
			continue
		}
		delete(s.endpointsByRef[r], st.ep.Key)
		if len(s.endpointsByRef[r]) == 0 {
			delete(s.endpointsByRef, r)
		}
	}
}

// relabel recomputes the endpoint's indexed labels and updates the
// indexes, which re-evaluate only the selectors reading a changed key.
func (s *State) relabel(st *endpointState) {
	labels := s.indexedLabels(st)
	s.ruleIndex.UpdateLabels(st.ep.Key, labels)
	if st.ep.Cluster == "" {
		s.policyIndex.UpdateLabels(st.ep.Key, labels)
	}
}

// indexedLabels returns the endpoint's effective labels (own labels, then
// its profiles' labels, the first profile having a key winning) plus the
// synthetic namespace keys.
func (s *State) indexedLabels(st *endpointState) map[string]string {
	out := maps.Clone(st.ep.Labels)
	if out == nil {
		out = map[string]string{}
	}
	for _, r := range st.profileRefs {
		if p, ok := s.profileFor(r); ok {
			for k, v := range p.Labels {
				if _, set := out[k]; !set {
					out[k] = v
				}
			}
		}
	}
	if ns := st.ep.Namespace; ns != "" {
		out[keyNamespace] = ns
		out[keyNamespaceLabel+LabelName] = ns
		if p, ok := s.profileFor(st.nsRef); ok {
			for k, v := range p.Labels {
				if name, ok := strings.CutPrefix(k, NamespaceLabelPrefix); ok {
					out[keyNamespaceLabel+name] = v
				}
			}
		}
	}
	return out
}

// profileFor returns the profile a resolved reference means: the one of
// that reference, or the first by name if several claim it.
func (s *State) profileFor(ref string) (Profile, bool) {
	names := s.profilesByRef[ref]
	if len(names) == 0 {
		return Profile{}, false
	}
	name := ""
	for n := range names {
		if name == "" || n < name {
			name = n
		}
	}
	return s.profiles[name], true
}

// profileRef is the resolved reference a profile answers to.
func profileRef(p Profile) string {
	return refKey(p.Cluster, p.RemoteName)
}

// UpsertProfile adds or replaces a profile (by Name) and relabels the
// endpoints that use it.
func (s *State) UpsertProfile(p Profile) {
	p.Labels = maps.Clone(p.Labels)
	if p.RemoteName == "" {
		p.RemoteName = p.Name
		if p.Cluster != "" {
			p.RemoteName = v3.TrimMirrorName(p.Cluster, p.Name)
		}
	}
	newRef := profileRef(p)
	if old, had := s.profiles[p.Name]; had {
		if oldRef := profileRef(old); oldRef != newRef {
			s.unbindProfile(oldRef, p.Name)
			s.relabelRef(oldRef)
		}
	}
	s.profiles[p.Name] = p
	if s.profilesByRef[newRef] == nil {
		s.profilesByRef[newRef] = map[string]struct{}{}
	}
	s.profilesByRef[newRef][p.Name] = struct{}{}
	s.relabelRef(newRef)
	s.flush()
}

// DeleteProfile removes the profile with the given name, if any.
func (s *State) DeleteProfile(name string) {
	p, ok := s.profiles[name]
	if !ok {
		return
	}
	delete(s.profiles, name)
	ref := profileRef(p)
	s.unbindProfile(ref, name)
	s.relabelRef(ref)
	s.flush()
}

// unbindProfile removes a profile name from a reference.
func (s *State) unbindProfile(ref, name string) {
	delete(s.profilesByRef[ref], name)
	if len(s.profilesByRef[ref]) == 0 {
		delete(s.profilesByRef, ref)
	}
}

// relabelRef relabels every endpoint depending on a profile reference.
func (s *State) relabelRef(ref string) {
	for key := range s.endpointsByRef[ref] {
		s.relabel(s.endpoints[key])
	}
}

// UpsertPolicy adds or replaces a policy (by Key). A policy whose
// selectors or nets do not parse, that has no key, or that is namespaced
// and has a namespaceSelector is refused with an error, and the State is
// left unchanged.
func (s *State) UpsertPolicy(p Policy) error {
	cp, err := compilePolicy(p)
	if err != nil {
		return err
	}
	old := s.policies[p.Key]
	if old != nil && reflect.DeepEqual(old.p, cp.p) {
		return nil
	}
	for _, e := range cp.entities() {
		if e.sel != nil {
			e.setID = s.refSet(e.sel)
		}
	}
	s.policies[p.Key] = cp
	s.policyIndex.UpdateSelector(p.Key, cp.main)
	s.markPolicyDirty(p.Key)
	if old != nil {
		s.unrefPolicySets(old)
	}
	s.flush()
	return nil
}

// DeletePolicy removes the policy with the given key, if any.
func (s *State) DeletePolicy(key string) {
	cp := s.policies[key]
	if cp == nil {
		return
	}
	s.policyIndex.DeleteSelector(key) // marks the endpoints dirty
	delete(s.policies, key)
	s.unrefPolicySets(cp)
	s.flush()
}

// unrefPolicySets drops the policy's references to its sets.
func (s *State) unrefPolicySets(cp *compiledPolicy) {
	for _, e := range cp.entities() {
		if e.sel != nil {
			s.unrefSet(e.setID)
		}
	}
}

// markPolicyDirty marks every endpoint the policy applies to.
func (s *State) markPolicyDirty(key string) {
	for _, ep := range s.policyIndex.Matches(key) {
		s.dirty[ep] = struct{}{}
	}
}

// policyMatchStarted is the policy index's callback.
func (s *State) policyMatchStarted(policyKey, epKey string) {
	s.endpoints[epKey].policies[policyKey] = struct{}{}
	s.dirty[epKey] = struct{}{}
}

// policyMatchStopped is the policy index's callback.
func (s *State) policyMatchStopped(policyKey, epKey string) {
	delete(s.endpoints[epKey].policies, policyKey)
	s.dirty[epKey] = struct{}{}
}

// UpsertTier adds or replaces a tier (by Name).
func (s *State) UpsertTier(t Tier) {
	t.Order = cloneFloat(t.Order)
	t.DefaultAction = tierDefaultAction(t.DefaultAction)
	if old, ok := s.tiers[t.Name]; ok && reflect.DeepEqual(old, t) {
		return
	}
	s.tiers[t.Name] = t
	s.markTierDirty(t.Name)
	s.flush()
}

// DeleteTier removes the tier with the given name, if any. Its policies
// stop applying, except those of "default", which reverts to the implicit
// default tier.
func (s *State) DeleteTier(name string) {
	if _, ok := s.tiers[name]; !ok {
		return
	}
	delete(s.tiers, name)
	s.markTierDirty(name)
	s.flush()
}

// markTierDirty marks every endpoint a policy of the tier applies to.
func (s *State) markTierDirty(name string) {
	for key, cp := range s.policies {
		if cp.p.Tier == name {
			s.markPolicyDirty(key)
		}
	}
}

// tier returns the named tier; "default" exists implicitly.
func (s *State) tier(name string) (Tier, bool) {
	if t, ok := s.tiers[name]; ok {
		return t, true
	}
	if name == v3.DefaultTierName {
		return Tier{Name: name, DefaultAction: v3.Deny}, true
	}
	return Tier{}, false
}

// PoliciesFor returns the policies that apply to a local endpoint, in
// evaluation order, with their rules resolved against the current state.
// It returns nil for an unknown or remote endpoint.
func (s *State) PoliciesFor(endpointKey string) []AppliedPolicy {
	st := s.endpoints[endpointKey]
	if st == nil || st.ep.Cluster != "" {
		return nil
	}
	var out []AppliedPolicy
	for key := range st.policies {
		cp := s.policies[key]
		t, ok := s.tier(cp.p.Tier)
		if !ok {
			continue
		}
		out = append(out, s.applied(cp, t))
	}
	sortApplied(out)
	return out
}

// SelectedEndpoints returns the sorted keys of the local endpoints the
// policy's own selector selects (whether or not its tier exists), or nil.
func (s *State) SelectedEndpoints(policyKey string) []string {
	return selector.SortedMatches(s.policyIndex, policyKey)
}

// SetMembers returns the sorted addresses of a set, or nil for an unknown
// set.
func (s *State) SetMembers(setID string) []netip.Prefix {
	set := s.sets[setID]
	if set == nil {
		return nil
	}
	return setMembers(set)
}

// SetSelector returns the canonical scope and selector criteria of a set,
// e.g. `namespace "myapp" selector "app == \"postgres\""`.
func (s *State) SetSelector(setID string) (string, bool) {
	set := s.sets[setID]
	if set == nil {
		return "", false
	}
	return set.sel.String(), true
}

// SetIDs returns the IDs of the sets in use, sorted.
func (s *State) SetIDs() []string {
	return slices.Sorted(maps.Keys(s.sets))
}
