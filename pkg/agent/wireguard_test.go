package agent

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/dataplane/wireguard"
	"github.com/meshapi/meshapi/pkg/remotecluster"
)

// wgSummary prints a WireGuardState compactly, keys by the names in keys.
func wgSummary(st WireGuardState, keys map[wgtypes.Key]string) string {
	if !st.Enabled {
		return "disabled\n"
	}
	var b strings.Builder
	d := st.Device
	fmt.Fprintf(&b, "device %s port=%d mtu=%d addr=%s prio=%d vxlan=%t\n", d.Name, d.ListenPort, d.MTU, d.Address, d.RulePriority, st.Policy.VXLANEnabled)
	for _, n := range st.Nodes {
		key := "none"
		if n.PublicKey != (wgtypes.Key{}) {
			key = keys[n.PublicKey]
		}
		fmt.Fprintf(&b, "node %s key=%s ip=%s allowed=%v\n", n.Name, key, n.NodeIP, n.AllowedIPs)
	}
	for _, p := range st.Problems {
		fmt.Fprintf(&b, "problem %s\n", p)
	}
	return b.String()
}

func TestComputeWireGuard(t *testing.T) {
	keys := map[wgtypes.Key]string{}
	pub := map[string]string{}
	for _, n := range []string{"a2", "b1", "b2"} {
		k, err := wgtypes.GeneratePrivateKey()
		if err != nil {
			t.Fatal(err)
		}
		keys[k.PublicKey()], pub[n] = n, k.PublicKey().String()
	}
	on, off := true, false
	port, mtu, prio := 51900, 1400, 98
	felix := func(wg *bool, vxlan *bool) *v3.FelixConfiguration {
		fc := &v3.FelixConfiguration{}
		fc.Name = "default"
		fc.Spec.WireguardEnabled, fc.Spec.VXLANEnabled = wg, vxlan
		return fc
	}
	// withKeys publishes keys (and a2's interface address) on the inputs'
	// nodes, mirrors included, as the agents and the controller do.
	withKeys := func(in Inputs, nodes ...string) Inputs {
		for i, n := range in.Nodes {
			ref, _ := nodeRef(n)
			for _, want := range nodes {
				if ref == want || ref == "cluster-b/"+want {
					c := n.DeepCopy()
					c.Status.WireguardPublicKey = pub[want]
					in.Nodes[i] = c
				}
			}
		}
		return in
	}
	const full = `device wireguard.cali port=51820 mtu=0 addr=198.18.64.0 prio=99 vxlan=true
node a2 key=a2 ip=198.18.0.2 allowed=[198.18.64.64/26]
node cluster-b/b1 key=b1 ip=198.18.0.3 allowed=[198.18.65.0/26]
node cluster-b/b2 key=b2 ip=198.18.0.4 allowed=[198.18.65.64/26]
`
	for _, tc := range []struct {
		name    string
		in      func() Inputs
		vtep    string
		address string
		want    string
	}{
		{name: "no FelixConfiguration", in: baseInputs, vtep: "198.18.64.0", want: "disabled\n"},
		{name: "wireguardEnabled unset", vtep: "198.18.64.0", want: "disabled\n", in: func() Inputs {
			in := baseInputs()
			in.FelixConfiguration = felix(nil, &on)
			return in
		}},
		{name: "wireguardEnabled false", vtep: "198.18.64.0", want: "disabled\n", in: func() Inputs {
			in := baseInputs()
			in.FelixConfiguration = felix(&off, &on)
			return in
		}},
		{name: "enabled, all keys published", vtep: "198.18.64.0", want: full, in: func() Inputs {
			in := withKeys(baseInputs(), "a2", "b1", "b2")
			in.FelixConfiguration = felix(&on, &on)
			return in
		}},
		{name: "settings from FelixConfiguration, fixed address, VXLAN off", vtep: "198.18.64.0", address: "198.18.1.1", in: func() Inputs {
			in := withKeys(baseInputs(), "a2")
			fc := felix(&on, &off)
			fc.Spec.WireguardInterfaceName, fc.Spec.WireguardListeningPort, fc.Spec.WireguardMTU, fc.Spec.WireguardRoutingRulePriority = "wg0", &port, &mtu, &prio
			in.FelixConfiguration = fc
			return in
		}, want: `device wg0 port=51900 mtu=1400 addr=198.18.1.1 prio=98 vxlan=false
node a2 key=a2 ip=198.18.0.2 allowed=[198.18.64.64/26]
node cluster-b/b1 key=none ip=198.18.0.3 allowed=[198.18.65.0/26]
node cluster-b/b2 key=none ip=198.18.0.4 allowed=[198.18.65.64/26]
`},
		{name: "endpoint outside blocks and interface address are allowed IPs", vtep: "198.18.64.0", in: func() Inputs {
			in := withKeys(baseInputs(), "a2", "b1", "b2")
			in.FelixConfiguration = felix(&on, &on)
			in.Endpoints = append(in.Endpoints, EndpointsOf(wep("ns", "a2-extra", "a2", "198.18.66.5/32"),
				remotecluster.MirrorWorkloadEndpoint("cluster-b", wep("ns", "b2-extra", "b2", "198.18.65.200")))...)
			for _, n := range in.Nodes {
				switch n.Name {
				case "a2":
					n.Spec.Wireguard = &v3.NodeWireguardSpec{InterfaceIPv4Address: "198.18.64.64"} // inside its block
				case "cluster-b.b1":
					n.Spec.Wireguard = &v3.NodeWireguardSpec{InterfaceIPv4Address: "198.18.68.1"}
				case "cluster-b.b2":
					n.Spec.Wireguard = &v3.NodeWireguardSpec{InterfaceIPv4Address: "bogus"}
				}
			}
			return in
		}, want: `device wireguard.cali port=51820 mtu=0 addr=198.18.64.0 prio=99 vxlan=true
node a2 key=a2 ip=198.18.0.2 allowed=[198.18.64.64/26 198.18.66.5/32]
node cluster-b/b1 key=b1 ip=198.18.0.3 allowed=[198.18.65.0/26 198.18.68.1/32]
node cluster-b/b2 key=b2 ip=198.18.0.4 allowed=[198.18.65.64/26 198.18.65.200/32]
problem Node "cluster-b.b2": spec.wireguard.interfaceIPv4Address "bogus" is not an IPv4 address
`},
		{name: "overlay routing Disabled: no remote peers", vtep: "198.18.64.0", in: func() Inputs {
			in := withKeys(baseInputs(), "a2", "b1", "b2")
			in.FelixConfiguration = felix(&on, &on)
			in.RCCs = []*v3.RemoteClusterConfiguration{rcc("cluster-b", v3.OverlayRoutingModeDisabled)}
			return in
		}, want: `device wireguard.cali port=51820 mtu=0 addr=198.18.64.0 prio=99 vxlan=true
node a2 key=a2 ip=198.18.0.2 allowed=[198.18.64.64/26]
`},
		{name: "RCC deleted: its mirrors are no peers", vtep: "", in: func() Inputs {
			in := withKeys(baseInputs(), "a2", "b1")
			in.FelixConfiguration = felix(&on, nil)
			in.RCCs = nil
			return in
		}, want: `device wireguard.cali port=51820 mtu=0 addr=invalid IP prio=99 vxlan=true
node a2 key=a2 ip=198.18.0.2 allowed=[198.18.64.64/26]
`},
		{name: "invalid key: no key", vtep: "198.18.64.0", in: func() Inputs {
			in := withKeys(baseInputs(), "b1", "b2")
			in.FelixConfiguration = felix(&on, &on)
			c := in.Nodes[1].DeepCopy()
			c.Status.WireguardPublicKey = "not-a-key"
			in.Nodes[1] = c
			return in
		}, want: `device wireguard.cali port=51820 mtu=0 addr=198.18.64.0 prio=99 vxlan=true
node a2 key=none ip=198.18.0.2 allowed=[198.18.64.64/26]
node cluster-b/b1 key=b1 ip=198.18.0.3 allowed=[198.18.65.0/26]
node cluster-b/b2 key=b2 ip=198.18.0.4 allowed=[198.18.65.64/26]
problem Node "a2": status.wireguardPublicKey "not-a-key": wgtypes: failed to parse base64-encoded key: illegal base64 data at input byte 3
`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var vtep, addr netip.Addr
			if tc.vtep != "" {
				vtep = netip.MustParseAddr(tc.vtep)
			}
			if tc.address != "" {
				addr = netip.MustParseAddr(tc.address)
			}
			if got := wgSummary(ComputeWireGuard(tc.in(), vtep, addr), keys); got != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}

	// Plan on the result: the node without a key falls back to VXLAN, the
	// others are WireGuard peers (new ones, within the handshake grace).
	in := withKeys(baseInputs(), "a2", "b1")
	in.FelixConfiguration = felix(&on, &on)
	st := ComputeWireGuard(in, netip.MustParseAddr("198.18.64.0"), netip.Addr{})
	peers, decisions := wireguard.Plan(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), st.Policy, st.Device.ListenPort, st.Nodes, nil)
	var got []string
	for _, p := range peers {
		got = append(got, fmt.Sprintf("%s %s route=%t", p.Name, p.Endpoint, p.Route))
	}
	for _, d := range decisions {
		got = append(got, fmt.Sprintf("%s via %s", d.Node, d.Via))
	}
	want := []string{"a2 198.18.0.2:51820 route=true", "cluster-b/b1 198.18.0.3:51820 route=true",
		"a2 via WireGuard", "cluster-b/b1 via WireGuard", "cluster-b/b2 via VXLAN"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Plan:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
