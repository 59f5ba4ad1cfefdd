package policy

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"testing"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/selector"
)

// Pools of the random State test.
var (
	rndNamespaces  = []string{"n0", "n1", "n2"}
	rndSelectors   = []string{"", "all()", "app == 'a'", "app in {'a', 'b'} && tier == 'web'", "has(tier)", "!has(tier)", "app != 'c'", "tier == 'db' || app == 'c'", "role == 'gw'"}
	rndNsSelectors = []string{"", "", "global()", "all()", "team == 'x'", "projectcalico.org/name == 'n1'", "has(team)", "team != 'y'"}
	rndSASelectors = []string{"", "", "projectcalico.org/name == 'sa1'", "team == 'x'", "has(team)"}
)

// rndEndpoint returns a random endpoint among a fixed set of keys.
func rndEndpoint(rng *rand.Rand) Endpoint {
	n := rng.IntN(30)
	cluster := ""
	if n%3 == 2 {
		cluster = clusterB
	}
	labels := map[string]string{}
	pick := func(k string, values ...string) {
		if i := rng.IntN(len(values) + 1); i < len(values) {
			labels[k] = values[i]
		}
	}
	pick("app", "a", "b", "c")
	pick("tier", "web", "db")
	pick(LabelServiceAccount, "sa1", "sa2")
	pick(ServiceAccountLabelPrefix+"team", "x", "y")
	pick(ServiceAccountLabelPrefix+LabelName, "sa1", "sa3")
	ep := Endpoint{Cluster: cluster, Labels: labels,
		IPs: []netip.Prefix{netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 0, byte(n), byte(1 + rng.IntN(2))}), 32)}}
	if n%5 == 4 {
		// A host endpoint: no namespace.
		ep.Key = fmt.Sprintf("%s%s.h%d", HostEndpointKeyPrefix, cluster, n)
		labels["role"] = "gw"
		return ep
	}
	ep.Namespace = rndNamespaces[n%len(rndNamespaces)]
	ep.Key = fmt.Sprintf("%s/%s.ep%d", ep.Namespace, cluster, n)
	ep.Profiles = []string{NamespaceProfilePrefix + ep.Namespace}
	if cluster != "" {
		ep.Profiles = []string{cluster + "/" + NamespaceProfilePrefix + ep.Namespace}
	}
	return ep
}

// rndProfile returns a random namespace profile.
func rndProfile(rng *rand.Rand) Profile {
	ns := rndNamespaces[rng.IntN(len(rndNamespaces))]
	p := Profile{Name: NamespaceProfilePrefix + ns, Labels: map[string]string{}}
	if rng.IntN(2) == 0 {
		p.Cluster, p.Name = clusterB, clusterB+"."+p.Name
	}
	if i := rng.IntN(3); i < 2 {
		p.Labels[NamespaceLabelPrefix+"team"] = []string{"x", "y"}[i]
	}
	return p
}

// rndEntity returns random entity rule criteria; namespaced policies get no
// namespaceSelector when global is false.
func rndEntity(rng *rand.Rand, global bool) v3.EntityRule {
	er := v3.EntityRule{Selector: rndSelectors[rng.IntN(len(rndSelectors))]}
	if rng.IntN(3) == 0 {
		er.NotSelector = rndSelectors[rng.IntN(len(rndSelectors))]
	}
	if global || rng.IntN(2) == 0 {
		er.NamespaceSelector = rndNsSelectors[rng.IntN(len(rndNsSelectors))]
	}
	if rng.IntN(3) == 0 {
		er.ServiceAccounts = &v3.ServiceAccountMatch{Selector: rndSASelectors[rng.IntN(len(rndSASelectors))]}
		if rng.IntN(2) == 0 {
			er.ServiceAccounts.Names = []string{"sa1", "sa3"}[:1+rng.IntN(2)]
		}
	}
	return er
}

// rndPolicy returns a random policy among a fixed set of keys.
func rndPolicy(rng *rand.Rand) Policy {
	n := rng.IntN(12)
	p := Policy{Name: fmt.Sprint("p", n), Selector: rndSelectors[rng.IntN(len(rndSelectors))]}
	global := n%2 == 0
	if global {
		p.Key = p.Name
		p.NamespaceSelector = rndNsSelectors[rng.IntN(len(rndNsSelectors))]
	} else {
		p.Namespace = rndNamespaces[n%len(rndNamespaces)]
		p.Key = p.Namespace + "/" + p.Name
	}
	if rng.IntN(3) == 0 {
		p.ServiceAccountSelector = rndSASelectors[rng.IntN(len(rndSASelectors))]
	}
	p.Ingress = []v3.Rule{{Action: v3.Allow, Source: rndEntity(rng, global)}}
	p.Egress = []v3.Rule{{Action: v3.Allow, Destination: rndEntity(rng, global)}}
	return p
}

