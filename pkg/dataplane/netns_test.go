//go:build linux

package dataplane

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/meshapi/meshapi/pkg/dataplane/internal/netnstest"
)

// These tests build a two-node VXLAN overlay out of network namespaces they
// create (and delete, also on failure), with addresses in 198.18.0.0/15
// only. Nothing is changed in the namespace the test runs in: every netlink
// handle is opened at a test namespace (netlink.NewHandleAt), and commands
// run in them with `ip -n` / `ip netns exec`.
//
//	podA (198.18.8.10) -- nodeA (198.18.0.1, VTEP 198.18.200.1)
//	                        |  veth underlay 198.18.0.0/24
//	podB (198.18.9.10) -- nodeB (198.18.0.2, VTEP 198.18.200.2)

const (
	helperEnv       = "MESHAPI_DATAPLANE_TEST_HELPER"
	helperTargetEnv = "MESHAPI_DATAPLANE_TEST_TARGET"
	setupProtocol   = netlink.RouteProtocol(unix.RTPROT_STATIC) // the test's own routes
)

// TestMain doubles as a helper process: run inside a pod namespace (ip
// netns exec), the test binary sends ICMP echo requests, for machines
// without ping.
func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "icmp-echo" {
		os.Exit(icmpEcho(os.Getenv(helperTargetEnv), 3, time.Second))
	}
	os.Exit(m.Run())
}

// icmpEcho sends count echo requests to target, waiting up to wait for each
// reply, and exits 0 if any reply came (as ping does).
func icmpEcho(target string, count int, wait time.Duration) int {
	dst := net.ParseIP(target)
	conn, err := net.ListenPacket("ip4:icmp", "0.0.0.0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "icmp socket:", err)
		return 2
	}
	defer conn.Close()
	id := uint16(os.Getpid())
	received := 0
	for seq := uint16(1); seq <= uint16(count); seq++ {
		msg := make([]byte, 16)
		msg[0] = 8 // echo request
		binary.BigEndian.PutUint16(msg[4:], id)
		binary.BigEndian.PutUint16(msg[6:], seq)
		copy(msg[8:], "meshapi!")
		binary.BigEndian.PutUint16(msg[2:], icmpChecksum(msg))
		if _, err := conn.WriteTo(msg, &net.IPAddr{IP: dst}); err != nil {
			fmt.Fprintf(os.Stderr, "seq %d: send: %v\n", seq, err)
			time.Sleep(wait)
			continue
		}
		_ = conn.SetReadDeadline(time.Now().Add(wait))
		buf := make([]byte, 1500)
		for {
			n, from, err := conn.ReadFrom(buf)
			if err != nil {
				fmt.Printf("seq %d: no reply\n", seq)
				break
			}
			if n >= 8 && buf[0] == 0 && binary.BigEndian.Uint16(buf[4:]) == id &&
				binary.BigEndian.Uint16(buf[6:]) == seq && from.(*net.IPAddr).IP.Equal(dst) {
				fmt.Printf("seq %d: reply from %s\n", seq, from)
				received++
				break
			}
		}
	}
	fmt.Printf("%d packets transmitted, %d received\n", count, received)
	if received == 0 {
		return 1
	}
	return 0
}

func icmpChecksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// run runs a command and fails the test if it fails.
func run(tb testing.TB, name string, args ...string) string {
	tb.Helper()
	return netnstest.Run(tb, name, args...)
}

// tryRun runs a command and returns its combined output.
func tryRun(name string, args ...string) (string, error) { return netnstest.TryRun(name, args...) }

// newTestNS creates a network namespace for the test, deleted after it.
func newTestNS(tb testing.TB, name string) *testNS {
	tb.Helper()
	n := netnstest.New(tb, name)
	return &testNS{name: n.Name, h: n.Netlink}
}

// testNS is a named network namespace the test created.
type testNS struct {
	name string
	h    *netlink.Handle
}

// ip runs `ip -n <ns> args...`.
func (n *testNS) ip(t *testing.T, args ...string) string {
	t.Helper()
	return run(t, "ip", append([]string{"-n", n.name}, args...)...)
}

func (n *testNS) exec(t *testing.T, args ...string) string {
	t.Helper()
	return run(t, "ip", append([]string{"netns", "exec", n.name}, args...)...)
}

