//go:build linux

// Package agent benchmarks the node agent's dataplane: the time
// pkg/dataplane takes to program 10,000 remote IPAM blocks and 10,000 /32
// endpoint routes over VXLAN into a fresh network namespace, against
// `ip -batch` of the same routes as the reference:
//
//	go test -run '^$' -bench . -benchtime 3x -timeout 30m ./test/bench/agent/
//
// Needs root; every change happens in network namespaces the benchmark
// creates and deletes, with addresses in 198.18.0.0/15. The results are in
// BENCHMARKS.md.
package agent

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/meshapi/meshapi/pkg/dataplane"
)

const (
	remoteNodes   = 100
	blocksPerNode = 100 // 10,000 /29 blocks
	endpoints     = 10000
)

var parentIP = netip.MustParseAddr("198.19.255.1")

// desired is 100 remote nodes with 100 /29 blocks each (198.18.0.0 up),
// and 10,000 /32 endpoints (198.19.128.0 up) spread over them.
func desired() dataplane.Desired {
	d := dataplane.Desired{VXLAN: &dataplane.VXLANConfig{LocalVTEP: netip.MustParseAddr("198.19.254.250"), ParentIP: parentIP}}
	base := netip.MustParseAddr("198.18.0.0").As4()
	start := uint32(base[0])<<24 | uint32(base[1])<<16
	addr := func(v uint32) netip.Addr {
		return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
	}
	for k := 0; k < remoteNodes; k++ {
		n := dataplane.RemoteNode{
			Name:   fmt.Sprintf("cluster-b/node-%d", k),
			NodeIP: netip.AddrFrom4([4]byte{198, 19, 255, byte(10 + k)}),
			VTEP:   netip.AddrFrom4([4]byte{198, 19, 254, byte(k)}),
			MAC:    net.HardwareAddr{0x66, 0, 0, 0, 0, byte(k)},
		}
		for i := 0; i < blocksPerNode; i++ {
			idx := uint32(k*blocksPerNode + i)
			n.Blocks = append(n.Blocks, netip.PrefixFrom(addr(start+idx*8), 29))
		}
		d.Nodes = append(d.Nodes, n)
	}
	epStart := uint32(198)<<24 | uint32(19)<<16 | uint32(128)<<8
	for j := 0; j < endpoints; j++ {
		d.Endpoints = append(d.Endpoints, dataplane.EndpointRoute{Dst: netip.PrefixFrom(addr(epStart+uint32(j)), 32), Node: d.Nodes[j%remoteNodes].Name})
	}
	return d
}

func run(b *testing.B, name string, args ...string) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, name, args...).CombinedOutput(); err != nil {
		b.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// newNS creates a namespace with an underlay link (a veth) holding parentIP.
func newNS(b *testing.B) (string, *netlink.Handle) {
	b.Helper()
	r := make([]byte, 3)
	_, _ = rand.Read(r)
	name := "mbench-" + hex.EncodeToString(r)
	run(b, "ip", "netns", "add", name)
	b.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
	run(b, "ip", "-n", name, "link", "add", "eth0", "type", "veth", "peer", "name", "eth1") // no dummy module here
	run(b, "ip", "-n", name, "addr", "add", parentIP.String()+"/24", "dev", "eth0")
	run(b, "ip", "-n", name, "link", "set", "eth0", "up")
	ns, err := netns.GetFromName(name)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ns.Close() })
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(h.Close)
	return name, h
}

