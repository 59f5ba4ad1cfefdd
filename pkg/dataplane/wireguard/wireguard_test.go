//go:build linux

package wireguard

import (
	"context"
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/meshapi/meshapi/pkg/dataplane"
)

// desired is node n's WireGuard state with the given peers, routed.
func (n *node) desired(peers ...*node) Desired {
	d := Desired{PrivateKey: n.key, Address: n.wgIP}
	for _, p := range peers {
		d.Peers = append(d.Peers, Peer{
			Name:       p.name,
			PublicKey:  p.key.PublicKey(),
			Endpoint:   netip.AddrPortFrom(p.nodeIP, DefaultListenPort),
			AllowedIPs: []netip.Prefix{p.pods, netip.PrefixFrom(p.wgIP, 32)},
			Route:      true,
		})
	}
	return d
}

func newWG(t *testing.T, n *node) *WireGuard {
	t.Helper()
	w, err := New(n.ns, Options{Logger: testLogger(t, n.name)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close() })
	return w
}

func apply(t *testing.T, w *WireGuard, d Desired) Stats {
	t.Helper()
	st, err := w.Apply(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("apply: %+v", st)
	return st
}

func statusOf(t *testing.T, w *WireGuard, key wgtypes.Key) PeerStatus {
	t.Helper()
	sts, err := w.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sts {
		if s.PublicKey == key {
			return s
		}
	}
	t.Fatalf("no peer with key %s in %+v", key, sts)
	return PeerStatus{}
}

func TestWireGuardBetweenNamespaces(t *testing.T) {
	nodes := buildNodes(t, 3)
	a, b, c := nodes[0], nodes[1], nodes[2]
	ctx := context.Background()

	if ok, out := a.ping(t, b.pod, 1); ok {
		t.Fatalf("pod B reachable before any overlay:\n%s", out)
	}
	wA, wB, wC := newWG(t, a), newWG(t, b), newWG(t, c)
	st := apply(t, wA, a.desired(b, c))
	if !st.DeviceCreated || !st.Userspace && !wA.Userspace() || st.PeersAdded != 2 || st.RoutesAdded != 4 || st.RulesAdded != 1 {
		t.Fatalf("first Apply of A: %+v", st)
	}
	apply(t, wB, b.desired(a, c))
	apply(t, wC, c.desired(a, b))
	if st := apply(t, wA, a.desired(b, c)); st.Changes() != 0 {
		t.Fatalf("second identical Apply changed %+v", st)
	}
	t.Logf("A: userspace=%v, wgctrl name %s", wA.Userspace(), wA.ControlName())

	// The kernel state: routes in table 1 tagged 82, the rule at 99.
	link, err := a.h.LinkByName(DefaultDeviceName)
	if err != nil {
		t.Fatal(err)
	}
	if link.Attrs().MTU != DefaultMTU {
		t.Errorf("MTU %d", link.Attrs().MTU)
	}
	rs, err := a.h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: DefaultTable, Protocol: dataplane.DefaultRouteProtocol}, netlink.RT_FILTER_TABLE|netlink.RT_FILTER_PROTOCOL)
	if err != nil || len(rs) != 4 {
		t.Fatalf("table %d routes %v, err %v", DefaultTable, rs, err)
	}
	for _, r := range rs {
		if r.LinkIndex != link.Attrs().Index {
			t.Errorf("route %s not via %s", r, DefaultDeviceName)
		}
	}
	rules, err := wA.ourRules(netlink.FAMILY_V4)
	if err != nil || len(rules) != 1 || rules[0].Priority != DefaultRulePriority || rules[0].Table != DefaultTable {
		t.Fatalf("rules %+v, err %v", rules, err)
	}

	// Pod to pod through WireGuard; the underlay carries UDP to 51820 and
	// no VXLAN.
	before := b.counters(t)
	a.pingEventually(t, b.pod, 10)
	a.pingEventually(t, c.pod, 10)
	after := b.counters(t)
	if after[DefaultListenPort] <= before[DefaultListenPort] || after[dataplane.DefaultPort] != 0 {
		t.Fatalf("B's underlay counters %v -> %v: want WireGuard packets and no VXLAN", before, after)
	}
	t.Logf("B's underlay: %v -> %v", before, after)
	sB := statusOf(t, wA, b.key.PublicKey())
	if sB.LastHandshake.IsZero() || sB.Name != b.name || !sB.Routed || sB.Endpoint != netip.AddrPortFrom(b.nodeIP, DefaultListenPort) {
		t.Fatalf("A's view of B: %+v", sB)
	}
	if via, why := Decide(time.Now(), Policy{VXLANEnabled: true}, Observation{HasKey: true, ConfiguredAt: sB.ConfiguredAt, LastHandshake: sB.LastHandshake}); via != ViaWireGuard {
		t.Fatalf("Decide after a handshake: %s (%s)", via, why)
	}
	sC := statusOf(t, wA, c.key.PublicKey())

	// B rotates its key: A updates that one peer (remove + add), C's
	// session on A is untouched, and A to B works again.
	newKey, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	oldB := b.key
	b.key = newKey
	if st := apply(t, wB, b.desired(a, c)); !st.DeviceUpdated || st.PeersAdded+st.PeersRemoved+st.PeersUpdated != 0 {
		t.Fatalf("B's rotation: %+v", st)
	}
	if st := apply(t, wA, a.desired(b, c)); st.PeersRemoved != 1 || st.PeersAdded != 1 || st.PeersUpdated != 0 {
		t.Fatalf("A after B's rotation: %+v", st)
	}
	apply(t, wC, c.desired(a, b))
	sts, _ := wA.Status(ctx)
	for _, s := range sts {
		if s.PublicKey == oldB.PublicKey() {
			t.Fatalf("B's old key still a peer of A: %+v", sts)
		}
	}
	if s := statusOf(t, wA, c.key.PublicKey()); s.ConfiguredAt != sC.ConfiguredAt || s.LastHandshake.Before(sC.LastHandshake) {
		t.Fatalf("C's peer on A was reconfigured by B's rotation: %+v, before %+v", s, sC)
	}
	a.pingEventually(t, b.pod, 10)
	if s := statusOf(t, wA, b.key.PublicKey()); s.LastHandshake.IsZero() {
		t.Fatalf("no handshake under B's new key: %+v", s)
	}

	// A removes C: only C goes, B's session and traffic stay.
	sB = statusOf(t, wA, b.key.PublicKey())
	if st := apply(t, wA, a.desired(b)); st.PeersRemoved != 1 || st.PeersAdded+st.PeersUpdated != 0 || st.RoutesRemoved != 2 {
		t.Fatalf("A removing C: %+v", st)
	}
	if s := statusOf(t, wA, b.key.PublicKey()); s.ConfiguredAt != sB.ConfiguredAt || s.LastHandshake.Before(sB.LastHandshake) {
		t.Fatalf("B's peer on A changed by C's removal: %+v, before %+v", s, sB)
	}
	if ok, out := a.ping(t, b.pod, 2); !ok {
		t.Fatalf("A to B after removing C:\n%s", out)
	}
	if ok, out := a.ping(t, c.pod, 1); ok {
		t.Fatalf("A still reaches C after removing it:\n%s", out)
	}

	// Another table and priority: the routes and the rule move.
	moved := a.desired(b)
	moved.Table, moved.RulePriority = 7, 98
	if st := apply(t, wA, moved); st.RoutesRemoved != 2 || st.RoutesAdded != 2 || st.RulesRemoved != 1 || st.RulesAdded != 1 {
		t.Fatalf("A moving to table 7, priority 98: %+v", st)
	}
	if rules, _ := wA.ourRules(netlink.FAMILY_V4); len(rules) != 1 || rules[0].Table != 7 || rules[0].Priority != 98 {
		t.Fatalf("rules after the move: %+v", rules)
	}
	if ok, out := a.ping(t, b.pod, 2); !ok {
		t.Fatalf("A to B after the move:\n%s", out)
	}

	// Close removes the device, the routes, the rule and the UAPI socket.
	sock := filepath.Join(uapiDirectory, wA.ControlName()+".sock")
	if _, err := os.Stat(sock); err != nil {
		t.Fatalf("UAPI socket: %v", err)
	}
	if err := wA.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.h.LinkByName(DefaultDeviceName); err == nil {
		t.Fatal("device remains after Close")
	}
	if rs, _ := a.h.RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{Table: 7}, netlink.RT_FILTER_TABLE); len(rs) != 0 {
		t.Fatalf("routes remain: %v", rs)
	}
	if rules, _ := a.h.RuleList(netlink.FAMILY_V4); hasPriority(rules, 98) {
		t.Fatalf("rule remains: %v", rules)
	}
	if _, err := os.Stat(sock); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("UAPI socket %s after Close: %v", sock, err)
	}
	if _, err := wA.Apply(ctx, a.desired(b)); err == nil {
		t.Fatal("Apply after Close succeeded")
	}
}