// ping pings dst from n: with ping if the machine has it, else with this
// test binary as an ICMP helper. It returns whether a reply came.
func (n *testNS) ping(t *testing.T, dst string, count int) (bool, string) {
	t.Helper()
	if path, err := exec.LookPath("ping"); err == nil {
		out, err := tryRun("ip", "netns", "exec", n.name, path, "-c", fmt.Sprint(count), "-W", "1", dst)
		return err == nil, "ping: " + out
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", n.name, self, "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=icmp-echo", helperTargetEnv+"="+dst)
	out, err := cmd.CombinedOutput()
	return err == nil, "icmp helper (no ping installed): " + string(out)
}

type topology struct {
	nodeA, nodeB, podA, podB *testNS
}

// buildTopology creates the namespaces, the underlay and the pods: all but
// the overlay.
func buildTopology(t *testing.T) *topology {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces (CI runs as root)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatal("iproute2's ip is needed:", err)
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	prefix := "meshapi-dp-" + hex.EncodeToString(rnd[:]) + "-"
	topo := &topology{
		nodeA: newTestNS(t, prefix+"nodeA"),
		nodeB: newTestNS(t, prefix+"nodeB"),
		podA:  newTestNS(t, prefix+"podA"),
		podB:  newTestNS(t, prefix+"podB"),
	}
	// Underlay: a veth pair between the nodes, created directly in them.
	topo.nodeA.ip(t, "link", "add", "ul0", "type", "veth", "peer", "name", "ul0", "netns", topo.nodeB.name)
	topo.nodeA.ip(t, "addr", "add", "198.18.0.1/24", "dev", "ul0")
	topo.nodeB.ip(t, "addr", "add", "198.18.0.2/24", "dev", "ul0")
	topo.nodeA.ip(t, "link", "set", "ul0", "up")
	topo.nodeB.ip(t, "link", "set", "ul0", "up")

	for _, p := range []struct {
		node, pod *testNS
		ip        string
	}{{topo.nodeA, topo.podA, "198.18.8.10"}, {topo.nodeB, topo.podB, "198.18.9.10"}} {
		p.node.ip(t, "link", "add", "pod0", "type", "veth", "peer", "name", "eth0", "netns", p.pod.name)
		p.node.ip(t, "link", "set", "pod0", "up")
		p.pod.ip(t, "addr", "add", p.ip+"/32", "dev", "eth0")
		p.pod.ip(t, "link", "set", "eth0", "up")
		p.pod.ip(t, "route", "add", "default", "dev", "eth0")
		// The pod's route in its node, as a CNI plugin would add it, with
		// a protocol that is not the dataplane's.
		veth, err := p.node.h.LinkByName("pod0")
		if err != nil {
			t.Fatal(err)
		}
		if err := p.node.h.RouteAdd(&netlink.Route{
			LinkIndex: veth.Attrs().Index,
			Dst:       prefixToIPNet(netip.PrefixFrom(netip.MustParseAddr(p.ip), 32)),
			Scope:     netlink.SCOPE_LINK,
			Protocol:  setupProtocol,
		}); err != nil {
			t.Fatalf("route to pod %s in %s: %v", p.ip, p.node.name, err)
		}
		p.node.exec(t, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1",
			"net.ipv4.conf.pod0.proxy_arp=1", "net.ipv4.neigh.pod0.proxy_delay=0")
	}
	return topo
}

// testLogger sends the Dataplane's logs to the test log while the test runs.
func testLogger(t *testing.T, node string) *slog.Logger {
	w := &testLogWriter{t: t}
	t.Cleanup(w.stop)
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug})).With("node", node)
}

type testLogWriter struct {
	mu      sync.Mutex
	t       *testing.T
	stopped bool
}

func (w *testLogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.stopped {
		w.t.Log(strings.TrimSpace(string(p)))
	}
	return len(p), nil
}

func (w *testLogWriter) stop() { w.mu.Lock(); w.stopped = true; w.mu.Unlock() }

// kernel views of one node namespace.

