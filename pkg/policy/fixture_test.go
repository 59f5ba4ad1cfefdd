package policy

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"testing"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

const clusterB = "cluster-b"

// fxEndpoint describes a test endpoint; its name is unique across the
// fixture and identifies it in expectations.
type fxEndpoint struct {
	name, cluster, ns string
	labels            map[string]string
	ip                string
}

// fixtureEndpoints is a small mesh: a local cluster and cluster-b.
var fixtureEndpoints = []fxEndpoint{
	{name: "backend", ns: "myapp", labels: map[string]string{"app": "backend-app", LabelServiceAccount: "backend"}, ip: "10.0.0.1"},
	{name: "db", ns: "myapp", labels: map[string]string{"app": "postgres", LabelServiceAccount: "db"}, ip: "10.0.0.2"},
	{name: "web", ns: "myapp", labels: map[string]string{"app": "web", LabelServiceAccount: "default"}, ip: "10.0.0.3"},
	{name: "db2", ns: "other", labels: map[string]string{"app": "postgres", LabelServiceAccount: "db"}, ip: "10.0.1.2"},
	{name: "api", ns: "prod-ns", labels: map[string]string{"app": "api"}, ip: "10.0.2.1"},
	{name: "rdb", cluster: clusterB, ns: "myapp", labels: map[string]string{"app": "postgres", LabelServiceAccount: "db"}, ip: "10.1.0.2"},
	{name: "rweb", cluster: clusterB, ns: "myapp", labels: map[string]string{"app": "web"}, ip: "10.1.0.3"},
	{name: "rdb2", cluster: clusterB, ns: "other", labels: map[string]string{"app": "postgres"}, ip: "10.1.1.2"},
	{name: "rpay", cluster: clusterB, ns: "payments", labels: map[string]string{"app": "pay"}, ip: "10.1.2.1"},
	{name: "hep1", labels: map[string]string{"role": "gateway"}, ip: "192.168.0.1"},
	{name: "rhep", cluster: clusterB, labels: map[string]string{"role": "gateway"}, ip: "192.168.1.1"},
}

// fixtureProfiles are the namespace profiles, local and mirrored.
var fixtureProfiles = []Profile{
	{Name: "kns.myapp", Labels: map[string]string{"pcns.projectcalico.org/name": "myapp", "pcns.team": "a"}},
	{Name: "kns.other", Labels: map[string]string{"pcns.projectcalico.org/name": "other", "pcns.team": "b"}},
	{Name: "kns.prod-ns", Labels: map[string]string{"pcns.projectcalico.org/name": "prod-ns", "pcns.env": "prod"}},
	{Name: "cluster-b.kns.myapp", Cluster: clusterB, RemoteName: "kns.myapp", Labels: map[string]string{"pcns.projectcalico.org/name": "myapp", "pcns.team": "a"}},
	// No RemoteName: resolved from the mirror's object name.
	{Name: "cluster-b.kns.other", Cluster: clusterB, Labels: map[string]string{"pcns.projectcalico.org/name": "other", "pcns.team": "a"}},
	{Name: "cluster-b.kns.payments", Cluster: clusterB, RemoteName: "kns.payments", Labels: map[string]string{"pcns.projectcalico.org/name": "payments", "pcns.env": "prod"}},
}

// endpoint converts a fixture endpoint the way mirrored objects look.
func (f fxEndpoint) endpoint() Endpoint {
	labels := maps.Clone(f.labels)
	ep := Endpoint{Cluster: f.cluster, Namespace: f.ns, Labels: labels, IPs: []netip.Prefix{netip.MustParsePrefix(f.ip + "/32")}}
	if f.cluster != "" {
		labels[v3.LabelCluster] = f.cluster
	}
	switch {
	case f.ns == "" && f.cluster == "":
		ep.Key = HostEndpointKeyPrefix + f.name
	case f.ns == "":
		ep.Key = HostEndpointKeyPrefix + f.cluster + "." + f.name
		ep.Node = f.cluster + "/host"
	case f.cluster == "":
		ep.Key = f.ns + "/" + f.name
		ep.Profiles = []string{NamespaceProfilePrefix + f.ns}
		labels["projectcalico.org/namespace"] = f.ns
		ep.Node = "node-1"
	default:
		ep.Key = f.ns + "/" + f.cluster + "." + f.name
		ep.Profiles = []string{f.cluster + "/" + NamespaceProfilePrefix + f.ns}
		labels["projectcalico.org/namespace"] = f.ns
		ep.Node = f.cluster + "/node-1"
	}
	return ep
}

