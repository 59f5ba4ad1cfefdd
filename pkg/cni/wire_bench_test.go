//go:build linux

package cni_test

import (
	"fmt"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"

	"github.com/meshapi/meshapi/pkg/cni"
	"github.com/meshapi/meshapi/pkg/cni/cnitest"
	"github.com/meshapi/meshapi/test/bench/cputime"
)

// BenchmarkWiringSetup is the plugin's netlink and sysctl work for one
// ADD (Wiring.Setup) without its process start or the IPAM call: it
// wires b.N pods, each in a namespace of its own made beforehand, from
// a node namespace of its own. cpu-ms/op is the process's user+system
// CPU (the kernel's work for the calls included) per Setup:
//
//	go test ./pkg/cni/ -run '^$' -bench WiringSetup -benchtime 300x
func BenchmarkWiringSetup(b *testing.B) {
	nodeNS, wirings := benchWirings(b)
	b.ResetTimer()
	cpu := inNode(b, nodeNS, wirings, cni.Wiring.Setup)
	b.StopTimer()
	b.ReportMetric(float64(cpu)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
}

// BenchmarkWiringTeardown is the plugin's netlink work for one DEL
// (Wiring.Teardown) on a node with b.N pods: it wires b.N pods as
// BenchmarkWiringSetup does, untimed, then takes their interfaces down
// one after the other. The kernel's work for a veth that goes grows
// with what the node's routing tables hold, so cpu-ms/op depends on b.N:
//
//	go test ./pkg/cni/ -run '^$' -bench WiringTeardown -benchtime 300x
func BenchmarkWiringTeardown(b *testing.B) {
	nodeNS, wirings := benchWirings(b)
	inNode(b, nodeNS, wirings, cni.Wiring.Setup)
	b.ResetTimer()
	cpu := inNode(b, nodeNS, wirings, func(w cni.Wiring) (*cni.Links, error) { return nil, w.Teardown() })
	b.StopTimer()
	b.ReportMetric(float64(cpu)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
}

// benchWirings makes a node namespace and b.N pod namespaces, and the
// Wiring of each pod.
func benchWirings(b *testing.B) (ns.NetNS, []cni.Wiring) {
	b.Helper()
	if os.Geteuid() != 0 {
		b.Skip("needs root for network namespaces")
	}
	pfx := fmt.Sprintf("mcw%d", os.Getpid())
	nodeNS, err := ns.GetNS(cnitest.Netns(b, pfx+"-node"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { nodeNS.Close() })
	wirings := make([]cni.Wiring, b.N)
	for i := range wirings {
		wirings[i] = cni.Wiring{
			Netns:  cnitest.Netns(b, fmt.Sprintf("%s-p%d", pfx, i)),
			IfName: "eth0",
			HostIf: fmt.Sprintf("cali%011d", i),
			Addrs:  []netip.Addr{netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)})},
			MTU:    1450,
		}
	}
	return nodeNS, wirings
}

// inNode calls step on every wiring from inside nodeNS and returns the
// process's CPU time the calls took.
func inNode(b *testing.B, nodeNS ns.NetNS, wirings []cni.Wiring, step func(cni.Wiring) (*cni.Links, error)) time.Duration {
	b.Helper()
	var cpu time.Duration
	err := nodeNS.Do(func(ns.NetNS) error {
		c0 := cputime.MustSelf(b)
		for i := range wirings {
			if _, err := step(wirings[i]); err != nil {
				return fmt.Errorf("pod %d: %w", i, err)
			}
		}
		cpu = cputime.MustSelf(b) - c0
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return cpu
}