func hasPriority(rules []netlink.Rule, prio int) bool {
	for _, r := range rules {
		if r.Priority == prio {
			return true
		}
	}
	return false
}

// TestFallbackToVXLAN: with both overlays, a peer whose traffic is not
// routed through WireGuard (its key withheld, or not ready) takes the
// VXLAN routes of the main table, and moves back when routed again.
func TestFallbackToVXLAN(t *testing.T) {
	nodes := buildNodes(t, 2)
	a, b := nodes[0], nodes[1]
	ctx := context.Background()
	setupVXLAN(t, a, b)
	a.pingEventually(t, b.pod, 3)

	// B's key is withheld: A has no peer for B, B has one for A.
	wA, wB := newWG(t, a), newWG(t, b)
	nodesA := []Node{{Name: b.name, NodeIP: b.nodeIP, AllowedIPs: []netip.Prefix{b.pods, netip.PrefixFrom(b.wgIP, 32)}}}
	nodesB := []Node{{Name: a.name, PublicKey: a.key.PublicKey(), NodeIP: a.nodeIP, AllowedIPs: []netip.Prefix{a.pods, netip.PrefixFrom(a.wgIP, 32)}}}
	policy := Policy{VXLANEnabled: true, HandshakeGrace: -1} // WireGuard only after a handshake
	plan := func(w *WireGuard, n *node, mesh []Node) Decision {
		t.Helper()
		sts, err := w.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		peers, decisions := Plan(time.Now(), policy, 0, mesh, sts)
		d := n.desired()
		d.Peers = peers
		apply(t, w, d)
		t.Logf("%s: %+v", n.name, decisions)
		return decisions[0]
	}
	if d := plan(wA, a, nodesA); d.Via != ViaVXLAN {
		t.Fatalf("A to B without B's key: %+v", d)
	}
	plan(wB, b, nodesB)
	before := b.counters(t)
	a.pingEventually(t, b.pod, 3)
	after := b.counters(t)
	if after[dataplane.DefaultPort] <= before[dataplane.DefaultPort] {
		t.Fatalf("B's underlay %v -> %v: A's traffic did not come over VXLAN", before, after)
	}

	// B publishes its key: A configures the peer; once the handshake is
	// done (keepalives drive it), A's plan moves B to WireGuard.
	nodesA[0].PublicKey = b.key.PublicKey()
	plan(wA, a, nodesA)
	var d Decision
	for range 20 {
		if d = plan(wA, a, nodesA); d.Via == ViaWireGuard {
			break
		}
		a.ping(t, b.wgIP, 1) // a second of traffic while the keepalive handshake completes
	}
	if d.Via != ViaWireGuard {
		t.Fatalf("A to B after B published its key: %+v", d)
	}
	plan(wB, b, nodesB)
	before = b.counters(t)
	if ok, out := a.ping(t, b.pod, 3); !ok {
		t.Fatalf("A to B over WireGuard:\n%s", out)
	}
	after = b.counters(t)
	if after[DefaultListenPort] <= before[DefaultListenPort] || after[dataplane.DefaultPort] != before[dataplane.DefaultPort] {
		t.Fatalf("B's underlay %v -> %v: want WireGuard only", before, after)
	}
}