// fxByName finds a fixture endpoint.
func fxByName(name string) fxEndpoint {
	for _, f := range fixtureEndpoints {
		if f.name == name {
			return f
		}
	}
	panic("no fixture endpoint " + name)
}

// keyOf returns the Endpoint key of a fixture endpoint.
func keyOf(name string) string { return fxByName(name).endpoint().Key }

// ipOf returns the address of a fixture endpoint.
func ipOf(name string) netip.Prefix { return netip.MustParsePrefix(fxByName(name).ip + "/32") }

// namesOf renders addresses as fixture endpoint names, sorted; unknown
// addresses are rendered as themselves.
func namesOf(ips []netip.Prefix) []string {
	out := []string{}
	for _, p := range ips {
		name := p.String()
		for _, f := range fixtureEndpoints {
			if f.ip+"/32" == p.String() {
				name = f.name
			}
		}
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// recorder renders the Callbacks as strings; set IDs are rendered through
// names, which the test fills in.
type recorder struct {
	events []string
	names  map[string]string
}

func (r *recorder) name(id string) string {
	if n, ok := r.names[id]; ok {
		return n
	}
	return id
}

func (r *recorder) callbacks() Callbacks {
	return Callbacks{
		SetAdded: func(id string) { r.events = append(r.events, "added "+r.name(id)) },
		SetChanged: func(id string, added, removed []netip.Prefix) {
			r.events = append(r.events, fmt.Sprintf("changed %s +%v -%v", r.name(id), namesOf(added), namesOf(removed)))
		},
		PoliciesChanged: func(keys []string) {
			r.events = append(r.events, "policies "+strings.Join(keys, ","))
		},
		SetRemoved: func(id string) { r.events = append(r.events, "removed "+r.name(id)) },
	}
}

// take returns the events since the last call and forgets them.
func (r *recorder) take() []string {
	e := r.events
	r.events = nil
	return e
}

// newFixtureState returns a State holding the fixture, and its recorder
// with the fixture's load forgotten.
func newFixtureState(t *testing.T) (*State, *recorder) {
	t.Helper()
	r := &recorder{names: map[string]string{}}
	s := NewState(r.callbacks())
	for _, p := range fixtureProfiles {
		s.UpsertProfile(p)
	}
	for _, f := range fixtureEndpoints {
		s.UpsertEndpoint(f.endpoint())
	}
	r.take()
	return s, r
}

// mustUpsert upserts a policy, failing the test on error.
func mustUpsert(t *testing.T, s *State, p Policy) {
	t.Helper()
	if err := s.UpsertPolicy(p); err != nil {
		t.Fatalf("UpsertPolicy(%s): %v", p.Key, err)
	}
}

// np returns a NetworkPolicy in the default tier.
func np(ns, name, sel string, ingress, egress []v3.Rule) Policy {
	return Policy{Key: ns + "/" + name, Name: name, Namespace: ns, Selector: sel, Ingress: ingress, Egress: egress}
}

// gnp returns a GlobalNetworkPolicy in the default tier.
func gnp(name, sel string, ingress, egress []v3.Rule) Policy {
	return Policy{Key: name, Name: name, Selector: sel, Ingress: ingress, Egress: egress}
}

// allowFrom returns one Allow rule with the given source.
func allowFrom(src v3.EntityRule) []v3.Rule {
	return []v3.Rule{{Action: v3.Allow, Source: src}}
}

// setIDOf computes the set ID of criteria, as the State would.
func setIDOf(t *testing.T, c criteria) string {
	t.Helper()
	sel, err := newScopedSelector(c)
	if err != nil {
		t.Fatal(err)
	}
	return sel.setID()
}

// f64 returns a pointer to v.
func f64(v float64) *float64 { return &v }
