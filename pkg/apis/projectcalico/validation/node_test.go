package validation

import (
	"encoding/base64"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

var testWireguardKey = base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", 32)))

func calicoNode() *v3.Node {
	return &v3.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "worker-1"},
		Spec: v3.NodeSpec{
			BGP: &v3.NodeBGPSpec{
				IPv4Address:        "198.18.0.11/24",
				IPv6Address:        "fd00:198:18::11/64",
				IPv4IPIPTunnelAddr: "10.244.1.1",
				ASNumber:           ptr(int64(64512)),
			},
			Addresses: []v3.NodeAddress{
				{Address: "198.18.0.11/24", Type: v3.CalicoNodeIP},
				{Address: "198.18.0.11", Type: v3.InternalIP},
				{Address: "fd00:198:18::11"},
			},
			IPv4VXLANTunnelAddr:  "10.244.1.0",
			VXLANTunnelMACAddr:   "66:0e:2e:3c:8e:a0",
			IPv6VXLANTunnelAddr:  "fd00:10:244:1::",
			VXLANTunnelMACAddrV6: "66-0E-2E-3C-8E-A1",
			OrchRefs:             []v3.OrchRef{{NodeName: "worker-1", Orchestrator: "k8s"}},
			Wireguard: &v3.NodeWireguardSpec{
				InterfaceIPv4Address: "10.244.1.2",
				InterfaceIPv6Address: "fd00:10:244:1::2",
			},
		},
		Status: v3.NodeStatus{
			WireguardPublicKey:   testWireguardKey,
			WireguardPublicKeyV6: testWireguardKey,
			PodCIDRs:             []string{"10.244.1.0/24", "fd00:10:244:1::/64"},
		},
	}
}

