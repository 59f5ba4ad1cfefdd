package e2e

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/test/e2e/framework"
)

const (
	wgVXLANPort = 4798
	wgPort      = 51830 // not the default, to prove the FelixConfiguration is used
)

// Two clusters of two nodes each with WireGuard and VXLAN enabled in both
// FelixConfigurations (the same wireguard* settings, as the mesh
// requires). Real traffic proves: pod-to-pod across clusters goes through
// WireGuard (UDP on the listening port on the underlay, no VXLAN); a node
// whose key is withheld (its agent runs with --wireguard-publish-key=false)
// is reached over VXLAN, and once its agent publishes the key, over
// WireGuard; disabling WireGuard removes the devices and the keys, and
// traffic goes on over VXLAN.
func TestWireGuard(t *testing.T) {
	ctx := ctxT(t)
	keyDir := t.TempDir()
	const withheld = "wg-b2"
	topo := newTopology(t, framework.TopologyConfig{Name: "wg", Nodes: 2, VXLANPort: wgVXLANPort, Namespaces: []string{"wireguard-e2e"},
		Pools: [2]netip.Prefix{netip.MustParsePrefix("198.18.72.0/24"), netip.MustParsePrefix("198.18.73.0/24")},
		Felix: func(s *v3.FelixConfigurationSpec) {
			on, port := true, wgPort
			s.WireguardEnabled, s.WireguardListeningPort = &on, &port
		},
		NodeArgs: func(node string) []string {
			args := []string{"--wireguard-key-file=" + filepath.Join(keyDir, node, "wireguard.key")}
			if node == withheld {
				args = append(args, "--wireguard-publish-key=false")
			}
			return args
		},
	})
	a, b, cs, underlay := topo.a, topo.b, topo.cs, topo.underlay
	a1, b1, b2 := topo.node("a1"), topo.node("b1"), topo.node("b2")
	if err := underlay.CountUDP(wgPort); err != nil {
		t.Fatal(err)
	}
	pods := map[*framework.TopoNode]*framework.TopoPod{}
	for _, n := range topo.nodes {
		pods[n] = topo.addPod(n, "wireguard-e2e", "pod-"+n.Name, map[string]string{"app": "wg"})
	}
	topo.connect()

	// Each agent made its key (0600), published its public key and the
	// device's address (its VTEP address) on its Node, except b2.
	vtep := map[*framework.TopoNode]string{}
	for _, n := range topo.nodes {
		fi, err := os.Stat(filepath.Join(keyDir, n.Name, "wireguard.key"))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s's key file: %v, %v", n.Name, fi, err)
		}
		want := n != b2
		topo.eventually(n.Name+"'s WireGuard key and address on its Node", func() (bool, string) {
			node, err := cs[n.Cluster].ProjectcalicoV3().Nodes().Get(ctx, n.Name, metav1.GetOptions{})
			if err != nil {
				return false, err.Error()
			}
			addr := ""
			if node.Spec.Wireguard != nil {
				addr = node.Spec.Wireguard.InterfaceIPv4Address
			}
			vtep[n] = node.Spec.IPv4VXLANTunnelAddr
			return (node.Status.WireguardPublicKey != "") == want && addr != "" && addr == vtep[n] && n.Block.Contains(netip.MustParseAddr(addr)),
				fmt.Sprintf("key %q, address %q", node.Status.WireguardPublicKey, addr)
		})
	}
	// The mirrors carry them to the other cluster.
	topo.eventually("cluster-b's mirror of wg-a1 carries its key and address", func() (bool, string) {
		m, err := cs[b].ProjectcalicoV3().Nodes().Get(ctx, a.Name+"."+a1.Name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return m.Status.WireguardPublicKey != "" && m.Spec.Wireguard != nil && m.Spec.Wireguard.InterfaceIPv4Address == vtep[a1],
			fmt.Sprintf("%+v %+v", m.Spec.Wireguard, m.Status)
	})

	server, err := pods[b1].ServeSourceAddress(8080)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close() })
	serverB2, err := pods[b2].ServeSourceAddress(8080)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { serverB2.Close() })

	// flow pings and connects from a1's pod to to's pod and returns how
	// many packets crossed the underlay as VXLAN and as WireGuard meanwhile.
	flow := func(to *framework.TopoNode) (ok bool, vxlan, wg uint64, state string) {
		v0, err1 := underlay.UDPCountPort(wgVXLANPort)
		w0, err2 := underlay.UDPCountPort(wgPort)
		got, err3 := pods[a1].Ping(pods[to].IP, 3, time.Second)
		seen, err4 := pods[a1].SourceSeen(netip.AddrPortFrom(pods[to].IP, 8080), 5*time.Second)
		v1, err5 := underlay.UDPCountPort(wgVXLANPort)
		w1, err6 := underlay.UDPCountPort(wgPort)
		state = fmt.Sprintf("ping %d replies (%v), TCP source %q (%v), VXLAN +%d, WireGuard +%d (%v)",
			got, err3, seen, err4, v1-v0, w1-w0, []error{err1, err2, err5, err6})
		return got > 0 && seen == pods[a1].IP.String(), v1 - v0, w1 - w0, state
	}
	wgRoutes := func(n *framework.TopoNode) string {
		out, _ := n.Node.NS.IPOutput("route", "show", "table", "1")
		return out
	}

	// a1 -> b1: WireGuard only. Keepalives and handshakes may add
	// WireGuard packets; no VXLAN packet may cross.
	topo.eventually("a1 -> b1 through WireGuard, without VXLAN", func() (bool, string) {
		ok, vx, wg, state := flow(b1)
		return ok && vx == 0 && wg >= 6, state + "\na1 table 1: " + wgRoutes(a1) + "\nb1 table 1: " + wgRoutes(b1)
	})
	_, _, _, state := flow(b1)
	t.Logf("a1 -> b1 with WireGuard: %s", state)
	if out := wgRoutes(a1); !strings.Contains(out, b1.Block.String()+" dev wireguard.cali") {
		t.Errorf("a1's WireGuard table lacks b1's block:\n%s", out)
	}
	if out, err := a1.Node.NS.IPOutput("rule"); err != nil || !strings.Contains(out, "99:\tfrom all lookup 1") {
		t.Errorf("a1's rules: %s %v", out, err)
	}

	// a1 -> b2, whose key is withheld: VXLAN, and it works.
	topo.eventually("a1 -> b2 (key withheld) over VXLAN", func() (bool, string) {
		ok, vx, _, state := flow(b2)
		return ok && vx >= 6, state + "\na1 table 1: " + wgRoutes(a1) + "\nb2 table 1: " + wgRoutes(b2)
	})
	_, _, _, state = flow(b2)
	t.Logf("a1 -> b2 with b2's key withheld: %s", state)
	if out := wgRoutes(a1); strings.Contains(out, b2.Block.String()) {
		t.Errorf("a1 routes b2's block through WireGuard without b2's key:\n%s", out)
	}
	// Other tests' Nodes without keys may be in the clusters: at least a2
	// and b1 through WireGuard, b2 (and those) over VXLAN.
	topo.eventually("a1's metrics: peers by overlay", func() (bool, string) {
		m := httpGet(t, "http://"+a1.Agent.Metrics+"/metrics")
		wg, vx := metricValue(m, `meshapi_agent_wireguard_peers{via="wireguard"}`), metricValue(m, `meshapi_agent_wireguard_peers{via="vxlan"}`)
		return wg == "2" && vx != "" && vx != "0", fmt.Sprintf("wireguard %q, vxlan %q", wg, vx)
	})

	// b2's agent publishes its key (the same: the key file persists): b2 moves
	// to WireGuard.
	topo.restartAgent(b2, "--wireguard-publish-key=true")
	topo.eventually("b2's key mirrored into cluster-a", func() (bool, string) {
		m, err := cs[a].ProjectcalicoV3().Nodes().Get(ctx, b.Name+"."+b2.Name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return m.Status.WireguardPublicKey != "", fmt.Sprintf("%+v", m.Status)
	})
	topo.eventually("a1 -> b2 through WireGuard, without VXLAN", func() (bool, string) {
		ok, vx, wg, state := flow(b2)
		return ok && vx == 0 && wg >= 6, state + "\na1 table 1: " + wgRoutes(a1) + "\nb2 table 1: " + wgRoutes(b2)
	})
	_, _, _, state = flow(b2)
	t.Logf("a1 -> b2 with b2's key published: %s", state)
	// ... and b1 stayed on WireGuard meanwhile.
	topo.eventually("a1 -> b1 still through WireGuard", func() (bool, string) {
		ok, vx, wg, state := flow(b1)
		return ok && vx == 0 && wg >= 6, state
	})

	// WireGuard disabled in both clusters: devices, rules and keys go;
	// traffic flows over VXLAN.
	for _, c := range []*framework.Cluster{a, b} {
		kubectl(t, c, "", "patch", "felixconfiguration", "default", "--type=merge", "-p", `{"spec":{"wireguardEnabled":false}}`)
	}
	for _, n := range topo.nodes {
		topo.eventually(n.Name+": WireGuard device, rule and key gone", func() (bool, string) {
			links, _ := n.Node.NS.IPOutput("link", "show")
			rules, _ := n.Node.NS.IPOutput("rule")
			node, err := cs[n.Cluster].ProjectcalicoV3().Nodes().Get(ctx, n.Name, metav1.GetOptions{})
			if err != nil {
				return false, err.Error()
			}
			return !strings.Contains(links, "wireguard.cali") && !strings.Contains(rules, "lookup 1") && node.Status.WireguardPublicKey == "" && node.Spec.Wireguard == nil,
				links + rules + fmt.Sprintf("%+v %+v", node.Spec.Wireguard, node.Status)
		})
	}
	topo.eventually("a1 -> b1 over VXLAN with WireGuard disabled", func() (bool, string) {
		ok, vx, wg, state := flow(b1)
		return ok && vx >= 6 && wg == 0, state
	})
	_, _, _, state = flow(b1)
	t.Logf("a1 -> b1 with WireGuard disabled: %s", state)
}
