package policy_test

import (
	"net/netip"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/podendpoints"
	"github.com/meshapi/meshapi/pkg/policy"
	"github.com/meshapi/meshapi/pkg/remotecluster"
)

// seedPolicy is the seeds' "remote-identity-aware network policy"
// (test/integration/testdata/seeds/000-networkpolicy-app-to-db.yaml), with
// ports beside the protocol as the seed writes them.
const seedPolicy = `
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata:
  name: default.app-to-db
  namespace: myapp
spec:
  # The main policy selector selects endpoints from the local cluster only.
  selector: app == 'backend-app'
  tier: default
  egress:
    - destination:
        # Rule selectors can select endpoints from local AND remote clusters.
        selector: app == 'postgres'
      protocol: TCP
      ports: [5432]
      action: Allow
`

// pod returns a running pod with one IP.
func pod(ns, name, node, ip string, labels map[string]string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
		Spec:       corev1.PodSpec{NodeName: node},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip},
	}
}

// namespace returns a namespace.
func namespace(name string, labels map[string]string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
}

// TestSeedExample runs the seed policy over endpoints and profiles made the
// way podendpoints makes them and remotecluster mirrors them.
func TestSeedExample(t *testing.T) {
	var np v3.NetworkPolicy
	if err := yaml.Unmarshal([]byte(seedPolicy), &np); err != nil {
		t.Fatal(err)
	}
	s := policy.NewState(policy.Callbacks{})
	if err := s.UpsertPolicy(policy.PolicyFromNetworkPolicy(&np)); err != nil {
		t.Fatal(err)
	}

	for _, ns := range []*corev1.Namespace{namespace("myapp", nil), namespace("other", nil)} {
		s.UpsertProfile(policy.ProfileFromV3(podendpoints.NamespaceProfileFor(ns)))
		s.UpsertProfile(policy.ProfileFromV3(remotecluster.MirrorProfile("cluster-b", podendpoints.NamespaceProfileFor(ns))))
	}
	type podSpec struct {
		remote         bool
		ns, name, ip   string
		app            string
		wantDestMember bool
		wantPolicy     bool
	}
	pods := []podSpec{
		{ns: "myapp", name: "backend-0", ip: "10.0.0.1", app: "backend-app", wantPolicy: true},
		{ns: "myapp", name: "postgres-0", ip: "10.0.0.2", app: "postgres", wantDestMember: true},
		{ns: "other", name: "postgres-0", ip: "10.0.1.2", app: "postgres"},
		{remote: true, ns: "myapp", name: "postgres-0", ip: "10.1.0.2", app: "postgres", wantDestMember: true},
		{remote: true, ns: "myapp", name: "backend-0", ip: "10.1.0.1", app: "backend-app"},
		{remote: true, ns: "other", name: "postgres-0", ip: "10.1.1.2", app: "postgres"},
	}
	keys := map[int]string{}
	var wantDest []netip.Prefix
	for i, p := range pods {
		wep := podendpoints.WorkloadEndpoint(pod(p.ns, p.name, "node-1", p.ip, map[string]string{"app": p.app}))
		if p.remote {
			wep = remotecluster.MirrorWorkloadEndpoint("cluster-b", wep)
		}
		ep := policy.EndpointFromWorkloadEndpoint(wep)
		if p.remote != (ep.Cluster == "cluster-b") {
			t.Fatalf("endpoint %s: cluster %q", ep.Key, ep.Cluster)
		}
		keys[i] = ep.Key
		s.UpsertEndpoint(ep)
		if p.wantDestMember {
			wantDest = append(wantDest, netip.MustParsePrefix(p.ip+"/32"))
		}
	}
	// A remote host endpoint is never selected by a namespaced rule.
	hep := &v3.HostEndpoint{ObjectMeta: metav1.ObjectMeta{Name: "gw", Labels: map[string]string{"app": "postgres"}},
		Spec: v3.HostEndpointSpec{Node: "node-1", ExpectedIPs: []string{"192.168.1.1"}}}
	s.UpsertEndpoint(policy.EndpointFromHostEndpoint(remotecluster.MirrorHostEndpoint("cluster-b", hep)))

	for i, p := range pods {
		got := s.PoliciesFor(keys[i])
		if !p.wantPolicy {
			if len(got) != 0 {
				t.Errorf("%s: PoliciesFor = %+v, want none", keys[i], got)
			}
			continue
		}
		if len(got) != 1 {
			t.Fatalf("%s: PoliciesFor = %+v, want default.app-to-db", keys[i], got)
		}
		a := got[0]
		if a.Key != "myapp/default.app-to-db" || a.Tier != "default" || a.TierDefaultAction != v3.Deny ||
			!slices.Equal(a.Types, []v3.PolicyType{v3.PolicyTypeEgress}) || len(a.Ingress) != 0 || len(a.Egress) != 1 {
			t.Fatalf("applied policy = %+v", a)
		}
		r := a.Egress[0]
		if r.Action != v3.Allow || r.Protocol == nil || r.Protocol.String() != "TCP" || r.ID != "myapp/default.app-to-db/egress/0" {
			t.Errorf("rule = %+v", r)
		}
		if r.Source.HasSelector || r.Source.SelectorIPs != nil {
			t.Errorf("source = %+v, want any", r.Source)
		}
		d := r.Destination
		if !d.HasSelector || !slices.Equal(d.SelectorIPs, wantDest) {
			t.Errorf("destination IPs = %v, want %v (local and cluster-b postgres in myapp)", d.SelectorIPs, wantDest)
		}
		if !slices.Equal(d.Ports, []v3.Port{v3.SinglePort(5432)}) {
			t.Errorf("destination ports = %v, want [5432]", d.Ports)
		}
		if got := s.SetMembers(d.SetID); !slices.Equal(got, wantDest) {
			t.Errorf("SetMembers = %v, want %v", got, wantDest)
		}
	}
}
