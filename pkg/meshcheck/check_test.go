package meshcheck

import (
	"reflect"
	"testing"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

func TestCheckRemoteCluster(t *testing.T) {
	localPools := []v3.IPPool{
		ippool("default-ipv4-ippool", "10.244.0.0/16", withVXLAN(v3.EncapModeAlways)),
		ippool("default-ipv6-ippool", "fd00:10:244::/48"),
	}
	local := ClusterView{Pools: localPools, Nodes: []string{"a-1", "a-2"}}
	clean := ClusterView{Name: "cluster-b", Pools: vxlanPools("10.245.0.0/16"), Nodes: []string{"b-1"}}
	other := ClusterView{Name: "cluster-c", Pools: vxlanPools("10.246.0.0/16"), Nodes: []string{"c-1"}}

	tests := []struct {
		name   string
		rcc    string
		local  ClusterView
		remote ClusterView
		others []ClusterView
		want   []string
	}{
		{name: "all requirements met", rcc: "cluster-b", local: local, remote: clean, others: []ClusterView{other}},
		{
			name: "pool overlaps a local pool", rcc: "cluster-b", local: local,
			remote: ClusterView{Name: "cluster-b", Pools: vxlanPools("10.244.0.0/16")},
			want:   []string{`spec: Invalid value: "cluster-b": IPPool "default-ipv4-ippool" (10.244.0.0/16) of remote cluster "cluster-b" overlaps local IPPool "default-ipv4-ippool" (10.244.0.0/16)`},
		},
		{
			name: "IPv6 pool overlaps a local pool", rcc: "cluster-b", local: local,
			remote: ClusterView{Name: "cluster-b", Pools: append(vxlanPools("10.245.0.0/16"), ippool("v6", "fd00:10:244:8000::/49"))},
			want:   []string{`spec: Invalid value: "cluster-b": IPPool "v6" (fd00:10:244:8000::/49) of remote cluster "cluster-b" overlaps local IPPool "default-ipv6-ippool" (fd00:10:244::/48)`},
		},
		{
			name: "pool overlaps another remote cluster's pool", rcc: "cluster-b", local: local,
			remote: ClusterView{Name: "cluster-b", Pools: vxlanPools("10.246.0.0/24")}, others: []ClusterView{other},
			want: []string{`spec: Invalid value: "cluster-b": IPPool "default-ipv4-ippool" (10.246.0.0/24) of remote cluster "cluster-b" overlaps IPPool "default-ipv4-ippool" (10.246.0.0/16) of remote cluster "cluster-c"`},
		},
		{
			name: "rccName names the remote cluster", rcc: "east", local: local,
			remote: ClusterView{Name: "ignored", Pools: vxlanPools("10.244.0.0/16")},
			want:   []string{`spec: Invalid value: "east": IPPool "default-ipv4-ippool" (10.244.0.0/16) of remote cluster "east" overlaps local IPPool "default-ipv4-ippool" (10.244.0.0/16)`},
		},
		{
			name: "the stored version among others is skipped", rcc: "cluster-b", local: local, remote: clean,
			others: []ClusterView{{Name: "cluster-b", Pools: vxlanPools("10.245.0.0/16"), Nodes: []string{"b-1"}}},
		},
		{
			name: "mirrors of other clusters' pools passed by mistake are ignored", rcc: "cluster-b", local: local,
			remote: ClusterView{Name: "cluster-b", Pools: append(vxlanPools("10.245.0.0/16"),
				ippool("cluster-a.default-ipv4-ippool", "10.244.0.0/16", mirroredFrom("cluster-a")),
				ippool("cluster-c.default-ipv4-ippool", "10.246.0.0/16", mirroredFrom("cluster-c")))},
			others: []ClusterView{other},
		},
		{
			name: "settings of two remote clusters are not compared", rcc: "cluster-b", local: local, remote: clean,
			others: []ClusterView{{Name: "cluster-c", Felix: felix(workloadIPs, wg), Pools: []v3.IPPool{ippool("p", "10.246.0.0/16")}}},
		},
		{
			name: "routeSource differs", rcc: "cluster-b", local: local,
			remote: ClusterView{Name: "cluster-b", Felix: felix(workloadIPs), Pools: vxlanPools("10.245.0.0/16")},
			want:   []string{`spec: Invalid value: "cluster-b": routeSource "CalicoIPAM" differs from remote cluster "cluster-b" ("WorkloadIPs")`},
		},
		{
			name: "no overlay in common", rcc: "cluster-b", local: local,
			remote: ClusterView{Name: "cluster-b", Felix: felix(wg), Pools: []v3.IPPool{ippool("p", "10.245.0.0/16")}},
			want:   []string{`spec: Invalid value: "cluster-b": no overlay in common with remote cluster "cluster-b": this cluster uses VXLAN, "cluster-b" uses WireGuard`},
		},
		{
			name: "every violation at once, in order", rcc: "cluster-b",
			local: ClusterView{Felix: felix(vxlanMTU(1450)), Pools: localPools, Nodes: []string{"n-2", "n-1"}},
			remote: ClusterView{Name: "cluster-b", Felix: felix(workloadIPs, vxlanPort(8472)), Nodes: []string{"n-1", "n-2", "n-3"}, Pools: []v3.IPPool{
				ippool("z", "10.244.128.0/17", withVXLAN(v3.EncapModeCrossSubnet)),
				ippool("a", "10.0.0.0/8"),
				ippool("v6", "fd00:10:244:1::/64"),
			}},
			others: []ClusterView{
				{Name: "cluster-d", Pools: vxlanPools("10.250.0.0/16"), Nodes: []string{"n-3"}},
				other,
			},
			want: []string{
				`spec: Invalid value: "cluster-b": IPPool "a" (10.0.0.0/8) of remote cluster "cluster-b" overlaps local IPPool "default-ipv4-ippool" (10.244.0.0/16)`,
				`spec: Invalid value: "cluster-b": IPPool "v6" (fd00:10:244:1::/64) of remote cluster "cluster-b" overlaps local IPPool "default-ipv6-ippool" (fd00:10:244::/48)`,
				`spec: Invalid value: "cluster-b": IPPool "z" (10.244.128.0/17) of remote cluster "cluster-b" overlaps local IPPool "default-ipv4-ippool" (10.244.0.0/16)`,
				`spec: Invalid value: "cluster-b": routeSource "CalicoIPAM" differs from remote cluster "cluster-b" ("WorkloadIPs")`,
				`spec: Invalid value: "cluster-b": vxlanPort 4789 differs from remote cluster "cluster-b" (8472)`,
				`spec: Invalid value: "cluster-b": vxlanMTU 1450 differs from remote cluster "cluster-b" ("auto")`,
				`spec: Invalid value: "cluster-b": node name "n-1" is used in both this cluster and remote cluster "cluster-b"`,
				`spec: Invalid value: "cluster-b": node name "n-2" is used in both this cluster and remote cluster "cluster-b"`,
				`spec: Invalid value: "cluster-b": IPPool "a" (10.0.0.0/8) of remote cluster "cluster-b" overlaps IPPool "default-ipv4-ippool" (10.246.0.0/16) of remote cluster "cluster-c"`,
				`spec: Invalid value: "cluster-b": IPPool "a" (10.0.0.0/8) of remote cluster "cluster-b" overlaps IPPool "default-ipv4-ippool" (10.250.0.0/16) of remote cluster "cluster-d"`,
				`spec: Invalid value: "cluster-b": node name "n-3" is used in both remote cluster "cluster-b" and remote cluster "cluster-d"`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expectStrings(t, errStrings(CheckRemoteCluster(tt.rcc, tt.local, tt.remote, tt.others)), tt.want)
		})
	}
}

func TestCheckFelixConfiguration(t *testing.T) {
	vxLocal := vxlanPools("10.244.0.0/16")
	b := ClusterView{Name: "cluster-b", Pools: vxlanPools("10.245.0.0/16")}
	bWG := ClusterView{Name: "cluster-b", Felix: felix(wg), Pools: []v3.IPPool{ippool("p", "10.245.0.0/16")}}
	tests := []struct {
		name    string
		fc      *v3.FelixConfiguration
		local   ClusterView
		remotes []ClusterView
		want    []string
	}{
		{name: "nil", fc: nil, local: ClusterView{Pools: vxLocal}, remotes: []ClusterView{b}},
		{name: "per-node override is not mesh-relevant", fc: named("node.host-1", vxlanPort(1), workloadIPs), local: ClusterView{Pools: vxLocal}, remotes: []ClusterView{b}},
		{name: "other name is not mesh-relevant", fc: named("custom", workloadIPs), local: ClusterView{Pools: vxLocal}, remotes: []ClusterView{b}},
		{name: "no remote clusters", fc: felix(vxlanPort(1), workloadIPs), local: ClusterView{Pools: vxLocal}},
		{name: "create with default values", fc: felix(vxlanPort(4789), vxlanVNI(4096), vxlanMTU(0)), local: ClusterView{Pools: vxLocal}, remotes: []ClusterView{b}},
		{
			name: "vxlanPort changed", fc: felix(vxlanPort(4790)), local: ClusterView{Pools: vxLocal}, remotes: []ClusterView{b},
			want: []string{`spec.vxlanPort: Invalid value: 4790: differs from remote cluster "cluster-b" (4789)`},
		},
		{
			name: "routeSource changed", fc: felix(workloadIPs), local: ClusterView{Pools: vxLocal, Felix: felix()}, remotes: []ClusterView{b},
			want: []string{`spec.routeSource: Invalid value: "WorkloadIPs": differs from remote cluster "cluster-b" ("CalicoIPAM")`},
		},
		{
			name: "routeSource cleared to its default", fc: felix(), local: ClusterView{Pools: vxLocal, Felix: felix(workloadIPs)},
			remotes: []ClusterView{{Name: "cluster-b", Felix: felix(workloadIPs), Pools: vxlanPools("10.245.0.0/16")}},
			want:    []string{`spec.routeSource: Invalid value: "CalicoIPAM": differs from remote cluster "cluster-b" ("WorkloadIPs")`},
		},
		{
			name: "vxlanMTU set against an auto MTU", fc: felix(vxlanMTU(1450)), local: ClusterView{Pools: vxLocal}, remotes: []ClusterView{b},
			want: []string{`spec.vxlanMTU: Invalid value: 1450: differs from remote cluster "cluster-b" ("auto")`},
		},
		{
			name: "vxlanMTU unset against a number", fc: felix(), local: ClusterView{Pools: vxLocal, Felix: felix(vxlanMTU(1450))},
			remotes: []ClusterView{{Name: "cluster-b", Felix: felix(vxlanMTU(1400)), Pools: vxlanPools("10.245.0.0/16")}},
			want:    []string{`spec.vxlanMTU: Invalid value: "auto": differs from remote cluster "cluster-b" (1400)`},
		},
		{
			name: "WireGuard turned off leaves no overlay in common", fc: felix(), local: ClusterView{Felix: felix(wg), Pools: []v3.IPPool{ippool("p", "10.244.0.0/16")}},
			remotes: []ClusterView{bWG},
			want:    []string{`spec: Forbidden: no overlay in common with remote cluster "cluster-b": this cluster uses none, "cluster-b" uses WireGuard`},
		},
		{
			name: "WireGuard turned on makes wireguard settings relevant", fc: felix(wg, wgPort(51830), wgHostEnc(true)), local: ClusterView{Pools: vxLocal},
			remotes: []ClusterView{{Name: "cluster-b", Felix: felix(wg), Pools: vxlanPools("10.245.0.0/16")}},
			want: []string{
				`spec.wireguardListeningPort: Invalid value: 51830: differs from remote cluster "cluster-b" (51820)`,
				`spec.wireguardHostEncryptionEnabled: Invalid value: true: differs from remote cluster "cluster-b" (false)`,
			},
		},
		{
			name: "wireguardKeepAlive changed", fc: felix(wg, wgKeepAlive(25e9)), local: ClusterView{Felix: felix(wg)}, remotes: []ClusterView{bWG},
			want: []string{`spec.wireguardKeepAlive: Invalid value: "25s": differs from remote cluster "cluster-b" ("0s")`},
		},
		{
			name: "violation that already existed is not reported", fc: felix(vxlanPort(4790), logDebug),
			local: ClusterView{Pools: vxLocal, Felix: felix(vxlanPort(4790))}, remotes: []ClusterView{b},
		},
		{
			name: "existing violation changed to another wrong value is reported", fc: felix(vxlanPort(4791)),
			local: ClusterView{Pools: vxLocal, Felix: felix(vxlanPort(4790))}, remotes: []ClusterView{b},
			want: []string{`spec.vxlanPort: Invalid value: 4791: differs from remote cluster "cluster-b" (4789)`},
		},
		{
			name: "fixing one of two existing violations", fc: felix(vxlanVNI(7)),
			local: ClusterView{Pools: vxLocal, Felix: felix(vxlanPort(4790), vxlanVNI(7))}, remotes: []ClusterView{b},
		},
		{
			name: "existing missing overlay is not reported", fc: felix(logDebug),
			local: ClusterView{Pools: vxLocal}, remotes: []ClusterView{bWG},
		},
		{
			name: "several remote clusters in order of name, overlay before settings", fc: felix(workloadIPs, vxlanPort(1)),
			local: ClusterView{Pools: vxLocal, Felix: felix(wg)},
			remotes: []ClusterView{
				{Name: "cluster-c", Pools: vxlanPools("10.246.0.0/16")},
				bWG,
			},
			want: []string{
				`spec: Forbidden: no overlay in common with remote cluster "cluster-b": this cluster uses VXLAN, "cluster-b" uses WireGuard`,
				`spec.routeSource: Invalid value: "WorkloadIPs": differs from remote cluster "cluster-b" ("CalicoIPAM")`,
				`spec.routeSource: Invalid value: "WorkloadIPs": differs from remote cluster "cluster-c" ("CalicoIPAM")`,
				`spec.vxlanPort: Invalid value: 1: differs from remote cluster "cluster-c" (4789)`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expectStrings(t, errStrings(CheckFelixConfiguration(tt.fc, tt.local, tt.remotes)), tt.want)
		})
	}
}

func TestCheck(t *testing.T) {
	local := ClusterView{Name: "cluster-a", Pools: vxlanPools("10.244.0.0/16"), Nodes: []string{"a-1", "shared"}}
	remotes := []ClusterView{
		{Name: "cluster-d", Pools: vxlanPools("10.247.0.0/16"), Nodes: []string{"d-1"}},
		{Name: "cluster-c", Pools: vxlanPools("10.246.0.0/16"), Nodes: []string{"c-1", "shared"}, Felix: felix(vxlanPort(4790))},
		{Name: "cluster-b", Pools: vxlanPools("10.246.0.0/20"), Nodes: []string{"b-1"}},
	}
	want := []Violation{
		{Remote: "cluster-c", Field: "vxlanPort", Message: `vxlanPort 4789 differs from remote cluster "cluster-c" (4790)`},
		{Remote: "cluster-c", Field: FieldNodes, Message: `node name "shared" is used in both this cluster and remote cluster "cluster-c"`},
		{Remote: "cluster-b", Other: "cluster-c", Field: FieldIPPools,
			Message: `IPPool "default-ipv4-ippool" (10.246.0.0/20) of remote cluster "cluster-b" overlaps IPPool "default-ipv4-ippool" (10.246.0.0/16) of remote cluster "cluster-c"`},
	}
	got := Check(local, remotes)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Check:\n got %+v\nwant %+v", got, want)
	}

	t.Run("no remote clusters", func(t *testing.T) {
		if vs := Check(local, nil); vs != nil {
			t.Errorf("Check = %+v, want nil", vs)
		}
	})
	t.Run("remote clusters with one name are not compared with each other", func(t *testing.T) {
		dup := ClusterView{Name: "cluster-b", Pools: vxlanPools("10.245.0.0/16"), Nodes: []string{"b-1"}}
		if vs := Check(local, []ClusterView{dup, dup}); vs != nil {
			t.Errorf("Check = %+v, want nil", vs)
		}
	})
	t.Run("agrees with CheckRemoteCluster", func(t *testing.T) {
		var msgs []string
		for _, v := range ViolationsFor("cluster-b", got) {
			msgs = append(msgs, `spec: Invalid value: "cluster-b": `+v.Message)
		}
		expectStrings(t, errStrings(CheckRemoteCluster("cluster-b", local, remotes[2], remotes[:2])), msgs)
	})

	tests := []struct {
		remote string
		want   []Violation
	}{
		{remote: "cluster-b", want: want[2:]},
		{remote: "cluster-c", want: want},
		{remote: "cluster-d"},
		{remote: "unknown"},
	}
	for _, tt := range tests {
		t.Run("ViolationsFor "+tt.remote, func(t *testing.T) {
			if got := ViolationsFor(tt.remote, got); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ViolationsFor(%q):\n got %+v\nwant %+v", tt.remote, got, tt.want)
			}
		})
	}
}