func vxlanLink(t *testing.T, n *testNS) *netlink.Vxlan {
	t.Helper()
	l, err := n.h.LinkByName(DefaultDeviceName)
	if err != nil {
		t.Fatalf("%s: %s: %v", n.name, DefaultDeviceName, err)
	}
	v, ok := l.(*netlink.Vxlan)
	if !ok {
		t.Fatalf("%s: %s is a %s", n.name, DefaultDeviceName, l.Type())
	}
	return v
}

func hasLink(t *testing.T, n *testNS, name string) bool {
	t.Helper()
	_, err := n.h.LinkByName(name)
	if err != nil && !isNotFound(err) {
		t.Fatal(err)
	}
	return err == nil
}

// routesTo lists the main-table routes whose destination is exactly dst.
func routesTo(t *testing.T, n *testNS, dst string) []netlink.Route {
	t.Helper()
	rs, err := n.h.RouteListFiltered(netlink.FAMILY_V4,
		&netlink.Route{Dst: prefixToIPNet(netip.MustParsePrefix(dst))}, netlink.RT_FILTER_DST)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func protoRoutes(t *testing.T, h *netlink.Handle) []netlink.Route {
	t.Helper()
	rs, err := h.RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{Protocol: DefaultRouteProtocol}, netlink.RT_FILTER_PROTOCOL)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// expectOverlayRoute checks that dst is routed via gw on the VXLAN device,
// onlink, with our protocol.
func expectOverlayRoute(t *testing.T, n *testNS, dst, gw string) {
	t.Helper()
	vx := vxlanLink(t, n)
	rs := routesTo(t, n, dst)
	if len(rs) != 1 {
		t.Fatalf("%s: routes to %s: %v, want one", n.name, dst, rs)
	}
	r := rs[0]
	if r.LinkIndex != vx.Index || !r.Gw.Equal(net.ParseIP(gw)) || r.Flags&int(netlink.FLAG_ONLINK) == 0 || r.Protocol != DefaultRouteProtocol {
		t.Fatalf("%s: route %s, want %s via %s dev %s onlink proto %d", n.name, r, dst, gw, DefaultDeviceName, DefaultRouteProtocol)
	}
}

func expectNoRoute(t *testing.T, n *testNS, dst string) {
	t.Helper()
	if rs := routesTo(t, n, dst); len(rs) != 0 {
		t.Fatalf("%s: routes to %s remain: %v", n.name, dst, rs)
	}
}

// neighbours returns the permanent neighbours (ip -> mac) and FDB entries
// (mac -> dst) of the VXLAN device.
func neighbours(t *testing.T, n *testNS) (map[string]string, map[string]string) {
	t.Helper()
	idx := vxlanLink(t, n).Index
	ns, err := n.h.NeighList(idx, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	neigh := map[string]string{}
	for _, e := range ns {
		if e.State&netlink.NUD_PERMANENT != 0 {
			neigh[e.IP.String()] = e.HardwareAddr.String()
		}
	}
	fs, err := n.h.NeighList(idx, unix.AF_BRIDGE)
	if err != nil {
		t.Fatal(err)
	}
	fdb := map[string]string{}
	for _, e := range fs {
		if e.IP != nil {
			fdb[e.HardwareAddr.String()] = e.IP.String()
		}
	}
	return neigh, fdb
}

func expectStats(t *testing.T, what string, st Stats, err error, check func(Stats) bool) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if !check(st) {
		t.Fatalf("%s: unexpected stats %+v", what, st)
	}
	t.Logf("%s: %+v", what, st)
}

func TestOverlayBetweenNamespaces(t *testing.T) {
	topo := buildTopology(t)
	ctx := context.Background()

	// The namespace the test runs in must come out as it went in.
	rootVXLAN := hasLink(t, &testNS{name: "(test's own)", h: &netlink.Handle{}}, DefaultDeviceName)
	rootRoutes := len(protoRoutes(t, &netlink.Handle{}))
	t.Cleanup(func() {
		if hasLink(t, &testNS{name: "(test's own)", h: &netlink.Handle{}}, DefaultDeviceName) != rootVXLAN ||
			len(protoRoutes(t, &netlink.Handle{})) != rootRoutes {
			t.Errorf("the test's own namespace changed")
		}
	})

	if ok, out := topo.podA.ping(t, "198.18.9.10", 1); ok {
		t.Fatalf("pod B reachable before the overlay exists:\n%s", out)
	}

	var resyncs []Stats
	var resyncMu sync.Mutex
	dpA := New(topo.nodeA.h, Options{Logger: testLogger(t, "A"), OnResync: func(s Stats, err error) {
		resyncMu.Lock()
		defer resyncMu.Unlock()
		resyncs = append(resyncs, s)
	}})
	dpB := New(topo.nodeB.h, Options{Logger: testLogger(t, "B")})
	lastResync := func() Stats {
		resyncMu.Lock()
		defer resyncMu.Unlock()
		return resyncs[len(resyncs)-1]
	}

	// Node A lets the kernel pick its MAC; node B sets one.
	cfgA := &VXLANConfig{LocalVTEP: netip.MustParseAddr("198.18.200.1"), ParentIP: netip.MustParseAddr("198.18.0.1")}
	macB, _ := net.ParseMAC("02:6d:65:73:68:02")
	cfgB := &VXLANConfig{LocalVTEP: netip.MustParseAddr("198.18.200.2"), ParentIP: netip.MustParseAddr("198.18.0.2"), LocalMAC: macB}

	st, err := dpA.Apply(ctx, Desired{VXLAN: cfgA})
	expectStats(t, "A: device only", st, err, func(s Stats) bool {
		return s.DeviceCreated && len(s.DeviceMAC) == 6 && s.Changes() == 1
	})
	macA := st.DeviceMAC
	if got := dpA.DeviceMAC(); got.String() != macA.String() {
		t.Fatalf("DeviceMAC() = %s, Stats said %s", got, macA)
	}

	nodeAForB := RemoteNode{Name: "a", NodeIP: netip.MustParseAddr("198.18.0.1"), VTEP: cfgA.LocalVTEP, MAC: macA,
		Blocks: []netip.Prefix{netip.MustParsePrefix("198.18.8.0/26")}}
	nodeBForA := RemoteNode{Name: "b", NodeIP: netip.MustParseAddr("198.18.0.2"), VTEP: cfgB.LocalVTEP, MAC: macB,
		Blocks: []netip.Prefix{netip.MustParsePrefix("198.18.9.0/26")}}
	wantA := Desired{VXLAN: cfgA, Nodes: []RemoteNode{nodeBForA}}
	wantB := Desired{VXLAN: cfgB, Nodes: []RemoteNode{nodeAForB}}

	st, err = dpB.Apply(ctx, wantB)
	expectStats(t, "B: device and node A", st, err, func(s Stats) bool {
		return s.DeviceCreated && s.DeviceMAC.String() == macB.String() &&
			s.RoutesAdded == 1 && s.NeighborsAdded == 1 && s.FDBAdded == 1
	})
	st, err = dpA.Apply(ctx, wantA)
	expectStats(t, "A: node B", st, err, func(s Stats) bool {
		return !s.DeviceCreated && s.RoutesAdded == 1 && s.NeighborsAdded == 1 && s.FDBAdded == 1 && s.Changes() == 3
	})

	// The device as the configuration says.
	vx := vxlanLink(t, topo.nodeA)
	ul0, err := topo.nodeA.h.LinkByName("ul0")
	if err != nil {
		t.Fatal(err)
	}
	if vx.VxlanId != DefaultVNI || vx.Port != DefaultPort || vx.MTU != 1450 || vx.Learning ||
		!vx.SrcAddr.Equal(net.ParseIP("198.18.0.1")) || vx.VtepDevIndex != ul0.Attrs().Index || vx.Flags&net.FlagUp == 0 {
		t.Fatalf("device %+v", vx)
	}
	addrs, err := topo.nodeA.h.AddrList(vx, netlink.FAMILY_V4)
	if err != nil || len(addrs) != 1 || addrs[0].IPNet.String() != "198.18.200.1/32" {
		t.Fatalf("device addresses %v (%v), want 198.18.200.1/32", addrs, err)
	}
	expectOverlayRoute(t, topo.nodeA, "198.18.9.0/26", "198.18.200.2")
	expectOverlayRoute(t, topo.nodeB, "198.18.8.0/26", "198.18.200.1")
	neigh, fdb := neighbours(t, topo.nodeA)
	if neigh["198.18.200.2"] != macB.String() || fdb[macB.String()] != "198.18.0.2" {
		t.Fatalf("node A: neighbours %v, fdb %v", neigh, fdb)
	}

	// Idempotent: the same state again changes nothing.
	st, err = dpA.Apply(ctx, wantA)
	expectStats(t, "A: same again", st, err, func(s Stats) bool { return s.Changes() == 0 })

	// Pod A reaches pod B over VXLAN.
	if ok, out := topo.podA.ping(t, "198.18.9.10", 3); !ok {
		t.Fatalf("pod A cannot reach pod B:\n%s\nnode A:\n%s%s%s", out,
			topo.nodeA.ip(t, "-d", "-s", "link", "show", DefaultDeviceName),
			topo.nodeA.ip(t, "route"), topo.nodeA.ip(t, "neigh"))
	} else {
		t.Log(out)
	}
	t.Log("node A: ip -s link show vxlan.calico\n" + topo.nodeA.ip(t, "-s", "link", "show", DefaultDeviceName))
	if s := vxlanLink(t, topo.nodeA).Statistics; s == nil || s.TxPackets == 0 || s.RxPackets == 0 {
		t.Fatalf("node A: no packets through %s: %+v", DefaultDeviceName, s)
	}

	// Routes of others survive everything: one via the underlay, one on
	// our own device.
	topo.nodeA.ip(t, "route", "add", "198.18.60.0/24", "via", "198.18.0.2")
	topo.nodeA.ip(t, "route", "add", "198.18.61.0/24", "dev", DefaultDeviceName)
	foreignSurvives := func(onDevice bool) {
		t.Helper()
		if rs := routesTo(t, topo.nodeA, "198.18.60.0/24"); len(rs) != 1 || rs[0].Protocol == DefaultRouteProtocol {
			t.Fatalf("foreign route 198.18.60.0/24 gone or changed: %v", rs)
		}
		if rs := routesTo(t, topo.nodeA, "198.18.61.0/24"); onDevice && len(rs) != 1 {
			t.Fatalf("foreign route 198.18.61.0/24 on %s gone: %v", DefaultDeviceName, rs)
		}
		if rs := routesTo(t, topo.nodeA, "198.18.8.10/32"); len(rs) != 1 || rs[0].Protocol != setupProtocol {
			t.Fatalf("pod route 198.18.8.10/32 gone or changed: %v", rs)
		}
	}
	st, err = dpA.Apply(ctx, wantA)
	expectStats(t, "A: with foreign routes", st, err, func(s Stats) bool { return s.Changes() == 0 })
	if err := dpA.Resync(ctx); err != nil {
		t.Fatal(err)
	}
	if s := lastResync(); s.Changes() != 0 {
		t.Fatalf("resync without drift changed %+v", s)
	}
	foreignSurvives(true)

	// Drift: a route deleted by hand is restored by Resync.
	topo.nodeA.exec(t, "ip", "route", "del", "198.18.9.0/26")
	expectNoRoute(t, topo.nodeA, "198.18.9.0/26")
	if err := dpA.Resync(ctx); err != nil {
		t.Fatal(err)
	}
	if s := lastResync(); s.RoutesAdded != 1 || s.Changes() != 1 {
		t.Fatalf("resync after route deletion: %+v", s)
	}
	expectOverlayRoute(t, topo.nodeA, "198.18.9.0/26", "198.18.200.2")

	// Drift: neighbour and FDB entry deleted by hand, a route changed.
	topo.nodeA.ip(t, "neigh", "del", "198.18.200.2", "dev", DefaultDeviceName)
	run(t, "bridge", "-n", topo.nodeA.name, "fdb", "del", macB.String(), "dev", DefaultDeviceName, "dst", "198.18.0.2")
	topo.nodeA.ip(t, "route", "replace", "198.18.9.0/26", "via", "198.18.200.9", "dev", DefaultDeviceName, "onlink", "proto", "82")
	if err := dpA.Resync(ctx); err != nil {
		t.Fatal(err)
	}
	if s := lastResync(); s.NeighborsAdded != 1 || s.FDBAdded != 1 || s.RoutesUpdated != 1 || s.Changes() != 3 {
		t.Fatalf("resync after neighbour, fdb and route drift: %+v", s)
	}
	expectOverlayRoute(t, topo.nodeA, "198.18.9.0/26", "198.18.200.2")
	if ok, out := topo.podA.ping(t, "198.18.9.10", 3); !ok {
		t.Fatalf("pod A cannot reach pod B after repairs:\n%s", out)
	}

	// Run repairs on its timer.
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); dpA.Run(runCtx, 50*time.Millisecond) }()
	topo.nodeA.exec(t, "ip", "route", "del", "198.18.9.0/26")
	deadline := time.Now().Add(10 * time.Second)
	for len(routesTo(t, topo.nodeA, "198.18.9.0/26")) == 0 {
		if time.Now().After(deadline) {
			stop()
			<-done
			t.Fatal("Run did not restore the deleted route")
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	<-done
	expectOverlayRoute(t, topo.nodeA, "198.18.9.0/26", "198.18.200.2")

	// Endpoint routes: added, moved into conflict with a foreign route,
	// removed.
	withEP := wantA
	withEP.Endpoints = []EndpointRoute{{Dst: netip.MustParsePrefix("198.18.11.5/32"), Node: "b"}}
	st, err = dpA.Apply(ctx, withEP)
	expectStats(t, "A: endpoint route", st, err, func(s Stats) bool { return s.RoutesAdded == 1 && s.Changes() == 1 })
	expectOverlayRoute(t, topo.nodeA, "198.18.11.5/32", "198.18.200.2")
	topo.nodeA.ip(t, "route", "add", "198.18.62.5/32", "via", "198.18.0.2")
	conflict := wantA
	conflict.Endpoints = []EndpointRoute{{Dst: netip.MustParsePrefix("198.18.62.5/32"), Node: "b"}}
	st, err = dpA.Apply(ctx, conflict)
	if err == nil || !strings.Contains(err.Error(), "adding route 198.18.62.5/32 via 198.18.200.2 dev vxlan.calico") || st.Conflicts != 1 {
		t.Fatalf("conflicting endpoint route: stats %+v, err %v; want a conflict", st, err)
	}
	t.Logf("conflict reported as: %v", err)
	if rs := routesTo(t, topo.nodeA, "198.18.62.5/32"); len(rs) != 1 || rs[0].Protocol == DefaultRouteProtocol || !rs[0].Gw.Equal(net.ParseIP("198.18.0.2")) {
		t.Fatalf("foreign route at the conflicting destination changed: %v", rs)
	}
	expectNoRoute(t, topo.nodeA, "198.18.11.5/32") // the endpoint route of before is gone
	topo.nodeA.ip(t, "route", "del", "198.18.62.5/32")
	st, err = dpA.Apply(ctx, wantA)
	expectStats(t, "A: no endpoint routes", st, err, func(s Stats) bool { return s.RoutesRemoved == 0 && s.Changes() == 0 })
	foreignSurvives(true)

	// A node removed: its route, neighbour and FDB entry go.
	st, err = dpA.Apply(ctx, Desired{VXLAN: cfgA})
	expectStats(t, "A: node B removed", st, err, func(s Stats) bool {
		return s.RoutesRemoved == 1 && s.NeighborsRemoved == 1 && s.FDBRemoved == 1 && s.Changes() == 3
	})
	expectNoRoute(t, topo.nodeA, "198.18.9.0/26")
	if neigh, fdb := neighbours(t, topo.nodeA); len(neigh) != 0 || len(fdb) != 0 {
		t.Fatalf("node A after removing B: neighbours %v, fdb %v", neigh, fdb)
	}
	if ok, out := topo.podA.ping(t, "198.18.9.10", 1); ok {
		t.Fatalf("pod B still reachable after removing node B:\n%s", out)
	}
	foreignSurvives(true)

	// A VNI change replaces the device and reprograms it.
	st, err = dpA.Apply(ctx, wantA)
	expectStats(t, "A: node B back", st, err, func(s Stats) bool { return s.RoutesAdded == 1 && s.Changes() == 3 })
	otherVNI := *cfgA
	otherVNI.VNI = 4097
	st, err = dpA.Apply(ctx, Desired{VXLAN: &otherVNI, Nodes: wantA.Nodes})
	expectStats(t, "A: VNI 4097", st, err, func(s Stats) bool {
		return s.DeviceReplaced && s.DeviceMAC.String() == macA.String() &&
			s.RoutesAdded == 1 && s.NeighborsAdded == 1 && s.FDBAdded == 1
	})
	if vx := vxlanLink(t, topo.nodeA); vx.VxlanId != 4097 {
		t.Fatalf("VNI %d after replacement", vx.VxlanId)
	}
	expectOverlayRoute(t, topo.nodeA, "198.18.9.0/26", "198.18.200.2")
	st, err = dpA.Apply(ctx, wantA)
	expectStats(t, "A: VNI back", st, err, func(s Stats) bool {
		return s.DeviceReplaced && s.DeviceMAC.String() == macA.String()
	})
	if ok, out := topo.podA.ping(t, "198.18.9.10", 3); !ok {
		t.Fatalf("pod A cannot reach pod B after the device was replaced:\n%s", out)
	}
	foreignSurvives(false) // 198.18.61.0/24 went with the old device

	// Drift: the device deleted by hand is re-created, with its MAC, and
	// reprogrammed by Resync.
	topo.nodeA.ip(t, "link", "del", DefaultDeviceName)
	if err := dpA.Resync(ctx); err != nil {
		t.Fatal(err)
	}
	if s := lastResync(); !s.DeviceCreated || s.DeviceMAC.String() != macA.String() ||
		s.RoutesAdded != 1 || s.NeighborsAdded != 1 || s.FDBAdded != 1 {
		t.Fatalf("resync after device deletion: %+v", s)
	}
	expectOverlayRoute(t, topo.nodeA, "198.18.9.0/26", "198.18.200.2")
	if ok, out := topo.podA.ping(t, "198.18.9.10", 3); !ok {
		t.Fatalf("pod A cannot reach pod B after the device was re-created:\n%s", out)
	}

	// No overlay: the device and everything tagged go, nothing else.
	st, err = dpA.Apply(ctx, Desired{})
	expectStats(t, "A: no overlay", st, err, func(s Stats) bool { return s.DeviceRemoved })
	if hasLink(t, topo.nodeA, DefaultDeviceName) {
		t.Fatal("device still there")
	}
	if rs := protoRoutes(t, topo.nodeA.h); len(rs) != 0 {
		t.Fatalf("routes with protocol %d left: %v", DefaultRouteProtocol, rs)
	}
	if err := dpA.Resync(ctx); err != nil {
		t.Fatal(err)
	}
	if s := lastResync(); s.Changes() != 0 {
		t.Fatalf("resync without overlay changed %+v", s)
	}
	foreignSurvives(false)
	// Node B was never touched by any of this.
	expectOverlayRoute(t, topo.nodeB, "198.18.8.0/26", "198.18.200.1")
}

// TestDeviceOfAnotherType checks that a link of another type (a veth) with our name
// is reported, never deleted.
func TestDeviceOfAnotherType(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces (CI runs as root)")
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	n := newTestNS(t, "meshapi-dp-"+hex.EncodeToString(rnd[:])+"-other")
	n.ip(t, "link", "add", DefaultDeviceName, "type", "veth", "peer", "name", "peer0")
	n.ip(t, "addr", "add", "198.18.0.1/24", "dev", DefaultDeviceName)
	dp := New(n.h, Options{Logger: testLogger(t, "other")})
	_, err := dp.Apply(context.Background(), Desired{VXLAN: &VXLANConfig{ParentIP: netip.MustParseAddr("198.18.0.1")}})
	if err == nil || !strings.Contains(err.Error(), "not vxlan") {
		t.Fatalf("Apply over a veth: %v, want an error", err)
	}
	_, err = dp.Apply(context.Background(), Desired{})
	if err == nil || !strings.Contains(err.Error(), "not deleting") {
		t.Fatalf("teardown over a veth: %v, want an error", err)
	}
	if l, err := n.h.LinkByName(DefaultDeviceName); err != nil || l.Type() != "veth" {
		t.Fatalf("veth device: %v %v", l, err)
	}
}
