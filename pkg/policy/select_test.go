package policy

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

// TestRuleSelectors checks which endpoints, local and remote, a rule's
// selector criteria match in each scope.
func TestRuleSelectors(t *testing.T) {
	cases := []struct {
		name   string
		ns     string // "" for a GlobalNetworkPolicy
		src    v3.EntityRule
		on     string   // a local endpoint the policy applies to; default backend
		want   []string // nil: no selector criteria (any)
		errSub string
	}{
		{name: "namespaced selector matches local and remote endpoints of its namespace", ns: "myapp",
			src: v3.EntityRule{Selector: "app == 'postgres'"}, want: []string{"db", "rdb"}},
		{name: "the same selector in another namespace", ns: "other", on: "db2",
			src: v3.EntityRule{Selector: "app == 'postgres'"}, want: []string{"db2", "rdb2"}},
		{name: "global policy selector spans namespaces and clusters",
			src: v3.EntityRule{Selector: "app == 'postgres'"}, want: []string{"db", "db2", "rdb", "rdb2"}},
		{name: "no selector criteria is any address", ns: "myapp",
			src: v3.EntityRule{Nets: []string{"10.0.0.0/8"}}, want: nil},
		{name: "selector matching nothing is the empty set", ns: "myapp",
			src: v3.EntityRule{Selector: "app == 'nope'"}, want: []string{}},
		{name: "notSelector alone: endpoints of the namespace it does not select", ns: "myapp",
			src: v3.EntityRule{NotSelector: "app == 'postgres'"}, want: []string{"backend", "rweb", "web"}},
		{name: "selector and notSelector combine", ns: "myapp",
			src: v3.EntityRule{Selector: "has(app)", NotSelector: "app == 'web'"}, want: []string{"backend", "db", "rdb"}},
		{name: "global notSelector includes host endpoints",
			src: v3.EntityRule{NotSelector: "has(app)"}, want: []string{"hep1", "rhep"}},
		{name: "namespaceSelector over local and remote namespace labels", ns: "myapp",
			src: v3.EntityRule{NamespaceSelector: "env == 'prod'"}, want: []string{"api", "rpay"}},
		{name: "namespaceSelector with selector", ns: "myapp",
			src: v3.EntityRule{NamespaceSelector: "env == 'prod'", Selector: "app == 'pay'"}, want: []string{"rpay"}},
		{name: "namespaceSelector uses the labels of the endpoint's own cluster", ns: "myapp",
			src: v3.EntityRule{NamespaceSelector: "team == 'b'"}, want: []string{"db2"}},
		{name: "namespaceSelector whose namespace has other labels remotely", ns: "myapp",
			src: v3.EntityRule{NamespaceSelector: "team == 'a'", Selector: "app == 'postgres'"}, want: []string{"db", "rdb", "rdb2"}},
		{name: "namespaceSelector by name in a global policy",
			src: v3.EntityRule{NamespaceSelector: "projectcalico.org/name == 'other'", Selector: "app == 'postgres'"}, want: []string{"db2", "rdb2"}},
		{name: "namespaceSelector all() selects every namespaced endpoint", ns: "myapp",
			src: v3.EntityRule{NamespaceSelector: "all()", Selector: "app == 'postgres'"}, want: []string{"db", "db2", "rdb", "rdb2"}},
		{name: "namespaceSelector global() selects host endpoints", ns: "myapp",
			src: v3.EntityRule{NamespaceSelector: "global()"}, want: []string{"hep1", "rhep"}},
		{name: "namespaceSelector global() with a selector", ns: "myapp",
			src: v3.EntityRule{NamespaceSelector: "global()", Selector: "role == 'gateway' && !has(projectcalico.org/cluster)"}, want: []string{"hep1"}},
		{name: "global all() selects every endpoint",
			src: v3.EntityRule{Selector: "all()"}, want: []string{"api", "backend", "db", "db2", "hep1", "rdb", "rdb2", "rhep", "rpay", "rweb", "web"}},
		{name: "profile labels are inherited (pcns.)", ns: "myapp",
			src: v3.EntityRule{NamespaceSelector: "all()", Selector: "pcns.team == 'a'"}, want: []string{"backend", "db", "rdb", "rdb2", "rweb", "web"}},
		{name: "cluster label selects mirrored endpoints", ns: "myapp",
			src: v3.EntityRule{Selector: "projectcalico.org/cluster == 'cluster-b'"}, want: []string{"rdb", "rweb"}},
		{name: "serviceAccounts names within the namespace", ns: "myapp",
			src: v3.EntityRule{ServiceAccounts: &v3.ServiceAccountMatch{Names: []string{"db", "backend"}}}, want: []string{"backend", "db", "rdb"}},
		{name: "serviceAccounts selector on the account name",
			src: v3.EntityRule{ServiceAccounts: &v3.ServiceAccountMatch{Selector: "projectcalico.org/name == 'db'"}}, want: []string{"db", "db2", "rdb"}},
		{name: "invalid selector is refused", ns: "myapp",
			src: v3.EntityRule{Selector: "app == "}, errSub: "selector"},
		{name: "invalid net is refused", ns: "myapp",
			src: v3.EntityRule{Nets: []string{"10.0.0.0/33"}}, errSub: "nets"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := newFixtureState(t)
			var p Policy
			if tc.ns == "" {
				p = gnp("default.p", "all()", allowFrom(tc.src), nil)
			} else {
				p = np(tc.ns, "default.p", "", allowFrom(tc.src), nil)
			}
			err := s.UpsertPolicy(p)
			if tc.errSub != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errSub) {
					t.Fatalf("UpsertPolicy error = %v, want one mentioning %q", err, tc.errSub)
				}
				if ids := s.SetIDs(); len(ids) != 0 || s.PoliciesFor(keyOf("backend")) != nil {
					t.Fatalf("a refused policy changed the state: sets %v", ids)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			on := tc.on
			if on == "" {
				on = "backend"
			}
			applied := s.PoliciesFor(keyOf(on))
			if len(applied) != 1 || len(applied[0].Ingress) != 1 {
				t.Fatalf("PoliciesFor(%s) = %+v, want the policy with one ingress rule", on, applied)
			}
			src := applied[0].Ingress[0].Source
			if tc.want == nil {
				if src.HasSelector || src.SelectorIPs != nil || src.SetID != "" {
					t.Fatalf("source = %+v, want no selector", src)
				}
				return
			}
			if !src.HasSelector || src.SelectorIPs == nil || src.SetID == "" {
				t.Fatalf("source = %+v, want a selector", src)
			}
			if got := namesOf(src.SelectorIPs); !slices.Equal(got, tc.want) {
				t.Errorf("source selects %v, want %v", got, tc.want)
			}
			if got := namesOf(s.SetMembers(src.SetID)); !slices.Equal(got, tc.want) {
				t.Errorf("SetMembers = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestMainSelector checks that a policy's own selector selects local
// endpoints only.
func TestMainSelector(t *testing.T) {
	cases := []struct {
		name string
		p    Policy
		want []string
	}{
		{name: "namespaced all() selects the local endpoints of the namespace",
			p: np("myapp", "p", "all()", nil, nil), want: []string{"backend", "db", "web"}},
		{name: "empty selector is all()",
			p: np("myapp", "p", "", nil, nil), want: []string{"backend", "db", "web"}},
		{name: "namespaced selector never selects a remote endpoint",
			p: np("myapp", "p", "app == 'postgres'", nil, nil), want: []string{"db"}},
		{name: "selecting by cluster label selects nothing",
			p: np("myapp", "p", "has(projectcalico.org/cluster)", nil, nil), want: nil},
		{name: "global all() selects local workload and host endpoints",
			p: gnp("p", "all()", nil, nil), want: []string{"api", "backend", "db", "db2", "hep1", "web"}},
		{name: "global namespaceSelector",
			p: Policy{Key: "p", Name: "p", NamespaceSelector: "env == 'prod'"}, want: []string{"api"}},
		{name: "global namespaceSelector global()",
			p: Policy{Key: "p", Name: "p", NamespaceSelector: "global()"}, want: []string{"hep1"}},
		{name: "serviceAccountSelector",
			p: Policy{Key: "p", Name: "p", ServiceAccountSelector: "projectcalico.org/name == 'db'"}, want: []string{"db", "db2"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := newFixtureState(t)
			mustUpsert(t, s, tc.p)
			var want []string
			for _, n := range tc.want {
				want = append(want, keyOf(n))
			}
			slices.Sort(want)
			if got := s.SelectedEndpoints(tc.p.Key); !slices.Equal(got, want) {
				t.Errorf("SelectedEndpoints = %v, want %v", got, want)
			}
			for _, f := range fixtureEndpoints {
				got := s.PoliciesFor(keyOf(f.name))
				if f.cluster != "" && got != nil {
					t.Errorf("PoliciesFor(remote %s) = %v, want nil", f.name, got)
				}
				if applies := slices.Contains(tc.want, f.name); applies != (len(got) == 1) {
					t.Errorf("PoliciesFor(%s) = %d policies, want applies=%v", f.name, len(got), applies)
				}
			}
		})
	}
}

// TestNamespacedPolicyRejectsNamespaceSelector checks the model's one
// structural constraint.
func TestNamespacedPolicyRejectsNamespaceSelector(t *testing.T) {
	s := NewState(Callbacks{})
	p := np("myapp", "p", "", nil, nil)
	p.NamespaceSelector = "all()"
	if err := s.UpsertPolicy(p); err == nil {
		t.Fatal("UpsertPolicy accepted a namespaced policy with a namespaceSelector")
	}
	if err := s.UpsertPolicy(Policy{}); err == nil {
		t.Fatal("UpsertPolicy accepted a policy without a key")
	}
}

// TestEffectiveLabels checks label inheritance: own labels win over
// profiles, and the first profile having a key wins.
func TestEffectiveLabels(t *testing.T) {
	cases := []struct {
		name     string
		own      map[string]string
		profiles []string
		sel      string
		want     bool
	}{
		{name: "profile label applies", profiles: []string{"p1"}, sel: "color == 'red'", want: true},
		{name: "own label overrides profile", own: map[string]string{"color": "blue"}, profiles: []string{"p1"}, sel: "color == 'blue'", want: true},
		{name: "own label overrides profile (negative)", own: map[string]string{"color": "blue"}, profiles: []string{"p1"}, sel: "color == 'red'", want: false},
		{name: "first profile wins", profiles: []string{"p2", "p1"}, sel: "color == 'green'", want: true},
		{name: "unknown profile adds nothing", profiles: []string{"nope"}, sel: "has(color)", want: false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := NewState(Callbacks{})
			s.UpsertProfile(Profile{Name: "p1", Labels: map[string]string{"color": "red"}})
			s.UpsertProfile(Profile{Name: "p2", Labels: map[string]string{"color": "green"}})
			s.UpsertEndpoint(Endpoint{Key: "hep:h", Labels: tc.own, Profiles: tc.profiles, IPs: []netip.Prefix{netip.MustParsePrefix("10.9.9.9/32")}})
			mustUpsert(t, s, gnp("p", "", allowFrom(v3.EntityRule{Selector: tc.sel}), nil))
			got := s.PoliciesFor("hep:h")[0].Ingress[0].Source.SelectorIPs
			if (len(got) == 1) != tc.want {
				t.Errorf("selector %q matched %v, want match=%v", tc.sel, got, tc.want)
			}
		})
	}
}
