package policyfilter

import (
	"maps"
	"net/netip"
	"os"
	"reflect"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	"sigs.k8s.io/yaml"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/dataplane/filter"
)

// seedPolicy reads the seeds' default.app-to-db NetworkPolicy as users
// apply it.
func seedPolicy(t *testing.T) *v3.NetworkPolicy {
	t.Helper()
	b, err := os.ReadFile("../../../test/integration/testdata/seeds/000-networkpolicy-app-to-db.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var np v3.NetworkPolicy
	if err := yaml.UnmarshalStrict(b, &np); err != nil {
		t.Fatal(err)
	}
	return &np
}

// wep returns a WorkloadEndpoint; cluster "" is local, else a mirror of
// that cluster (named and labelled as the controller mirrors it).
func wep(cluster, ns, name, node, iface, ip string, labels map[string]string) *v3.WorkloadEndpoint {
	labels = maps.Clone(labels)
	if labels == nil {
		labels = map[string]string{}
	}
	profile := "kns." + ns
	if cluster != "" {
		labels[v3.LabelCluster] = cluster
		name = cluster + "." + name
		node = cluster + "/" + node
		profile = cluster + "/" + profile
	}
	return &v3.WorkloadEndpoint{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
		Spec: v3.WorkloadEndpointSpec{Node: node, InterfaceName: iface, IPNetworks: []string{ip + "/32"},
			Profiles: []string{profile}},
	}
}

// newSyncer returns a Syncer for node-1 whose filter works in the test's
// own namespace but is never committed (these tests read what the Syncer
// would hand over).
func newSyncer(t *testing.T) *Syncer {
	t.Helper()
	f, err := filter.New(filter.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	s, err := New(Config{NodeName: "node-1", Filter: f})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func pfxs(ss ...string) []netip.Prefix {
	out := []netip.Prefix{}
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

// TestSeedAppToDB translates the seed policy on node-1 with the postgres
// pod in cluster-b, then follows the changes the issue names: relabelling
// the remote pod, deleting the policy.
func TestSeedAppToDB(t *testing.T) {
	s := newSyncer(t)
	h := s.Handler()
	backend := wep("", "myapp", "backend-0", "node-1", "calibackend0", "198.18.1.1", map[string]string{"app": "backend-app"})
	plain := wep("", "myapp", "plain-0", "node-1", "caliplain0", "198.18.1.3", nil)
	elsewhere := wep("", "myapp", "backend-1", "node-2", "calibackend1", "198.18.1.2", map[string]string{"app": "backend-app"})
	remotePG := wep("cluster-b", "myapp", "postgres-0", "node-1", "calipg", "198.18.9.1", map[string]string{"app": "postgres"})
	remoteOther := wep("cluster-b", "myapp", "web-0", "node-1", "caliweb", "198.18.9.2", nil)
	remotePGOtherNS := wep("cluster-b", "other", "postgres-0", "node-1", "calipg2", "198.18.9.3", map[string]string{"app": "postgres"})
	for _, o := range []any{backend, plain, elsewhere, remotePG, remoteOther, remotePGOtherNS, seedPolicy(t)} {
		h.OnAdd(o, true)
	}

	// Only the local endpoints of node-1 that have an interface.
	if want := map[string]string{"myapp/backend-0": "calibackend0", "myapp/plain-0": "caliplain0"}; !reflect.DeepEqual(s.ifaces, want) {
		t.Errorf("enforced endpoints %v, want %v", s.ifaces, want)
	}
	if len(s.pending.created) != 1 {
		t.Fatalf("sets to create %v, want the one of app == 'postgres'", s.pending.created)
	}
	setID := slices.Collect(maps.Keys(s.pending.created))[0]
	if got := s.state.SetMembers(setID); !slices.Equal(got, pfxs("198.18.9.1/32")) {
		t.Errorf("set members %v, want cluster-b's postgres in myapp only", got)
	}
	ep, ok, err := Endpoint(s.ifaces["myapp/backend-0"], s.state.PoliciesFor("myapp/backend-0"))
	if err != nil || !ok {
		t.Fatalf("Endpoint: ok %v, err %v", ok, err)
	}
	tcp := filter.ProtoTCP
	want := filter.Endpoint{Interface: "calibackend0", Egress: []filter.Tier{{Name: "default", DefaultAction: filter.Deny,
		Policies: []filter.Policy{{Name: "myapp/default.app-to-db", Rules: []filter.Rule{{
			Action: filter.Allow, Protocol: &tcp,
			Destination: filter.Match{Set: setID, Ports: []filter.PortRange{{Min: 5432, Max: 5432}}},
		}}}}}}}
	if !reflect.DeepEqual(ep, want) {
		t.Errorf("backend endpoint\n%+v\nwant\n%+v", ep, want)
	}
	if _, ok, _ := Endpoint(s.ifaces["myapp/plain-0"], s.state.PoliciesFor("myapp/plain-0")); ok {
		t.Errorf("the pod without the label has policy; want it untouched")
	}
	if errs := s.handOver(); len(errs) > 0 {
		t.Fatal(errs)
	}
	if !reflect.DeepEqual(s.written, map[string]string{"myapp/backend-0": "calibackend0"}) {
		t.Errorf("endpoints handed to the filter %v, want the backend only", s.written)
	}

	// Relabelling the remote postgres pod removes its address, and nothing
	// else changes.
	relabeled := remotePG.DeepCopy()
	relabeled.Labels["app"] = "postgres-retired"
	h.OnUpdate(remotePG, relabeled)
	if want := map[string]map[netip.Prefix]bool{setID: {netip.MustParsePrefix("198.18.9.1/32"): false}}; !reflect.DeepEqual(s.pending.deltas, want) ||
		len(s.pending.endpoints)+len(s.pending.created)+len(s.pending.removed) != 0 {
		t.Errorf("pending after relabel %+v, want one address removed from %s", s.pending, setID)
	}
	// ... and back, through a tombstone-free update.
	h.OnUpdate(relabeled, remotePG)
	if want := map[string]map[netip.Prefix]bool{setID: {netip.MustParsePrefix("198.18.9.1/32"): true}}; !reflect.DeepEqual(s.pending.deltas, want) {
		t.Errorf("pending deltas after relabel back %v, want the address in the set again (the last change wins)", s.pending.deltas)
	}
	if errs := s.handOver(); len(errs) > 0 {
		t.Fatal(errs)
	}

	// The backend pod moving to another interface is rewritten under it.
	moved := backend.DeepCopy()
	moved.Spec.InterfaceName = "calibackendX"
	h.OnUpdate(backend, moved)
	if _, ok := s.pending.endpoints["myapp/backend-0"]; !ok {
		t.Errorf("interface change not pending")
	}
	if errs := s.handOver(); len(errs) > 0 {
		t.Fatal(errs)
	}
	if s.written["myapp/backend-0"] != "calibackendX" {
		t.Errorf("written %v", s.written)
	}

	// Deleting the policy (as a tombstone) restores default behaviour: the
	// endpoint leaves the filter and the set goes.
	h.OnDelete(cache.DeletedFinalStateUnknown{Key: "myapp/default.app-to-db", Obj: seedPolicy(t)})
	if _, ok := s.pending.removed[setID]; !ok {
		t.Errorf("set %s not removed: %+v", setID, s.pending)
	}
	if _, ok := s.pending.endpoints["myapp/backend-0"]; !ok {
		t.Errorf("backend not recomputed: %+v", s.pending)
	}
	if errs := s.handOver(); len(errs) > 0 {
		t.Fatal(errs)
	}
	if len(s.written) != 0 {
		t.Errorf("endpoints still in the filter: %v", s.written)
	}
}