// BenchmarkDataplaneApply programs the whole desired state into a fresh
// namespace (device, 100 neighbours, 100 FDB entries, 20,000 routes), then
// measures a no-op Apply, moving one block, and removing every route.
func BenchmarkDataplaneApply(b *testing.B) {
	want := desired()
	var full, noop, move, clear time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		_, h := newNS(b)
		dp := dataplane.New(h, dataplane.Options{})
		ctx := context.Background()
		b.StartTimer()

		st, err := dp.Apply(ctx, want)
		if err != nil || st.RoutesAdded != remoteNodes*blocksPerNode+endpoints {
			b.Fatalf("apply: %+v %v", st, err)
		}
		full += st.Duration
		st, err = dp.Apply(ctx, want)
		if err != nil || st.Changes() != 0 {
			b.Fatalf("no-op apply: %+v %v", st, err)
		}
		noop += st.Duration
		moved := desired()
		moved.Nodes[1].Blocks = append(moved.Nodes[1].Blocks, moved.Nodes[0].Blocks[0])
		moved.Nodes[0].Blocks = moved.Nodes[0].Blocks[1:]
		st, err = dp.Apply(ctx, moved)
		if err != nil || st.RoutesUpdated != 1 {
			b.Fatalf("move: %+v %v", st, err)
		}
		move += st.Duration
		st, err = dp.Apply(ctx, dataplane.Desired{VXLAN: want.VXLAN})
		if err != nil || st.RoutesRemoved != remoteNodes*blocksPerNode+endpoints {
			b.Fatalf("clear: %+v %v", st, err)
		}
		clear += st.Duration
	}
	n := float64(b.N)
	b.ReportMetric(float64(full.Milliseconds())/n, "ms/program-20k-routes")
	b.ReportMetric(float64(noop.Microseconds())/n/1000, "ms/noop-apply")
	b.ReportMetric(float64(move.Microseconds())/n/1000, "ms/move-one-block")
	b.ReportMetric(float64(clear.Milliseconds())/n, "ms/remove-20k-routes")
}

// BenchmarkIPBatch is the reference: the same 20,000 routes with
// `ip -batch` into a namespace where the device, neighbours and FDB
// entries already exist (set up untimed), then deleted the same way.
func BenchmarkIPBatch(b *testing.B) {
	want := desired()
	dir := b.TempDir()
	add, del := filepath.Join(dir, "add"), filepath.Join(dir, "del")
	var addLines, delLines strings.Builder
	vtep := map[string]netip.Addr{}
	for _, n := range want.Nodes {
		vtep[n.Name] = n.VTEP
		for _, blk := range n.Blocks {
			fmt.Fprintf(&addLines, "route add %s via %s dev vxlan.calico onlink proto 82\n", blk, n.VTEP)
			fmt.Fprintf(&delLines, "route del %s proto 82\n", blk)
		}
	}
	for _, e := range want.Endpoints {
		fmt.Fprintf(&addLines, "route add %s via %s dev vxlan.calico onlink proto 82\n", e.Dst, vtep[e.Node])
		fmt.Fprintf(&delLines, "route del %s proto 82\n", e.Dst)
	}
	if err := os.WriteFile(add, []byte(addLines.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(del, []byte(delLines.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	var addT, delT time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		name, _ := newNS(b)
		run(b, "ip", "-n", name, "link", "add", "vxlan.calico", "type", "vxlan", "id", "4096", "dstport", "4789", "local", parentIP.String(), "dev", "eth0", "nolearning")
		run(b, "ip", "-n", name, "link", "set", "vxlan.calico", "up")
		for _, n := range want.Nodes {
			run(b, "ip", "-n", name, "neigh", "add", n.VTEP.String(), "lladdr", n.MAC.String(), "dev", "vxlan.calico", "nud", "permanent")
			run(b, "ip", "netns", "exec", name, "bridge", "fdb", "add", n.MAC.String(), "dev", "vxlan.calico", "dst", n.NodeIP.String())
		}
		b.StartTimer()
		t0 := time.Now()
		run(b, "ip", "-n", name, "-batch", add)
		addT += time.Since(t0)
		t0 = time.Now()
		run(b, "ip", "-n", name, "-batch", del)
		delT += time.Since(t0)
	}
	n := float64(b.N)
	b.ReportMetric(float64(addT.Milliseconds())/n, "ms/add-20k-routes")
	b.ReportMetric(float64(delT.Milliseconds())/n, "ms/remove-20k-routes")
}
