package dataplane

import (
	"net"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

const testLink = 7

func mustMAC(t *testing.T, s string) net.HardwareAddr {
	t.Helper()
	m, err := net.ParseMAC(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }
func addr(s string) netip.Addr  { return netip.MustParseAddr(s) }

// Three remote nodes in 198.18.0.0/15.
func nodeB(t *testing.T) RemoteNode {
	return RemoteNode{Name: "b", NodeIP: addr("198.18.0.2"), VTEP: addr("198.18.200.2"),
		MAC: mustMAC(t, "02:00:00:00:00:02"), Blocks: []netip.Prefix{pfx("198.18.9.0/26"), pfx("198.18.9.64/26")}}
}

func nodeC(t *testing.T) RemoteNode {
	return RemoteNode{Name: "c", NodeIP: addr("198.18.0.3"), VTEP: addr("198.18.200.3"),
		MAC: mustMAC(t, "02:00:00:00:00:03"), Blocks: []netip.Prefix{pfx("198.18.10.0/26")}}
}

func desired(nodes []RemoteNode, eps ...EndpointRoute) Desired {
	return Desired{
		VXLAN:     &VXLANConfig{LocalVTEP: addr("198.18.200.1"), ParentIP: addr("198.18.0.1")},
		Nodes:     nodes,
		Endpoints: eps,
	}
}

// step diffs k against d, applies the plan to k as the kernel would, and
// checks that a second diff is empty (the plan reaches its target).
func step(t *testing.T, k *kernelState, d Desired) plan {
	t.Helper()
	tg, _ := computeTarget(d)
	p := diff(k, tg)
	k.apply(p)
	if again := diff(k, tg); !again.empty() {
		t.Fatalf("plan does not converge: second diff %+v", again)
	}
	return p
}

func routeTo(dst, gw string) kernelRoute {
	return kernelRoute{dst: pfx(dst), gw: addr(gw), linkIndex: testLink, onlink: true, table: mainTable}
}

func count(p plan) [7]int {
	return [7]int{len(p.neighSets), len(p.fdbSets), len(p.routeAdds), len(p.routeReps), len(p.routeDels), len(p.neighDels), len(p.fdbDels)}
}

func TestDiffNodeAdded(t *testing.T) {
	k := newKernelState(testLink)
	p := step(t, k, desired([]RemoteNode{nodeB(t)}))
	if got, want := count(p), [7]int{1, 1, 2, 0, 0, 0, 0}; got != want {
		t.Fatalf("ops (neighSet fdbSet add rep del neighDel fdbDel) = %v, want %v", got, want)
	}
	if o := p.neighSets[0]; o.ip != addr("198.18.200.2") || o.mac != "02:00:00:00:00:02" || o.update {
		t.Errorf("neighbour op %+v", o)
	}
	if o := p.fdbSets[0]; o.ip != addr("198.18.0.2") || o.mac != "02:00:00:00:00:02" || o.update {
		t.Errorf("fdb op %+v", o)
	}
	wantRoutes := []kernelRoute{routeTo("198.18.9.0/26", "198.18.200.2"), routeTo("198.18.9.64/26", "198.18.200.2")}
	if !reflect.DeepEqual(p.routeAdds, wantRoutes) {
		t.Errorf("route adds %+v, want %+v", p.routeAdds, wantRoutes)
	}

	// Adding a second node leaves the first alone.
	p = step(t, k, desired([]RemoteNode{nodeB(t), nodeC(t)}))
	if got, want := count(p), [7]int{1, 1, 1, 0, 0, 0, 0}; got != want {
		t.Fatalf("second node: ops = %v, want %v", got, want)
	}
	if p.routeAdds[0] != routeTo("198.18.10.0/26", "198.18.200.3") {
		t.Errorf("route add %+v", p.routeAdds[0])
	}
	// Nothing to do the second time.
	tg, _ := computeTarget(desired([]RemoteNode{nodeC(t), nodeB(t)}))
	if p := diff(k, tg); !p.empty() {
		t.Errorf("same state, other order: plan %+v, want empty", p)
	}
}

func TestDiffNodeRemoved(t *testing.T) {
	k := newKernelState(testLink)
	step(t, k, desired([]RemoteNode{nodeB(t), nodeC(t)}))
	p := step(t, k, desired([]RemoteNode{nodeC(t)}))
	if got, want := count(p), [7]int{0, 0, 0, 0, 2, 1, 1}; got != want {
		t.Fatalf("ops = %v, want %v", got, want)
	}
	if p.neighDels[0].ip != addr("198.18.200.2") || p.fdbDels[0].mac != "02:00:00:00:00:02" || p.fdbDels[0].ip != addr("198.18.0.2") {
		t.Errorf("deletes %+v %+v", p.neighDels, p.fdbDels)
	}
	for _, r := range p.routeDels {
		if r.gw != addr("198.18.200.2") {
			t.Errorf("deleted route %+v, not node b's", r)
		}
	}
	if _, ok := k.routes[pfx("198.18.10.0/26")]; !ok || len(k.neighs) != 1 || len(k.fdb) != 1 {
		t.Errorf("node c's state lost: %+v", k)
	}
}

func TestDiffBlockMoved(t *testing.T) {
	k := newKernelState(testLink)
	step(t, k, desired([]RemoteNode{nodeB(t), nodeC(t)}))
	b, c := nodeB(t), nodeC(t)
	c.Blocks = append(c.Blocks, b.Blocks[1])
	b.Blocks = b.Blocks[:1]
	p := step(t, k, desired([]RemoteNode{b, c}))
	if got, want := count(p), [7]int{0, 0, 0, 1, 0, 0, 0}; got != want {
		t.Fatalf("ops = %v, want %v", got, want)
	}
	if p.routeReps[0] != routeTo("198.18.9.64/26", "198.18.200.3") {
		t.Errorf("replace %+v", p.routeReps[0])
	}
}

func TestDiffBlockClaimedTwice(t *testing.T) {
	// While a block moves, both nodes may claim it: the first by name wins,
	// deterministically, and the other is reported.
	b, c := nodeB(t), nodeC(t)
	c.Blocks = append(c.Blocks, b.Blocks[0])
	tg, skips := computeTarget(desired([]RemoteNode{c, b}))
	if got := tg.routes[pfx("198.18.9.0/26")].node; got != "b" {
		t.Errorf("block owner %q, want b", got)
	}
	if len(skips) != 1 || !skips[0].conflict || !strings.Contains(skips[0].String(), "already routed to node b") {
		t.Errorf("skips %v", skips)
	}
}

func TestDiffMACChanged(t *testing.T) {
	k := newKernelState(testLink)
	step(t, k, desired([]RemoteNode{nodeB(t)}))
	b := nodeB(t)
	b.MAC = mustMAC(t, "02:00:00:00:00:22")
	p := step(t, k, desired([]RemoteNode{b}))
	if got, want := count(p), [7]int{1, 1, 0, 0, 0, 0, 1}; got != want {
		t.Fatalf("ops = %v, want %v", got, want)
	}
	if o := p.neighSets[0]; o.mac != "02:00:00:00:00:22" || !o.update {
		t.Errorf("neighbour op %+v, want an update to the new MAC", o)
	}
	if o := p.fdbSets[0]; o.mac != "02:00:00:00:00:22" || o.ip != addr("198.18.0.2") {
		t.Errorf("fdb set %+v", o)
	}
	if o := p.fdbDels[0]; o.mac != "02:00:00:00:00:02" {
		t.Errorf("fdb delete %+v, want the old MAC", o)
	}
}

func TestDiffNodeIPChanged(t *testing.T) {
	k := newKernelState(testLink)
	step(t, k, desired([]RemoteNode{nodeB(t)}))
	b := nodeB(t)
	b.NodeIP = addr("198.18.1.2")
	p := step(t, k, desired([]RemoteNode{b}))
	if got, want := count(p), [7]int{0, 1, 0, 0, 0, 0, 1}; got != want {
		t.Fatalf("ops = %v, want %v", got, want)
	}
	if !p.fdbSets[0].update || p.fdbDels[0].ip != addr("198.18.0.2") {
		t.Errorf("fdb ops %+v %+v", p.fdbSets, p.fdbDels)
	}
}

func TestDiffEndpointRoutes(t *testing.T) {
	k := newKernelState(testLink)
	step(t, k, desired([]RemoteNode{nodeB(t), nodeC(t)}))
	ep := EndpointRoute{Dst: pfx("198.18.50.7/32"), Node: "c"}
	p := step(t, k, desired([]RemoteNode{nodeB(t), nodeC(t)}, ep))
	if got, want := count(p), [7]int{0, 0, 1, 0, 0, 0, 0}; got != want {
		t.Fatalf("add: ops = %v, want %v", got, want)
	}
	if p.routeAdds[0] != routeTo("198.18.50.7/32", "198.18.200.3") {
		t.Errorf("route add %+v", p.routeAdds[0])
	}
	// The endpoint moves to node b.
	ep.Node = "b"
	p = step(t, k, desired([]RemoteNode{nodeB(t), nodeC(t)}, ep))
	if got, want := count(p), [7]int{0, 0, 0, 1, 0, 0, 0}; got != want || p.routeReps[0].gw != addr("198.18.200.2") {
		t.Fatalf("move: ops = %v (%+v), want %v", got, p.routeReps, want)
	}
	p = step(t, k, desired([]RemoteNode{nodeB(t), nodeC(t)}))
	if got, want := count(p), [7]int{0, 0, 0, 0, 1, 0, 0}; got != want || p.routeDels[0].dst != ep.Dst {
		t.Fatalf("remove: ops = %v (%+v), want %v", got, p.routeDels, want)
	}
	// An endpoint of an unknown node is skipped, not routed.
	tg, skips := computeTarget(desired([]RemoteNode{nodeB(t)}, EndpointRoute{Dst: pfx("198.18.50.8/32"), Node: "zz"}))
	if _, ok := tg.routes[pfx("198.18.50.8/32")]; ok || len(skips) != 1 {
		t.Errorf("endpoint of unknown node: routes %v skips %v", tg.routes, skips)
	}
}

func TestDiffVXLANNilRemovesEverything(t *testing.T) {
	k := newKernelState(testLink)
	step(t, k, desired([]RemoteNode{nodeB(t), nodeC(t)}, EndpointRoute{Dst: pfx("198.18.50.7/32"), Node: "c"}))
	tg, skips := computeTarget(Desired{Nodes: []RemoteNode{nodeB(t)}})
	if len(tg.routes)+len(tg.neighs)+len(tg.fdb) != 0 || skips != nil {
		t.Fatalf("VXLAN nil: target %+v, skips %v; want empty", tg, skips)
	}
	p := diff(k, tg)
	if got, want := count(p), [7]int{0, 0, 0, 0, 4, 2, 2}; got != want {
		t.Fatalf("ops = %v, want %v", got, want)
	}
	k.apply(p)
	if len(k.routes)+len(k.neighs)+len(k.fdb) != 0 {
		t.Errorf("state left: %+v", k)
	}
}

func TestDiffRepairsKernelRoutes(t *testing.T) {
	k := newKernelState(testLink)
	// Routes of ours the kernel holds: one through another device, one
	// duplicate at another metric, one stale.
	k.putRoute(kernelRoute{dst: pfx("198.18.9.0/26"), gw: addr("198.18.200.2"), linkIndex: 3, onlink: true, table: mainTable})
	k.putRoute(kernelRoute{dst: pfx("198.18.9.64/26"), gw: addr("198.18.200.2"), linkIndex: testLink, onlink: true, table: mainTable})
	k.putRoute(kernelRoute{dst: pfx("198.18.9.64/26"), gw: addr("198.18.200.2"), linkIndex: testLink, onlink: true, table: mainTable, priority: 100})
	k.putRoute(kernelRoute{dst: pfx("198.18.77.0/24"), gw: addr("198.18.200.9"), linkIndex: testLink, onlink: true, table: mainTable})
	p := step(t, k, desired([]RemoteNode{nodeB(t)}))
	if got, want := count(p), [7]int{1, 1, 0, 1, 2, 0, 0}; got != want {
		t.Fatalf("ops = %v, want %v (%+v)", got, want, p)
	}
	if p.routeReps[0] != routeTo("198.18.9.0/26", "198.18.200.2") {
		t.Errorf("replace %+v", p.routeReps[0])
	}
}

func TestComputeTargetSkipsAndNormalises(t *testing.T) {
	b := nodeB(t)
	b.Blocks = []netip.Prefix{pfx("198.18.9.5/26"), pfx("::ffff:198.18.9.128/122")}
	noVTEP := RemoteNode{Name: "novtep", NodeIP: addr("198.18.0.4"), MAC: mustMAC(t, "02:00:00:00:00:04")}
	self := RemoteNode{Name: "self", NodeIP: addr("198.18.0.1"), VTEP: addr("198.18.200.1"), MAC: mustMAC(t, "02:00:00:00:00:01")}
	dupVTEP := nodeC(t)
	dupVTEP.Name, dupVTEP.VTEP = "d", b.VTEP
	dupMAC := nodeC(t)
	dupMAC.Name, dupMAC.MAC = "e", b.MAC
	tg, skips := computeTarget(desired([]RemoteNode{dupMAC, dupVTEP, self, noVTEP, b}))
	want := map[netip.Prefix]via{
		pfx("198.18.9.0/26"):   {gw: addr("198.18.200.2"), node: "b"},
		pfx("198.18.9.128/26"): {gw: addr("198.18.200.2"), node: "b"},
	}
	if !reflect.DeepEqual(tg.routes, want) {
		t.Errorf("routes %v, want %v", tg.routes, want)
	}
	if len(tg.neighs) != 1 || len(tg.fdb) != 1 {
		t.Errorf("neighs %v fdb %v, want node b's only", tg.neighs, tg.fdb)
	}
	var conflicts int
	for _, s := range skips {
		if s.conflict {
			conflicts++
		}
	}
	if len(skips) != 4 || conflicts != 2 {
		t.Errorf("skips %v, want 4 of which 2 conflicts", skips)
	}
}
