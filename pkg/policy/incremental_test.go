package policy

import (
	"maps"
	"net/netip"
	"slices"
	"testing"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

// appToDB is the seed policy, built by hand.
func appToDB() Policy {
	return np("myapp", "default.app-to-db", "app == 'backend-app'", nil, []v3.Rule{{
		Action:      v3.Allow,
		Protocol:    &v3.Protocol{Name: v3.ProtocolTCP},
		Destination: v3.EntityRule{Selector: "app == 'postgres'", Ports: []v3.Port{v3.SinglePort(5432)}},
	}})
}

// relabeled returns the fixture endpoint with labels changed.
func relabeled(name string, change map[string]string) Endpoint {
	ep := fxByName(name).endpoint()
	maps.Copy(ep.Labels, change)
	return ep
}

// TestIncremental checks the callbacks of each kind of change.
func TestIncremental(t *testing.T) {
	backend, web := keyOf("backend"), keyOf("web")
	nsProd := np("myapp", "default.from-prod", "app == 'backend-app'",
		allowFrom(v3.EntityRule{NamespaceSelector: "env == 'prod'"}), nil)
	type step struct {
		do   func(t *testing.T, s *State)
		want []string
	}
	cases := []struct {
		name  string
		extra []Policy
		steps []step
	}{
		{name: "label change adds a local endpoint to a set", steps: []step{{
			do:   func(t *testing.T, s *State) { s.UpsertEndpoint(relabeled("web", map[string]string{"app": "postgres"})) },
			want: []string{"changed pg +[web] -[]"},
		}}},
		{name: "label change removes an endpoint from a set", steps: []step{{
			do:   func(t *testing.T, s *State) { s.UpsertEndpoint(relabeled("db", map[string]string{"app": "mysql"})) },
			want: []string{"changed pg +[] -[db]"},
		}}},
		{name: "label change on a key no selector reads reports nothing", steps: []step{{
			do:   func(t *testing.T, s *State) { s.UpsertEndpoint(relabeled("db", map[string]string{"version": "2"})) },
			want: nil,
		}}},
		{name: "remote label change adds the remote endpoint", steps: []step{{
			do: func(t *testing.T, s *State) {
				s.UpsertEndpoint(relabeled("rweb", map[string]string{"app": "postgres"}))
			},
			want: []string{"changed pg +[rweb] -[]"},
		}}},
		{name: "address change of a member", steps: []step{{
			do: func(t *testing.T, s *State) {
				ep := fxByName("db").endpoint()
				ep.IPs = []netip.Prefix{netip.MustParsePrefix("10.0.0.99/32")}
				s.UpsertEndpoint(ep)
			},
			want: []string{"changed pg +[10.0.0.99/32] -[db]"},
		}}},
		{name: "member deleted", steps: []step{{
			do:   func(t *testing.T, s *State) { s.DeleteEndpoint(keyOf("rdb")) },
			want: []string{"changed pg +[] -[rdb]"},
		}}},
		{name: "selected endpoint deleted", steps: []step{{
			do:   func(t *testing.T, s *State) { s.DeleteEndpoint(backend) },
			want: []string{"policies " + backend},
		}}},
		{name: "unknown endpoint deleted", steps: []step{{
			do:   func(t *testing.T, s *State) { s.DeleteEndpoint("myapp/nope") },
			want: nil,
		}}},
		{name: "remote endpoint added in the namespace", steps: []step{{
			do: func(t *testing.T, s *State) {
				s.UpsertEndpoint(fxEndpoint{name: "rdb3", cluster: clusterB, ns: "myapp", labels: map[string]string{"app": "postgres"}, ip: "10.1.0.9"}.endpoint())
			},
			want: []string{"changed pg +[10.1.0.9/32] -[]"},
		}}},
		{name: "remote endpoint added in another namespace", steps: []step{{
			do: func(t *testing.T, s *State) {
				s.UpsertEndpoint(fxEndpoint{name: "rdb4", cluster: clusterB, ns: "elsewhere", labels: map[string]string{"app": "postgres"}, ip: "10.1.3.9"}.endpoint())
			},
			want: nil,
		}}},
		{name: "the policy stops applying to a relabeled endpoint", steps: []step{{
			do: func(t *testing.T, s *State) {
				s.UpsertEndpoint(relabeled("backend", map[string]string{"app": "frontend"}))
			},
			want: []string{"policies " + backend},
		}}},
		{name: "the policy starts applying to a relabeled endpoint", steps: []step{{
			do: func(t *testing.T, s *State) {
				s.UpsertEndpoint(relabeled("web", map[string]string{"app": "backend-app"}))
			},
			want: []string{"policies " + web},
		}}},
		{name: "policy selector change re-resolves", steps: []step{{
			do: func(t *testing.T, s *State) {
				p := appToDB()
				p.Egress[0].Destination.Selector = "app == 'web'"
				mustUpsert(t, s, p)
			},
			want: []string{"added web", "changed web +[rweb web] -[]", "policies " + backend, "removed pg"},
		}}},
		{name: "rule change without selector change", steps: []step{{
			do: func(t *testing.T, s *State) {
				p := appToDB()
				p.Egress[0].Destination.Ports = []v3.Port{v3.SinglePort(5433)}
				mustUpsert(t, s, p)
			},
			want: []string{"policies " + backend},
		}}},
		{name: "identical policy upsert reports nothing", steps: []step{{
			do:   func(t *testing.T, s *State) { mustUpsert(t, s, appToDB()) },
			want: nil,
		}}},
		{name: "refused policy update reports nothing", steps: []step{{
			do: func(t *testing.T, s *State) {
				p := appToDB()
				p.Egress[0].Destination.Selector = "app =="
				if err := s.UpsertPolicy(p); err == nil {
					t.Error("invalid selector accepted")
				}
			},
			want: nil,
		}}},
		{name: "policy deleted", steps: []step{{
			do:   func(t *testing.T, s *State) { s.DeletePolicy(appToDB().Key) },
			want: []string{"policies " + backend, "removed pg"},
		}}},
		{name: "two policies with the same selector share one set", steps: []step{
			{
				do: func(t *testing.T, s *State) {
					p := appToDB()
					p.Key, p.Name, p.Selector = "myapp/default.web-to-db", "default.web-to-db", "app == 'web'"
					mustUpsert(t, s, p)
					a, b := s.PoliciesFor(backend)[0].Egress[0].Destination, s.PoliciesFor(web)[0].Egress[0].Destination
					if a.SetID != b.SetID || a.SetID == "" {
						t.Errorf("set IDs %q and %q, want one shared", a.SetID, b.SetID)
					}
					if got := s.SetIDs(); len(got) != 1 {
						t.Errorf("SetIDs = %v, want one", got)
					}
				},
				want: []string{"policies " + web},
			},
			{
				do:   func(t *testing.T, s *State) { s.DeletePolicy(appToDB().Key) },
				want: []string{"policies " + backend},
			},
			{
				do:   func(t *testing.T, s *State) { s.DeletePolicy("myapp/default.web-to-db") },
				want: []string{"policies " + web, "removed pg"},
			},
		}},
		{name: "the same selector in another namespace is another set", steps: []step{{
			do: func(t *testing.T, s *State) {
				p := appToDB()
				p.Key, p.Namespace, p.Selector = "other/default.app-to-db", "other", "all()"
				mustUpsert(t, s, p)
			},
			want: []string{"added other-pg", "changed other-pg +[db2 rdb2] -[]", "policies " + keyOf("db2")},
		}}},
		{name: "namespace labels change in a local profile", extra: []Policy{nsProd}, steps: []step{{
			do: func(t *testing.T, s *State) {
				s.UpsertProfile(Profile{Name: "kns.other", Labels: map[string]string{"pcns.env": "prod"}})
			},
			want: []string{"changed prod +[db2] -[]"},
		}}},
		{name: "remote namespace profile deleted and restored", extra: []Policy{nsProd}, steps: []step{
			{
				do:   func(t *testing.T, s *State) { s.DeleteProfile("cluster-b.kns.payments") },
				want: []string{"changed prod +[] -[rpay]"},
			},
			{
				do:   func(t *testing.T, s *State) { s.UpsertProfile(fixtureProfiles[5]) },
				want: []string{"changed prod +[rpay] -[]"},
			},
		}},
		{name: "profile with unchanged labels reports nothing", extra: []Policy{nsProd}, steps: []step{{
			do:   func(t *testing.T, s *State) { s.UpsertProfile(fixtureProfiles[0]) },
			want: nil,
		}}},
		{name: "tier change marks the endpoints of its policies", steps: []step{{
			do:   func(t *testing.T, s *State) { s.UpsertTier(Tier{Name: "default", DefaultAction: v3.Pass}) },
			want: []string{"policies " + backend},
		}}},
		{name: "two endpoints with one address", steps: []step{
			{
				do: func(t *testing.T, s *State) {
					s.UpsertEndpoint(fxEndpoint{name: "dup", ns: "myapp", labels: map[string]string{"app": "postgres"}, ip: "10.0.0.2"}.endpoint())
				},
				want: nil,
			},
			{
				do:   func(t *testing.T, s *State) { s.DeleteEndpoint(keyOf("db")) },
				want: nil,
			},
			{
				do:   func(t *testing.T, s *State) { s.DeleteEndpoint("myapp/dup") },
				want: []string{"changed pg +[] -[db]"},
			},
		}},
		{name: "label and address change in one call", steps: []step{{
			do: func(t *testing.T, s *State) {
				ep := relabeled("db", map[string]string{"app": "mysql"})
				ep.IPs = []netip.Prefix{netip.MustParsePrefix("10.0.0.99/32")}
				s.UpsertEndpoint(ep)
			},
			want: []string{"changed pg +[] -[db]"},
		}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, r := newFixtureState(t)
			r.names[setIDOf(t, criteria{namespace: "myapp", selector: "app == 'postgres'"})] = "pg"
			r.names[setIDOf(t, criteria{namespace: "other", selector: "app == 'postgres'"})] = "other-pg"
			r.names[setIDOf(t, criteria{namespace: "myapp", selector: "app == 'web'"})] = "web"
			r.names[setIDOf(t, criteria{namespace: "myapp", nsSelector: "env == 'prod'"})] = "prod"
			mustUpsert(t, s, appToDB())
			for _, p := range tc.extra {
				mustUpsert(t, s, p)
			}
			r.take()
			for i, st := range tc.steps {
				st.do(t, s)
				if got := r.take(); !slices.Equal(got, st.want) {
					t.Errorf("step %d: events %q, want %q", i, got, st.want)
				}
			}
		})
	}
}

// TestInitialEvents checks the events of a new policy and that SetMembers
// agrees with the accumulated SetChanged events.
func TestInitialEvents(t *testing.T) {
	s, r := newFixtureState(t)
	r.names[setIDOf(t, criteria{namespace: "myapp", selector: "app == 'postgres'"})] = "pg"
	mustUpsert(t, s, appToDB())
	want := []string{"added pg", "changed pg +[db rdb] -[]", "policies " + keyOf("backend")}
	if got := r.take(); !slices.Equal(got, want) {
		t.Errorf("events %q, want %q", got, want)
	}

	// Replay every change into a mirror of the sets and compare.
	mirror := map[string]map[netip.Prefix]bool{}
	s2 := NewState(Callbacks{
		SetAdded: func(id string) { mirror[id] = map[netip.Prefix]bool{} },
		SetChanged: func(id string, added, removed []netip.Prefix) {
			for _, p := range added {
				mirror[id][p] = true
			}
			for _, p := range removed {
				delete(mirror[id], p)
			}
		},
		SetRemoved: func(id string) { delete(mirror, id) },
	})
	mustUpsert(t, s2, appToDB())
	mustUpsert(t, s2, gnp("g", "", allowFrom(v3.EntityRule{NamespaceSelector: "team == 'a'"}), nil))
	for _, p := range fixtureProfiles {
		s2.UpsertProfile(p)
	}
	for _, f := range fixtureEndpoints {
		s2.UpsertEndpoint(f.endpoint())
	}
	s2.UpsertEndpoint(relabeled("web", map[string]string{"app": "postgres"}))
	s2.DeleteEndpoint(keyOf("rdb"))
	s2.UpsertProfile(Profile{Name: "kns.other", Labels: map[string]string{"pcns.team": "a"}})
	for _, id := range s2.SetIDs() {
		var got []netip.Prefix
		for p := range mirror[id] {
			got = append(got, p)
		}
		got = sortPrefixes(got)
		if want := s2.SetMembers(id); !slices.Equal(got, want) {
			t.Errorf("set %s: replayed %v, SetMembers %v", id, got, want)
		}
	}
	if len(mirror) != len(s2.SetIDs()) {
		t.Errorf("replayed %d sets, State has %d", len(mirror), len(s2.SetIDs()))
	}
}

// TestSetDedup checks which selector criteria share a set.
func TestSetDedup(t *testing.T) {
	cases := []struct {
		name string
		a, b criteria
		same bool
	}{
		{name: "same selector written differently, same namespace",
			a: criteria{namespace: "myapp", selector: "app == 'postgres'"}, b: criteria{namespace: "myapp", selector: `app=="postgres"`}, same: true},
		{name: "same selector, other namespace",
			a: criteria{namespace: "myapp", selector: "app == 'postgres'"}, b: criteria{namespace: "other", selector: "app == 'postgres'"}},
		{name: "namespaceSelector makes the policy's namespace irrelevant",
			a: criteria{namespace: "myapp", nsSelector: "env == 'prod'"}, b: criteria{namespace: "other", nsSelector: "env=='prod'"}, same: true},
		{name: "namespaced and global scopes differ",
			a: criteria{namespace: "myapp", selector: "app == 'postgres'"}, b: criteria{selector: "app == 'postgres'"}},
		{name: "selector and notSelector differ",
			a: criteria{selector: "app == 'postgres'"}, b: criteria{notSelector: "app == 'postgres'"}},
		{name: "service account names in any order",
			a: criteria{saNames: []string{"a", "b"}}, b: criteria{saNames: []string{"b", "a", "a"}}, same: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if same := setIDOf(t, tc.a) == setIDOf(t, tc.b); same != tc.same {
				t.Errorf("same set = %v, want %v", same, tc.same)
			}
		})
	}
}