// checkAgainstBruteForce compares every policy's selected endpoints and
// every set's members with an evaluation of the compiled selectors over
// every endpoint's effective labels, and checks that the selectors'
// requirements hold for every endpoint they match.
func checkAgainstBruteForce(t *testing.T, s *State, step string) {
	t.Helper()
	labels := map[string]map[string]string{}
	for key, st := range s.endpoints {
		labels[key] = s.indexedLabels(st)
	}
	satisfies := func(sel *scopedSelector, l map[string]string) bool {
		for _, c := range sel.Requirements() {
			ok := false
			for _, term := range c {
				if v, has := l[term.Key]; has && (term.Values == nil || slices.Contains(term.Values, v)) {
					ok = true
				}
			}
			if !ok {
				return false
			}
		}
		return true
	}
	for key, cp := range s.policies {
		var want []string
		for epKey, l := range labels {
			if s.endpoints[epKey].ep.Cluster == "" && cp.main.Evaluate(l) {
				want = append(want, epKey)
				if !satisfies(cp.main, l) {
					t.Fatalf("%s: policy %s selects %s but its requirements %v do not hold", step, key, epKey, cp.main.Requirements())
				}
			}
		}
		slices.Sort(want)
		if got := s.SelectedEndpoints(key); !slices.Equal(got, want) {
			t.Fatalf("%s: SelectedEndpoints(%s) = %q, want %q", step, key, got, want)
		}
	}
	for id, set := range s.sets {
		var want []netip.Prefix
		for epKey, l := range labels {
			if set.sel.Evaluate(l) {
				want = append(want, s.endpoints[epKey].ep.IPs...)
				if !satisfies(set.sel, l) {
					t.Fatalf("%s: set %s matches %s but its requirements %v do not hold", step, set.sel, epKey, set.sel.Requirements())
				}
			}
		}
		want = sortPrefixes(want)
		if got := s.SetMembers(id); !slices.Equal(got, want) && len(got)+len(want) > 0 {
			t.Fatalf("%s: SetMembers(%s) = %v, want %v", step, set.sel, got, want)
		}
	}
}

// TestRandomAgainstBruteForce applies random endpoint, profile and policy
// changes to a State, comparing its indexed results with a brute-force
// evaluation, and then checks that loading the final objects into fresh
// States policies first and endpoints first gives the same policies for
// every local endpoint.
func TestRandomAgainstBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for round := range 10 {
		s := NewState(Callbacks{})
		endpoints := map[string]Endpoint{}
		profiles := map[string]Profile{}
		policies := map[string]Policy{}
		for step := range 300 {
			switch op := rng.IntN(12); {
			case op < 5:
				ep := rndEndpoint(rng)
				endpoints[ep.Key] = ep
				s.UpsertEndpoint(ep)
			case op < 6:
				ep := rndEndpoint(rng)
				delete(endpoints, ep.Key)
				s.DeleteEndpoint(ep.Key)
			case op < 8:
				p := rndProfile(rng)
				profiles[p.Name] = p
				s.UpsertProfile(p)
			case op < 11:
				p := rndPolicy(rng)
				if err := s.UpsertPolicy(p); err != nil {
					t.Fatal(err)
				}
				policies[p.Key] = p
			default:
				p := rndPolicy(rng)
				delete(policies, p.Key)
				s.DeletePolicy(p.Key)
			}
			if step%20 == 19 {
				checkAgainstBruteForce(t, s, fmt.Sprintf("round %d step %d", round, step))
			}
		}

		load := func(policiesFirst bool) *State {
			fresh := NewState(Callbacks{})
			addPolicies := func() {
				for _, p := range policies {
					if err := fresh.UpsertPolicy(p); err != nil {
						t.Fatal(err)
					}
				}
			}
			if policiesFirst {
				addPolicies()
			}
			for _, p := range profiles {
				fresh.UpsertProfile(p)
			}
			for _, ep := range endpoints {
				fresh.UpsertEndpoint(ep)
			}
			if !policiesFirst {
				addPolicies()
			}
			return fresh
		}
		a, b := load(true), load(false)
		checkAgainstBruteForce(t, a, "policies first")
		checkAgainstBruteForce(t, b, "endpoints first")
		for key, ep := range endpoints {
			if ep.Cluster != "" {
				continue
			}
			want := s.PoliciesFor(key)
			for _, fresh := range []*State{a, b} {
				if got := fresh.PoliciesFor(key); !reflect.DeepEqual(got, want) {
					t.Fatalf("round %d: PoliciesFor(%s) of a fresh State differs:\n got %+v\nwant %+v", round, key, got, want)
				}
			}
		}
	}
}

// TestScopedRequirements checks the requirements a rule's scope and
// criteria give the index.
func TestScopedRequirements(t *testing.T) {
	render := func(cs []selector.Clause) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.String())
		}
		return out
	}
	for _, tc := range []struct {
		name string
		c    criteria
		want []string
	}{
		{"global all", criteria{selector: "all()"}, nil},
		{"global notSelector", criteria{notSelector: "app == 'a'"}, nil},
		{"namespace", criteria{namespace: "n0", selector: "app == 'a'"}, []string{
			"\x00namespace in {\"n0\"}", `app in {"a"}`,
		}},
		{"namespace selector", criteria{nsSelector: "team == 'x'", selector: "has(app)"}, []string{
			"has(\x00namespace)", "\x00nslabel\x00team in {\"x\"}", "has(app)",
		}},
		{"global()", criteria{nsSelector: "global()", selector: "role == 'gw'"}, []string{`role in {"gw"}`}},
		{"service accounts", criteria{namespace: "n0", saNames: []string{"sa2", "sa1"}, saSelector: "projectcalico.org/name == 'sa1' && team == 'x'"}, []string{
			"\x00namespace in {\"n0\"}",
			`projectcalico.org/serviceaccount in {"sa1", "sa2"}`,
			`projectcalico.org/serviceaccount in {"sa1"} || pcsa.projectcalico.org/name in {"sa1"}`,
			`pcsa.team in {"x"}`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sel, err := newScopedSelector(tc.c)
			if err != nil {
				t.Fatal(err)
			}
			if got := render(sel.Requirements()); !slices.Equal(got, tc.want) {
				t.Errorf("Requirements = %q, want %q", got, tc.want)
			}
		})
	}
}