// setupVXLAN programs the VXLAN overlay between a and b with
// pkg/dataplane, each node's block via the other's VTEP.
func setupVXLAN(tb testing.TB, a, b *node) {
	tb.Helper()
	ctx := context.Background()
	dps := map[*node]*dataplane.Dataplane{a: dataplane.New(a.h, dataplane.Options{}), b: dataplane.New(b.h, dataplane.Options{})}
	cfg := func(n *node) *dataplane.VXLANConfig {
		return &dataplane.VXLANConfig{LocalVTEP: n.vtep, ParentIP: n.nodeIP}
	}
	macs := map[*node]dataplane.RemoteNode{}
	for _, n := range []*node{a, b} {
		st, err := dps[n].Apply(ctx, dataplane.Desired{VXLAN: cfg(n)})
		if err != nil {
			tb.Fatal(err)
		}
		macs[n] = dataplane.RemoteNode{Name: n.name, NodeIP: n.nodeIP, VTEP: n.vtep, MAC: st.DeviceMAC, Blocks: []netip.Prefix{n.pods}}
	}
	for n, other := range map[*node]*node{a: b, b: a} {
		if _, err := dps[n].Apply(ctx, dataplane.Desired{VXLAN: cfg(n), Nodes: []dataplane.RemoteNode{macs[other]}}); err != nil {
			tb.Fatal(err)
		}
	}
}

// TestCloseStopsGoroutines: the userspace device's goroutines (wireguard-go,
// the TUN listeners, the UAPI server) end with Close.
func TestCloseStopsGoroutines(t *testing.T) {
	nodes := buildNodes(t, 2)
	a, b := nodes[0], nodes[1]
	base := runtime.NumGoroutine()
	w, err := New(a.ns, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Apply(context.Background(), a.desired(b)); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Status(context.Background()); err != nil {
		t.Fatal(err)
	}
	running := runtime.NumGoroutine()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// Goroutines that were told to stop may need a moment to return.
	n := runtime.NumGoroutine()
	for i := 0; i < 100 && n > base; i++ {
		time.Sleep(20 * time.Millisecond)
		n = runtime.NumGoroutine()
	}
	if n > base {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines before New, %d while running, %d after Close:\n%s", base, running, n, buf[:runtime.Stack(buf, true)])
	}
	t.Logf("goroutines: %d before New, %d while running, %d after Close", base, running, n)
}
