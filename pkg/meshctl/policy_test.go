package meshctl

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/policy"
)

// policyFixture is the seed's app-to-db example: a local backend, a local
// and a remote postgres, a remote web pod.
func policyFixture(target policy.Policy) policyInput {
	in := policyInput{names: map[string]EvalEndpoint{}, target: target}
	for _, w := range []v3.WorkloadEndpoint{
		{ObjectMeta: metav1.ObjectMeta{Name: "a-k8s-backend-eth0", Namespace: "myapp", Labels: map[string]string{"app": "backend-app"}},
			Spec: v3.WorkloadEndpointSpec{Node: "host-a", Pod: "backend", IPNetworks: []string{"10.0.0.1/32"}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "a-k8s-pg-eth0", Namespace: "myapp", Labels: map[string]string{"app": "postgres"}},
			Spec: v3.WorkloadEndpointSpec{Node: "host-a", Pod: "pg", IPNetworks: []string{"10.0.0.2/32"}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "cluster-b.b-k8s-pg-eth0", Namespace: "myapp", Labels: map[string]string{"app": "postgres", v3.LabelCluster: "cluster-b"}},
			Spec: v3.WorkloadEndpointSpec{Node: "cluster-b/host-b", Pod: "pg", IPNetworks: []string{"10.1.0.2/32"}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "cluster-b.b-k8s-web-eth0", Namespace: "myapp", Labels: map[string]string{"app": "web", v3.LabelCluster: "cluster-b"}},
			Spec: v3.WorkloadEndpointSpec{Node: "cluster-b/host-b", Pod: "web", IPNetworks: []string{"10.1.0.3/32"}}},
	} {
		ep := policy.EndpointFromWorkloadEndpoint(&w)
		in.endpoints = append(in.endpoints, ep)
		in.names[ep.Key] = workloadEndpoint(&w)
	}
	return in
}

func appToDB(selector string) policy.Policy {
	return policy.PolicyFromNetworkPolicy(&v3.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "default.app-to-db", Namespace: "myapp"},
		Spec: v3.NetworkPolicySpec{Selector: selector, Tier: "default",
			Egress: []v3.Rule{{Action: v3.Allow, Destination: v3.EntityRule{Selector: "app == 'postgres'"}}, {Action: v3.Deny}}}})
}

func TestResolvePolicy(t *testing.T) {
	res, err := resolvePolicy(policyFixture(appToDB("app == 'backend-app'")))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.AppliesTo) != 1 || res.AppliesTo[0].Name != "host-a/k8s/myapp.backend/eth0" || res.Tier != "default" {
		t.Errorf("applies to %+v", res.AppliesTo)
	}
	if len(res.Rules) != 1 {
		t.Fatalf("rules %+v", res.Rules)
	}
	r := res.Rules[0]
	if r.Rule != "Egress rule 0 (Allow)" || r.Side != "destination" || !strings.Contains(r.Selector, "postgres") || len(r.Endpoints) != 2 ||
		r.Endpoints[0].Name != "cluster-b/host-b/k8s/myapp.pg/eth0" || r.Endpoints[0].Cluster != "cluster-b" || r.Endpoints[1].Name != "host-a/k8s/myapp.pg/eth0" {
		t.Errorf("rule %+v", r)
	}

	var out strings.Builder
	o := &options{out: &out}
	if err := o.printPolicy(res); err != nil {
		t.Fatal(err)
	}
	want := `Policy myapp/default.app-to-db (tier default) applies to 1 local endpoints:
  Workload endpoint host-a/k8s/myapp.backend/eth0
Egress rule 0 (Allow), destination ` + r.Selector + ` selects 2 endpoints:
  Workload endpoint cluster-b/host-b/k8s/myapp.pg/eth0
  Workload endpoint host-a/k8s/myapp.pg/eth0
`
	if out.String() != want {
		t.Errorf("printPolicy:\n%s\nwant\n%s", out.String(), want)
	}

	// A policy selector never selects remote endpoints; one that selects
	// nothing still shows what its rules' selectors select.
	res, err = resolvePolicy(policyFixture(appToDB("app == 'web'")))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.AppliesTo) != 0 || len(res.Rules) != 1 || res.Rules[0].Rule != "" || len(res.Rules[0].Endpoints) != 2 {
		t.Errorf("policy selecting only a remote endpoint: %+v", res)
	}

	bad := appToDB("app == ")
	if _, err := resolvePolicy(policyFixture(bad)); err == nil || !strings.Contains(err.Error(), "myapp/default.app-to-db") {
		t.Errorf("bad selector: %v", err)
	}
}