func TestValidateNode(t *testing.T) {
	runCases(t, calicoNode, ValidateNode, []tcase[v3.Node]{
		{name: "full node"},
		{name: "empty node", mut: func(n *v3.Node) { n.Spec, n.Status = v3.NodeSpec{}, v3.NodeStatus{} }},
		{name: "mirrored node", mut: func(n *v3.Node) { n.Labels = map[string]string{v3.LabelCluster: "cluster-b"} }},
		{name: "bare BGP addresses", mut: func(n *v3.Node) {
			n.Spec.BGP.IPv4Address, n.Spec.BGP.IPv6Address = "198.18.0.11", "fd00:198:18::11"
		}},
		{name: "route reflector", mut: func(n *v3.Node) { n.Spec.BGP.RouteReflectorClusterID = "224.0.0.1" }},
		{name: "largest AS number", mut: func(n *v3.Node) { n.Spec.BGP.ASNumber = ptr(int64(4294967295)) }},
		{
			name: "address not an IP",
			mut:  func(n *v3.Node) { n.Spec.Addresses[0].Address = "10.0.0.300" },
			want: []want{invalid("spec.addresses[0].address", `"10.0.0.300": must be a valid CIDR or IP address`)},
		},
		{
			name: "address with zone",
			mut:  func(n *v3.Node) { n.Spec.Addresses[2].Address = "fe80::1%eth0" },
			want: []want{invalid("spec.addresses[2].address", `"fe80::1%eth0"`)},
		},
		{
			name: "address missing",
			mut:  func(n *v3.Node) { n.Spec.Addresses[1].Address = "" },
			want: []want{required("spec.addresses[1].address", "")},
		},
		{
			name: "address type unknown",
			mut:  func(n *v3.Node) { n.Spec.Addresses[0].Type = "Hostname" },
			want: []want{notSupported("spec.addresses[0].type", `"Hostname": supported values: "InternalIP", "ExternalIP", "CalicoNodeIP"`)},
		},
		{
			name: "IPv4 VTEP address of the wrong family",
			mut:  func(n *v3.Node) { n.Spec.IPv4VXLANTunnelAddr = "fd00::1" },
			want: []want{invalid("spec.ipv4VXLANTunnelAddr", `"fd00::1": must be an IPv4 address, not IPv6`)},
		},
		{
			name: "IPv4 VTEP address with prefix",
			mut:  func(n *v3.Node) { n.Spec.IPv4VXLANTunnelAddr = "10.244.1.0/32" },
			want: []want{invalid("spec.ipv4VXLANTunnelAddr", `"10.244.1.0/32": must be a valid IPv4 address`)},
		},
		{
			name: "IPv6 VTEP address of the wrong family",
			mut:  func(n *v3.Node) { n.Spec.IPv6VXLANTunnelAddr = "10.244.1.0" },
			want: []want{invalid("spec.ipv6VXLANTunnelAddr", "must be an IPv6 address, not IPv4")},
		},
		{
			name: "VTEP MAC invalid",
			mut:  func(n *v3.Node) { n.Spec.VXLANTunnelMACAddr = "66:0e:2e:3c:8e" },
			want: []want{invalid("spec.vxlanTunnelMACAddr", `"66:0e:2e:3c:8e": must be a MAC address`)},
		},
		{
			name: "VTEP MAC of 64 bits",
			mut:  func(n *v3.Node) { n.Spec.VXLANTunnelMACAddr = "02:00:5e:10:00:00:00:01" },
			want: []want{invalid("spec.vxlanTunnelMACAddr", "must be a 48-bit Ethernet MAC address, not a 64-bit one")},
		},
		{
			name: "IPv6 VTEP MAC invalid",
			mut:  func(n *v3.Node) { n.Spec.VXLANTunnelMACAddrV6 = "zz:0e:2e:3c:8e:a1" },
			want: []want{invalid("spec.vxlanTunnelMACAddrV6", `"zz:0e:2e:3c:8e:a1"`)},
		},
		{
			name: "BGP addresses of the wrong family",
			mut: func(n *v3.Node) {
				n.Spec.BGP.IPv4Address, n.Spec.BGP.IPv6Address = "fd00::1/64", "198.18.0.11/24"
			},
			want: []want{
				invalid("spec.bgp.ipv4Address", `"fd00::1/64": must be an IPv4 CIDR or address, not IPv6`),
				invalid("spec.bgp.ipv6Address", `"198.18.0.11/24": must be an IPv6 CIDR or address, not IPv4`),
			},
		},
		{
			name: "IPIP tunnel address invalid",
			mut:  func(n *v3.Node) { n.Spec.BGP.IPv4IPIPTunnelAddr = "tunnel" },
			want: []want{invalid("spec.bgp.ipv4IPIPTunnelAddr", `"tunnel": must be a valid IPv4 CIDR or address`)},
		},
		{
			name: "AS number out of range",
			mut:  func(n *v3.Node) { n.Spec.BGP.ASNumber = ptr(int64(4294967296)) },
			want: []want{invalid("spec.bgp.asNumber", "4294967296: must be an AS number from 1 to 4294967295")},
		},
		{
			name: "AS number zero",
			mut:  func(n *v3.Node) { n.Spec.BGP.ASNumber = ptr(int64(0)) },
			want: []want{invalid("spec.bgp.asNumber", "0: must be an AS number from 1 to 4294967295")},
		},
		{
			name: "route reflector cluster ID not an IPv4 address",
			mut:  func(n *v3.Node) { n.Spec.BGP.RouteReflectorClusterID = "rr-1" },
			want: []want{invalid("spec.bgp.routeReflectorClusterID", `"rr-1"`)},
		},
		{
			name: "orchestrator missing",
			mut:  func(n *v3.Node) { n.Spec.OrchRefs[0].Orchestrator = "" },
			want: []want{required("spec.orchRefs[0].orchestrator", "k8s")},
		},
		{
			name: "WireGuard interface addresses invalid",
			mut: func(n *v3.Node) {
				n.Spec.Wireguard.InterfaceIPv4Address, n.Spec.Wireguard.InterfaceIPv6Address = "fd00::2", "nope"
			},
			want: []want{
				invalid("spec.wireguard.interfaceIPv4Address", `"fd00::2": must be an IPv4 address`),
				invalid("spec.wireguard.interfaceIPv6Address", `"nope": must be a valid IPv6 address`),
			},
		},
		{
			name: "WireGuard key not base64",
			mut:  func(n *v3.Node) { n.Status.WireguardPublicKey = "not base64!" },
			want: []want{invalid("status.wireguardPublicKey", `"not base64!": must be a WireGuard public key: the base64 encoding of 32 bytes`)},
		},
		{
			name: "WireGuard key of 16 bytes",
			mut: func(n *v3.Node) {
				n.Status.WireguardPublicKeyV6 = base64.StdEncoding.EncodeToString(make([]byte, 16))
			},
			want: []want{invalid("status.wireguardPublicKeyV6", "base64 encoding of 32 bytes")},
		},
		{
			name: "pod CIDR invalid",
			mut:  func(n *v3.Node) { n.Status.PodCIDRs = []string{"10.244.1.0/24", "10.244.1.0/99"} },
			want: []want{invalid("status.podCIDRs[1]", `"10.244.1.0/99"`)},
		},
	})
}
