package policy

import (
	"net/netip"
	"reflect"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

// TestConverters checks the conversions from the v3 types.
func TestConverters(t *testing.T) {
	pass := v3.Pass
	order := 5.0
	cases := []struct {
		name string
		got  func() any
		want any
	}{
		{name: "local workload endpoint",
			got: func() any {
				return EndpointFromWorkloadEndpoint(&v3.WorkloadEndpoint{
					ObjectMeta: metav1.ObjectMeta{Name: "n1-k8s-db-eth0", Namespace: "myapp", Labels: map[string]string{"app": "postgres"}},
					Spec: v3.WorkloadEndpointSpec{Node: "n1", Profiles: []string{"kns.myapp"},
						IPNetworks: []string{"10.0.0.2/32", "fd00::2/128", "bogus", "10.0.0.3"}},
				})
			},
			want: Endpoint{Key: "myapp/n1-k8s-db-eth0", Namespace: "myapp", Labels: map[string]string{"app": "postgres"},
				Profiles: []string{"kns.myapp"}, Node: "n1",
				IPs: []netip.Prefix{netip.MustParsePrefix("10.0.0.2/32"), netip.MustParsePrefix("fd00::2/128"), netip.MustParsePrefix("10.0.0.3/32")}}},
		{name: "mirrored workload endpoint",
			got: func() any {
				return EndpointFromWorkloadEndpoint(&v3.WorkloadEndpoint{
					ObjectMeta: metav1.ObjectMeta{Name: "cluster-b.n1-k8s-db-eth0", Namespace: "myapp", Labels: map[string]string{v3.LabelCluster: "cluster-b"}},
					Spec:       v3.WorkloadEndpointSpec{Node: "cluster-b/n1", Profiles: []string{"cluster-b/kns.myapp"}},
				})
			},
			want: Endpoint{Key: "myapp/cluster-b.n1-k8s-db-eth0", Cluster: "cluster-b", Namespace: "myapp",
				Labels: map[string]string{v3.LabelCluster: "cluster-b"}, Profiles: []string{"cluster-b/kns.myapp"}, Node: "cluster-b/n1"}},
		{name: "host endpoint",
			got: func() any {
				return EndpointFromHostEndpoint(&v3.HostEndpoint{
					ObjectMeta: metav1.ObjectMeta{Name: "gw", Labels: map[string]string{"role": "gw"}},
					Spec:       v3.HostEndpointSpec{Node: "n1", ExpectedIPs: []string{"192.168.0.1"}},
				})
			},
			want: Endpoint{Key: "hep:gw", Labels: map[string]string{"role": "gw"}, Node: "n1",
				IPs: []netip.Prefix{netip.MustParsePrefix("192.168.0.1/32")}}},
		{name: "mirrored profile",
			got: func() any {
				return ProfileFromV3(&v3.Profile{
					ObjectMeta: metav1.ObjectMeta{Name: "cluster-b.kns.myapp", Labels: map[string]string{v3.LabelCluster: "cluster-b"},
						Annotations: map[string]string{v3.AnnotationRemoteName: "kns.myapp"}},
					Spec: v3.ProfileSpec{LabelsToApply: map[string]string{"pcns.team": "a"}},
				})
			},
			want: Profile{Name: "cluster-b.kns.myapp", Cluster: "cluster-b", RemoteName: "kns.myapp", Labels: map[string]string{"pcns.team": "a"}}},
		{name: "tier defaults to Deny",
			got:  func() any { return TierFromV3(&v3.Tier{ObjectMeta: metav1.ObjectMeta{Name: "t"}}) },
			want: Tier{Name: "t", DefaultAction: v3.Deny}},
		{name: "tier with Pass and order",
			got: func() any {
				return TierFromV3(&v3.Tier{ObjectMeta: metav1.ObjectMeta{Name: "t"}, Spec: v3.TierSpec{Order: &order, DefaultAction: &pass}})
			},
			want: Tier{Name: "t", Order: &order, DefaultAction: v3.Pass}},
		{name: "network policy with empty tier",
			got: func() any {
				return PolicyFromNetworkPolicy(&v3.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"},
					Spec: v3.NetworkPolicySpec{Selector: "a == 'b'", Order: &order}})
			},
			want: Policy{Key: "ns/p", Name: "p", Namespace: "ns", Tier: "default", Selector: "a == 'b'", Order: &order}},
		{name: "global network policy",
			got: func() any {
				return PolicyFromGlobalNetworkPolicy(&v3.GlobalNetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "sec.p"},
					Spec: v3.GlobalNetworkPolicySpec{Tier: "sec", NamespaceSelector: "global()", PreDNAT: true, ApplyOnForward: true,
						Types: []v3.PolicyType{v3.PolicyTypeIngress}, Ingress: []v3.Rule{{Action: v3.Deny}}}})
			},
			want: Policy{Key: "sec.p", Name: "sec.p", Tier: "sec", NamespaceSelector: "global()", PreDNAT: true, ApplyOnForward: true,
				Types: []v3.PolicyType{v3.PolicyTypeIngress}, Ingress: []v3.Rule{{Action: v3.Deny}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.got(); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got\n%#v\nwant\n%#v", got, tc.want)
			}
		})
	}
}

// TestProfileResolution checks that a mirrored endpoint's profile
// reference resolves by remote name, not by a local profile of that name.
func TestProfileResolution(t *testing.T) {
	cases := []struct {
		name    string
		profile Profile
		want    bool
	}{
		{name: "by remote-name annotation", profile: Profile{Name: "whatever", Cluster: "cluster-b", RemoteName: "kns.x", Labels: map[string]string{"k": "v"}}, want: true},
		{name: "by mirrored object name", profile: Profile{Name: "cluster-b.kns.x", Cluster: "cluster-b", Labels: map[string]string{"k": "v"}}, want: true},
		{name: "a local profile of the same name does not apply", profile: Profile{Name: "kns.x", Labels: map[string]string{"k": "v"}}, want: false},
		{name: "another cluster's profile does not apply", profile: Profile{Name: "cluster-c.kns.x", Cluster: "cluster-c", Labels: map[string]string{"k": "v"}}, want: false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := NewState(Callbacks{})
			mustUpsert(t, s, gnp("p", "", allowFrom(v3.EntityRule{Selector: "k == 'v'"}), nil))
			s.UpsertEndpoint(Endpoint{Key: "hep:local", IPs: []netip.Prefix{netip.MustParsePrefix("10.0.0.1/32")}})
			s.UpsertEndpoint(Endpoint{Key: "x/cluster-b.e", Cluster: "cluster-b", Namespace: "x",
				Profiles: []string{"cluster-b/kns.x"}, IPs: []netip.Prefix{netip.MustParsePrefix("10.1.0.1/32")}})
			s.UpsertProfile(tc.profile)
			got := len(s.PoliciesFor("hep:local")[0].Ingress[0].Source.SelectorIPs) == 1
			if got != tc.want {
				t.Errorf("remote endpoint inherits the profile: %v, want %v", got, tc.want)
			}
		})
	}
}
