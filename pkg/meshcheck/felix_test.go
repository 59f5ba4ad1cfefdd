package meshcheck

import (
	"testing"
	"time"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

// TestSettingsRule covers the routeSource, vxlan* and wireguard* rules
// through Check, between this cluster and one remote cluster "cluster-b".
// Unless a case says otherwise, this cluster's pool is 10.244.0.0/16 and
// the remote's 10.245.0.0/16.
func TestSettingsRule(t *testing.T) {
	vx := func(cidr string) []v3.IPPool { return vxlanPools(cidr) }
	plain := func(cidr string) []v3.IPPool { return []v3.IPPool{ippool("default-ipv4-ippool", cidr)} }
	type side struct {
		felix *v3.FelixConfiguration
		pools func(string) []v3.IPPool
	}
	tests := []struct {
		name          string
		local, remote side
		want          []string
		wantFields    []string
	}{
		{name: "VXLAN with defaults on both sides", local: side{nil, vx}, remote: side{nil, vx}},
		{name: "WireGuard with defaults on both sides", local: side{felix(wg), plain}, remote: side{felix(wg), plain}},
		{name: "vxlanPort unset equals 4789", local: side{nil, vx}, remote: side{felix(vxlanPort(4789)), vx}},
		{
			name: "vxlanPort differs", local: side{nil, vx}, remote: side{felix(vxlanPort(4790)), vx},
			want: []string{`vxlanPort 4789 differs from remote cluster "cluster-b" (4790)`}, wantFields: []string{"vxlanPort"},
		},
		{name: "vxlanVNI unset equals 4096", local: side{felix(vxlanVNI(4096)), vx}, remote: side{nil, vx}},
		{
			name: "vxlanVNI differs", local: side{felix(vxlanVNI(4097)), vx}, remote: side{nil, vx},
			want: []string{`vxlanVNI 4097 differs from remote cluster "cluster-b" (4096)`},
		},
		{name: "vxlanMTU unset equals 0 (both auto)", local: side{felix(vxlanMTU(0)), vx}, remote: side{nil, vx}},
		{
			name: "vxlanMTU unset differs from a number", local: side{nil, vx}, remote: side{felix(vxlanMTU(1450)), vx},
			want: []string{`vxlanMTU "auto" differs from remote cluster "cluster-b" (1450)`},
		},
		{name: "vxlanMTU equal numbers", local: side{felix(vxlanMTU(1450)), vx}, remote: side{felix(vxlanMTU(1450)), vx}},
		{
			name: "vxlanMTUV6 differs", local: side{felix(vxlanMTUV6(1430)), vx}, remote: side{felix(vxlanMTUV6(1400)), vx},
			want: []string{`vxlanMTUV6 1430 differs from remote cluster "cluster-b" (1400)`},
		},
		{name: "vxlanEnabled unset with VXLAN pools equals true", local: side{felix(vxlanOn), plain}, remote: side{nil, vx}},
		{
			name: "vxlanEnabled false with VXLAN pools still uses VXLAN", local: side{felix(vxlanOff), vx}, remote: side{nil, vx},
			want: []string{`vxlanEnabled false differs from remote cluster "cluster-b" (true)`},
		},
		{
			name: "CrossSubnet pools use VXLAN", local: side{felix(vxlanPort(9999)), func(c string) []v3.IPPool {
				return []v3.IPPool{ippool("p", c, withVXLAN(v3.EncapModeCrossSubnet))}
			}}, remote: side{nil, vx},
			want: []string{`vxlanPort 9999 differs from remote cluster "cluster-b" (4789)`},
		},
		{
			name: "vxlan settings ignored unless both use VXLAN", local: side{felix(wg, vxlanPort(9999), vxlanMTU(1000)), vx},
			remote: side{felix(wg), plain},
		},
		{name: "routeSource unset equals CalicoIPAM", local: side{felix(func(s *v3.FelixConfigurationSpec) { s.RouteSource = v3.RouteSourceCalicoIPAM }), vx}, remote: side{nil, vx}},
		{
			name: "routeSource differs", local: side{nil, vx}, remote: side{felix(workloadIPs), vx},
			want: []string{`routeSource "CalicoIPAM" differs from remote cluster "cluster-b" ("WorkloadIPs")`}, wantFields: []string{"routeSource"},
		},
		{
			name: "routeSource compared without a common overlay", local: side{felix(workloadIPs), plain}, remote: side{nil, plain},
			want: []string{
				`no overlay in common with remote cluster "cluster-b": this cluster uses none, "cluster-b" uses none`,
				`routeSource "WorkloadIPs" differs from remote cluster "cluster-b" ("CalicoIPAM")`,
			},
			wantFields: []string{"overlay", "routeSource"},
		},
		{name: "wireguardListeningPort unset equals 51820", local: side{felix(wg, wgPort(51820)), plain}, remote: side{felix(wg), plain}},
		{
			name: "wireguardListeningPort differs", local: side{felix(wg, wgPort(51830)), plain}, remote: side{felix(wg), plain},
			want: []string{`wireguardListeningPort 51830 differs from remote cluster "cluster-b" (51820)`},
		},
		{name: "wireguardListeningPortV6 unset equals 51821", local: side{felix(wg6), plain}, remote: side{felix(wg6, wgPortV6(51821)), plain}},
		{
			name: "wireguardListeningPortV6 differs", local: side{felix(wg6), plain}, remote: side{felix(wg6, wgPortV6(51820)), plain},
			want: []string{`wireguardListeningPortV6 51821 differs from remote cluster "cluster-b" (51820)`},
		},
		{name: "wireguardInterfaceName unset equals wireguard.cali", local: side{felix(wg, wgIface("wireguard.cali")), plain}, remote: side{felix(wg), plain}},
		{
			name: "wireguardInterfaceName differs", local: side{felix(wg), plain}, remote: side{felix(wg, wgIface("wg0")), plain},
			want: []string{`wireguardInterfaceName "wireguard.cali" differs from remote cluster "cluster-b" ("wg0")`},
		},
		{name: "wireguardInterfaceNameV6 unset equals wg-v6.cali", local: side{felix(wg, wgIfaceV6("wg-v6.cali")), plain}, remote: side{felix(wg), plain}},
		{
			name: "wireguardInterfaceNameV6 differs", local: side{felix(wg, wgIfaceV6("wg6")), plain}, remote: side{felix(wg), plain},
			want: []string{`wireguardInterfaceNameV6 "wg6" differs from remote cluster "cluster-b" ("wg-v6.cali")`},
		},
		{
			name: "wireguardMTU and wireguardMTUV6 differ", local: side{felix(wg, wgMTU(1420), wgMTUV6(0)), plain}, remote: side{felix(wg, wgMTUV6(1400)), plain},
			want: []string{
				`wireguardMTU 1420 differs from remote cluster "cluster-b" ("auto")`,
				`wireguardMTUV6 "auto" differs from remote cluster "cluster-b" (1400)`,
			},
			wantFields: []string{"wireguardMTU", "wireguardMTUV6"},
		},
		{name: "wireguardRoutingRulePriority unset equals 99", local: side{felix(wg, wgPrio(99)), plain}, remote: side{felix(wg), plain}},
		{
			name: "wireguardRoutingRulePriority differs", local: side{felix(wg), plain}, remote: side{felix(wg, wgPrio(100)), plain},
			want: []string{`wireguardRoutingRulePriority 99 differs from remote cluster "cluster-b" (100)`},
		},
		{name: "wireguardHostEncryptionEnabled unset equals false", local: side{felix(wg, wgHostEnc(false)), plain}, remote: side{felix(wg), plain}},
		{
			name: "wireguardHostEncryptionEnabled differs", local: side{felix(wg, wgHostEnc(true)), plain}, remote: side{felix(wg), plain},
			want: []string{`wireguardHostEncryptionEnabled true differs from remote cluster "cluster-b" (false)`},
		},
		{name: "wireguardKeepAlive unset equals 0s", local: side{felix(wg, wgKeepAlive(0)), plain}, remote: side{felix(wg), plain}},
		{
			name: "wireguardKeepAlive differs", local: side{felix(wg), plain}, remote: side{felix(wg, wgKeepAlive(25*time.Second)), plain},
			want: []string{`wireguardKeepAlive "0s" differs from remote cluster "cluster-b" ("25s")`},
		},
		{
			name: "IPv4-only WireGuard against dual-stack WireGuard", local: side{felix(wg), plain}, remote: side{felix(wg, wg6), plain},
			want: []string{`wireguardEnabledV6 false differs from remote cluster "cluster-b" (true)`},
		},
		{
			name: "wireguard settings ignored unless both use WireGuard", local: side{felix(wg, wgPort(1), wgIface("x")), vx},
			remote: side{nil, vx},
		},
		{
			name: "every differing setting, in field order",
			local: side{felix(workloadIPs, vxlanPort(4790), vxlanVNI(1), vxlanMTU(1400), wg, wg6, wgPort(1), wgPortV6(2), wgIface("a"), wgIfaceV6("b"),
				wgMTU(1300), wgMTUV6(1350), wgPrio(5), wgHostEnc(true), wgKeepAlive(time.Minute)), vx},
			remote: side{felix(wg, vxlanMTUV6(1380)), vx},
			want: []string{
				`routeSource "WorkloadIPs" differs from remote cluster "cluster-b" ("CalicoIPAM")`,
				`vxlanPort 4790 differs from remote cluster "cluster-b" (4789)`,
				`vxlanVNI 1 differs from remote cluster "cluster-b" (4096)`,
				`vxlanMTU 1400 differs from remote cluster "cluster-b" ("auto")`,
				`vxlanMTUV6 "auto" differs from remote cluster "cluster-b" (1380)`,
				`wireguardEnabledV6 true differs from remote cluster "cluster-b" (false)`,
				`wireguardListeningPort 1 differs from remote cluster "cluster-b" (51820)`,
				`wireguardListeningPortV6 2 differs from remote cluster "cluster-b" (51821)`,
				`wireguardInterfaceName "a" differs from remote cluster "cluster-b" ("wireguard.cali")`,
				`wireguardInterfaceNameV6 "b" differs from remote cluster "cluster-b" ("wg-v6.cali")`,
				`wireguardMTU 1300 differs from remote cluster "cluster-b" ("auto")`,
				`wireguardMTUV6 1350 differs from remote cluster "cluster-b" ("auto")`,
				`wireguardRoutingRulePriority 5 differs from remote cluster "cluster-b" (99)`,
				`wireguardHostEncryptionEnabled true differs from remote cluster "cluster-b" (false)`,
				`wireguardKeepAlive "1m0s" differs from remote cluster "cluster-b" ("0s")`,
			},
			wantFields: []string{"routeSource", "vxlanPort", "vxlanVNI", "vxlanMTU", "vxlanMTUV6", "wireguardEnabledV6",
				"wireguardListeningPort", "wireguardListeningPortV6", "wireguardInterfaceName", "wireguardInterfaceNameV6",
				"wireguardMTU", "wireguardMTUV6", "wireguardRoutingRulePriority", "wireguardHostEncryptionEnabled", "wireguardKeepAlive"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			local := ClusterView{Felix: tt.local.felix, Pools: tt.local.pools("10.244.0.0/16"), Nodes: []string{"a-1"}}
			remote := ClusterView{Name: "cluster-b", Felix: tt.remote.felix, Pools: tt.remote.pools("10.245.0.0/16"), Nodes: []string{"b-1"}}
			vs := Check(local, []ClusterView{remote})
			expectStrings(t, messages(vs), tt.want)
			if tt.wantFields != nil {
				var fields []string
				for _, v := range vs {
					fields = append(fields, v.Field)
				}
				expectStrings(t, fields, tt.wantFields)
			}
			for _, v := range vs {
				if v.Remote != "cluster-b" || v.Other != "" {
					t.Errorf("violation %+v: want Remote cluster-b and no Other", v)
				}
			}
		})
	}
}

func TestEffectiveSettingsDefaults(t *testing.T) {
	// A FelixConfiguration that spells out every default equals no
	// FelixConfiguration at all.
	explicit := felix(func(s *v3.FelixConfigurationSpec) {
		s.RouteSource = v3.RouteSourceCalicoIPAM
		s.VXLANEnabled = ptr(false)
		s.VXLANPort = ptr(v3.DefaultVXLANPort)
		s.VXLANVNI = ptr(v3.DefaultVXLANVNI)
		s.VXLANMTU = ptr(0)
		s.VXLANMTUV6 = ptr(0)
		s.WireguardEnabled = ptr(false)
		s.WireguardEnabledV6 = ptr(false)
		s.WireguardListeningPort = ptr(v3.DefaultWireguardListeningPort)
		s.WireguardListeningPortV6 = ptr(51821)
		s.WireguardInterfaceName = v3.DefaultWireguardInterfaceName
		s.WireguardInterfaceNameV6 = "wg-v6.cali"
		s.WireguardMTU = ptr(0)
		s.WireguardMTUV6 = ptr(0)
		s.WireguardRoutingRulePriority = ptr(v3.DefaultWireguardRoutingRulePri)
		s.WireguardHostEncryptionEnabled = ptr(false)
		s.WireguardKeepAlive = nil
	})
	a, b := effectiveSettings(explicit, false), effectiveSettings(nil, false)
	if a.routeSource != b.routeSource || a.overlays != b.overlays {
		t.Errorf("routeSource/overlays: %v/%v vs %v/%v", a.routeSource, a.overlays, b.routeSource, b.overlays)
	}
	for i := range a.vxlan {
		if a.vxlan[i] != b.vxlan[i] {
			t.Errorf("%s: %v vs %v", a.vxlan[i].name, a.vxlan[i].value, b.vxlan[i].value)
		}
	}
	for i := range a.wireguard {
		if a.wireguard[i] != b.wireguard[i] {
			t.Errorf("%s: %v vs %v", a.wireguard[i].name, a.wireguard[i].value, b.wireguard[i].value)
		}
	}
}
