package v3

import (
	"reflect"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

func TestSetDefaultsIPPoolSpec(t *testing.T) {
	cases := []struct {
		name string
		in   IPPoolSpec
		want IPPoolSpec
	}{
		{name: "IPv4", in: IPPoolSpec{CIDR: "10.244.0.0/16"}, want: IPPoolSpec{CIDR: "10.244.0.0/16", BlockSize: 26}},
		{name: "IPv6", in: IPPoolSpec{CIDR: "fd00:10:244::/64"}, want: IPPoolSpec{CIDR: "fd00:10:244::/64", BlockSize: 122}},
		{name: "IPv4 explicit block size kept", in: IPPoolSpec{CIDR: "10.244.0.0/16", BlockSize: 24}, want: IPPoolSpec{CIDR: "10.244.0.0/16", BlockSize: 24}},
		{name: "IPv6 explicit block size kept", in: IPPoolSpec{CIDR: "fd00::/48", BlockSize: 120}, want: IPPoolSpec{CIDR: "fd00::/48", BlockSize: 120}},
		// A block size of the wrong family is kept for validation to report.
		{name: "explicit block size of the other family kept", in: IPPoolSpec{CIDR: "10.0.0.0/8", BlockSize: 122}, want: IPPoolSpec{CIDR: "10.0.0.0/8", BlockSize: 122}},
		{name: "bad CIDR untouched", in: IPPoolSpec{CIDR: "10.244.0.0/33"}, want: IPPoolSpec{CIDR: "10.244.0.0/33"}},
		{name: "address without prefix untouched", in: IPPoolSpec{CIDR: "10.244.0.0"}, want: IPPoolSpec{CIDR: "10.244.0.0"}},
		{name: "empty CIDR untouched", in: IPPoolSpec{}, want: IPPoolSpec{}},
		{name: "other fields untouched", in: IPPoolSpec{CIDR: "192.168.0.0/16", VXLANMode: EncapModeCrossSubnet, NATOutgoing: true},
			want: IPPoolSpec{CIDR: "192.168.0.0/16", VXLANMode: EncapModeCrossSubnet, NATOutgoing: true, BlockSize: 26}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.in
			SetDefaults_IPPoolSpec(&got)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("SetDefaults_IPPoolSpec(%+v) = %+v, want %+v", tc.in, got, tc.want)
			}
		})
	}
}

func TestSchemeDefaults(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := AddToScheme(scheme); err != nil {
		t.Fatalf("AddToScheme: %v", err)
	}
	order := 10.0
	cases := []struct {
		name string
		in   runtime.Object
		want runtime.Object
	}{
		{
			name: "IPv4 pool",
			in:   &IPPool{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: IPPoolSpec{CIDR: "10.244.0.0/16"}},
			want: &IPPool{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: IPPoolSpec{
				CIDR: "10.244.0.0/16", VXLANMode: EncapModeNever, IPIPMode: EncapModeNever, NodeSelector: "all()", BlockSize: 26}},
		},
		{
			name: "IPv6 pool",
			in:   &IPPool{Spec: IPPoolSpec{CIDR: "fd00::/64"}},
			want: &IPPool{Spec: IPPoolSpec{CIDR: "fd00::/64", VXLANMode: EncapModeNever, IPIPMode: EncapModeNever, NodeSelector: "all()", BlockSize: 122}},
		},
		{
			name: "pool with everything set",
			in: &IPPool{Spec: IPPoolSpec{CIDR: "10.0.0.0/16", VXLANMode: EncapModeAlways, IPIPMode: EncapModeCrossSubnet,
				NodeSelector: "zone == 'a'", BlockSize: 28}},
			want: &IPPool{Spec: IPPoolSpec{CIDR: "10.0.0.0/16", VXLANMode: EncapModeAlways, IPIPMode: EncapModeCrossSubnet,
				NodeSelector: "zone == 'a'", BlockSize: 28}},
		},
		{
			name: "pool with a bad CIDR gets the modes but no block size",
			in:   &IPPool{Spec: IPPoolSpec{CIDR: "bogus"}},
			want: &IPPool{Spec: IPPoolSpec{CIDR: "bogus", VXLANMode: EncapModeNever, IPIPMode: EncapModeNever, NodeSelector: "all()"}},
		},
		{
			name: "pool list",
			in:   &IPPoolList{Items: []IPPool{{Spec: IPPoolSpec{CIDR: "10.1.0.0/16"}}, {Spec: IPPoolSpec{CIDR: "fd01::/64", VXLANMode: EncapModeAlways}}}},
			want: &IPPoolList{Items: []IPPool{
				{Spec: IPPoolSpec{CIDR: "10.1.0.0/16", VXLANMode: EncapModeNever, IPIPMode: EncapModeNever, NodeSelector: "all()", BlockSize: 26}},
				{Spec: IPPoolSpec{CIDR: "fd01::/64", VXLANMode: EncapModeAlways, IPIPMode: EncapModeNever, NodeSelector: "all()", BlockSize: 122}},
			}},
		},
		{
			name: "network policy",
			in:   &NetworkPolicy{Spec: NetworkPolicySpec{Selector: "all()"}},
			want: &NetworkPolicy{Spec: NetworkPolicySpec{Tier: DefaultTierName, Selector: "all()"}},
		},
		{
			name: "network policy in a tier",
			in:   &NetworkPolicy{Spec: NetworkPolicySpec{Tier: "security", Order: &order}},
			want: &NetworkPolicy{Spec: NetworkPolicySpec{Tier: "security", Order: &order}},
		},
		{
			name: "network policy list",
			in:   &NetworkPolicyList{Items: []NetworkPolicy{{}, {Spec: NetworkPolicySpec{Tier: "security"}}}},
			want: &NetworkPolicyList{Items: []NetworkPolicy{{Spec: NetworkPolicySpec{Tier: "default"}}, {Spec: NetworkPolicySpec{Tier: "security"}}}},
		},
		{
			name: "global network policy",
			in:   &GlobalNetworkPolicy{Spec: GlobalNetworkPolicySpec{DoNotTrack: true}},
			want: &GlobalNetworkPolicy{Spec: GlobalNetworkPolicySpec{Tier: "default", DoNotTrack: true}},
		},
		{
			name: "global network policy in a tier",
			in:   &GlobalNetworkPolicy{Spec: GlobalNetworkPolicySpec{Tier: "platform"}},
			want: &GlobalNetworkPolicy{Spec: GlobalNetworkPolicySpec{Tier: "platform"}},
		},
		{
			name: "global network policy list",
			in:   &GlobalNetworkPolicyList{Items: []GlobalNetworkPolicy{{}}},
			want: &GlobalNetworkPolicyList{Items: []GlobalNetworkPolicy{{Spec: GlobalNetworkPolicySpec{Tier: "default"}}}},
		},
		{
			name: "kind without defaults",
			in:   &Tier{ObjectMeta: metav1.ObjectMeta{Name: "security"}},
			want: &Tier{ObjectMeta: metav1.ObjectMeta{Name: "security"}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			scheme.Default(tc.in)
			if !reflect.DeepEqual(tc.in, tc.want) {
				t.Errorf("defaulted\n%#v\nwant\n%#v", tc.in, tc.want)
			}
		})
	}
}
