package meshcheck

import (
	"testing"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

func TestUsesOverlays(t *testing.T) {
	tests := []struct {
		name          string
		view          ClusterView
		vxlan, wguard bool
	}{
		{name: "nothing set", view: ClusterView{}},
		{name: "pool without encapsulation", view: ClusterView{Pools: []v3.IPPool{ippool("p", "10.0.0.0/16")}}},
		{name: "pool vxlanMode Never", view: ClusterView{Pools: []v3.IPPool{ippool("p", "10.0.0.0/16", withVXLAN(v3.EncapModeNever))}}},
		{name: "pool vxlanMode Always", view: ClusterView{Pools: vxlanPools("10.0.0.0/16")}, vxlan: true},
		{name: "pool vxlanMode CrossSubnet", view: ClusterView{Pools: []v3.IPPool{ippool("p", "10.0.0.0/16", withVXLAN(v3.EncapModeCrossSubnet))}}, vxlan: true},
		{name: "disabled VXLAN pool counts", view: ClusterView{Pools: []v3.IPPool{ippool("p", "10.0.0.0/16", withVXLAN(v3.EncapModeAlways), disabled)}}, vxlan: true},
		{name: "IPv6 VXLAN pool", view: ClusterView{Pools: []v3.IPPool{ippool("p", "fd00::/48", withVXLAN(v3.EncapModeAlways))}}, vxlan: true},
		{name: "mirrored VXLAN pool ignored", view: ClusterView{Pools: []v3.IPPool{ippool("p", "10.0.0.0/16", withVXLAN(v3.EncapModeAlways), mirroredFrom("cluster-b"))}}},
		{name: "vxlanEnabled true", view: ClusterView{Felix: felix(vxlanOn)}, vxlan: true},
		{name: "vxlanEnabled false", view: ClusterView{Felix: felix(vxlanOff)}},
		{name: "wireguardEnabled", view: ClusterView{Felix: felix(wg)}, wguard: true},
		{name: "wireguardEnabledV6", view: ClusterView{Felix: felix(wg6)}, wguard: true},
		{name: "wireguardEnabled false", view: ClusterView{Felix: felix(func(s *v3.FelixConfigurationSpec) { s.WireguardEnabled = ptr(false) })}},
		{name: "both", view: ClusterView{Felix: felix(wg), Pools: vxlanPools("10.0.0.0/16")}, vxlan: true, wguard: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.view.UsesVXLAN(); got != tt.vxlan {
				t.Errorf("UsesVXLAN() = %v, want %v", got, tt.vxlan)
			}
			if got := tt.view.UsesWireGuard(); got != tt.wguard {
				t.Errorf("UsesWireGuard() = %v, want %v", got, tt.wguard)
			}
		})
	}
}

// TestCommonOverlayRule covers the common-overlay rule through Check, with
// this cluster's pool 10.244.0.0/16 and cluster-b's 10.245.0.0/16.
func TestCommonOverlayRule(t *testing.T) {
	none := func(cidr string) ClusterView { return ClusterView{Pools: []v3.IPPool{ippool("p", cidr)}} }
	vxlan := func(cidr string) ClusterView { return ClusterView{Pools: vxlanPools(cidr)} }
	wireguard := func(cidr string) ClusterView {
		return ClusterView{Felix: felix(wg), Pools: []v3.IPPool{ippool("p", cidr)}}
	}
	both := func(cidr string) ClusterView { return ClusterView{Felix: felix(wg), Pools: vxlanPools(cidr)} }
	tests := []struct {
		name          string
		local, remote func(string) ClusterView
		want          string
	}{
		{name: "VXLAN and VXLAN", local: vxlan, remote: vxlan},
		{name: "WireGuard and WireGuard", local: wireguard, remote: wireguard},
		{name: "both and VXLAN", local: both, remote: vxlan},
		{name: "WireGuard and both", local: wireguard, remote: both},
		{name: "VXLAN and WireGuard", local: vxlan, remote: wireguard,
			want: `no overlay in common with remote cluster "cluster-b": this cluster uses VXLAN, "cluster-b" uses WireGuard`},
		{name: "WireGuard and VXLAN", local: wireguard, remote: vxlan,
			want: `no overlay in common with remote cluster "cluster-b": this cluster uses WireGuard, "cluster-b" uses VXLAN`},
		{name: "none and VXLAN", local: none, remote: vxlan,
			want: `no overlay in common with remote cluster "cluster-b": this cluster uses none, "cluster-b" uses VXLAN`},
		{name: "both and none", local: both, remote: none,
			want: `no overlay in common with remote cluster "cluster-b": this cluster uses VXLAN and WireGuard, "cluster-b" uses none`},
		{name: "none and none", local: none, remote: none,
			want: `no overlay in common with remote cluster "cluster-b": this cluster uses none, "cluster-b" uses none`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			remote := tt.remote("10.245.0.0/16")
			remote.Name = "cluster-b"
			var want []string
			if tt.want != "" {
				want = []string{tt.want}
			}
			vs := Check(tt.local("10.244.0.0/16"), []ClusterView{remote})
			expectStrings(t, messages(vs), want)
			if len(vs) == 1 && vs[0].Field != FieldOverlay {
				t.Errorf("Field = %q, want %q", vs[0].Field, FieldOverlay)
			}
		})
	}
}
