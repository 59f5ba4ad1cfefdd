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
	if os.Geteuid() != 0 {
		b.Skip("needs root for network namespaces")
	}
	pfx := fmt.Sprintf("mcw%d", os.Getpid())
	nodeNS, err := ns.GetNS(cnitest.Netns(b, pfx+"-node"))
	if err != nil {
		b.Fatal(err)
	}
	defer nodeNS.Close()
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
	b.ResetTimer()
	var cpu time.Duration
	err = nodeNS.Do(func(ns.NetNS) error {
		c0 := cputime.MustSelf(b)
		for i := range wirings {
			if _, err := wirings[i].Setup(); err != nil {
				return fmt.Errorf("pod %d: %w", i, err)
			}
		}
		cpu = cputime.MustSelf(b) - c0
		return nil
	})
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(cpu)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
}
