package framework

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// rackBIRD is the BIRD 2 configuration of a rack node: it originates its
// "pod block" (a blackhole static; the pod address itself is on lo) to the
// ToR over eBGP and programs what it learns.
const rackBIRD = `router id %[1]s;
protocol device {}
protocol static { ipv4; route %[2]s blackhole; }
protocol kernel { ipv4 { import none; export where source = RTS_BGP; }; }
protocol bgp tor {
  local %[1]s as %[3]d;
  neighbor %[4]s as 65000;
  ipv4 { import all; export where source = RTS_STATIC; };
}
`

// The ToR with two racks and a management network, each rack node a
// BIRD 2 speaker: the ToR's RIB holds both nodes' blocks (learned from
// peers it was not told about: dynamic neighbors), zebra installs them so
// that the racks reach each other's blocks through the ToR, and a rack
// node reaches the management network, masqueraded.
func TestToRRoutesBetweenRacks(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces")
	}
	bird, err := exec.LookPath("bird")
	if err != nil {
		t.Skip("BIRD 2 is not installed (Debian package bird2)")
	}
	if _, err := os.Stat(FRRZebra); err != nil {
		t.Skip("FRR is not installed (Debian package frr)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	mgmt, err := NewUnderlay("mtort-m-")
	if err != nil {
		t.Fatal(err)
	}
	defer mgmt.NS.Delete()
	host, err := mgmt.AddNode("mtort-h-", netip.MustParsePrefix("198.18.240.253/24"))
	if err != nil {
		t.Fatal(err)
	}
	defer host.NS.Delete()
	tor, err := NewToR(ctx, ToRConfig{Name: "tort", ASNumber: 65000, Management: mgmt, ManagementAddr: netip.MustParsePrefix("198.18.240.254/24"),
		Racks: []netip.Prefix{netip.MustParsePrefix("198.18.241.254/24"), netip.MustParsePrefix("198.18.242.254/24")}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if t.Failed() {
			t.Log(tor.Logs(30))
		}
		if err := tor.Close(); err != nil {
			t.Error(err)
		}
	}()
	blocks := []netip.Prefix{netip.MustParsePrefix("198.18.243.0/26"), netip.MustParsePrefix("198.18.243.64/26")}
	var nodes []*Node
	for i, rack := range tor.Racks {
		n, err := rack.Underlay.AddNode(fmt.Sprintf("mtort-n%d-", i+1), rack.NodeIP(0))
		if err != nil {
			t.Fatal(err)
		}
		defer n.NS.Delete()
		nodes = append(nodes, n)
		podIP := blocks[i].Addr().Next()
		for _, args := range [][]string{{"route", "add", "198.18.240.0/24", "via", rack.Gateway.Addr().String()}, {"addr", "add", podIP.String() + "/32", "dev", "lo"}} {
			if err := n.NS.IP(args...); err != nil {
				t.Fatal(err)
			}
		}
		dir := t.TempDir()
		conf := filepath.Join(dir, "bird.conf")
		if err := os.WriteFile(conf, []byte(fmt.Sprintf(rackBIRD, n.IP.Addr(), blocks[i], 64601+i, rack.Gateway.Addr())), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("ip", "netns", "exec", n.NS.Name, bird, "-f", "-c", conf, "-s", filepath.Join(dir, "bird.ctl"), "-P", filepath.Join(dir, "bird.pid"))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			_ = cmd.Wait()
		}()
	}
	if err := Poll(ctx, time.Minute, "the ToR's RIB holds both blocks, zebra installed them", func() (bool, string) {
		rib, err := tor.RIB(ctx)
		if err != nil {
			return false, err.Error()
		}
		routes, _ := tor.NS.IPOutput("route", "show", "proto", "bgp")
		for i, b := range blocks {
			if want := nodes[i].IP.Addr().String(); len(rib[b]) == 0 || rib[b][0] != want || !strings.Contains(routes, b.String()+" nhid") && !strings.Contains(routes, b.String()+" via "+want) {
				return false, fmt.Sprintf("RIB %v; kernel:\n%s", rib, routes)
			}
		}
		return true, ""
	}); err != nil {
		t.Fatal(err)
	}
	ping := func(from *Node, src, dst netip.Addr) error {
		return Poll(ctx, 30*time.Second, fmt.Sprintf("ping %s -> %s", src, dst), func() (bool, string) {
			out, err := exec.Command("ip", "netns", "exec", from.NS.Name, "ping", "-c", "1", "-W", "1", "-I", src.String(), dst.String()).CombinedOutput()
			return err == nil, string(out)
		})
	}
	// Rack 1's block to rack 2's, through the ToR's BGP routes.
	if err := ping(nodes[0], blocks[0].Addr().Next(), blocks[1].Addr().Next()); err != nil {
		t.Fatal(err)
	}
	// A rack node to the management network, which has no route back.
	if err := ping(nodes[1], nodes[1].IP.Addr(), netip.MustParseAddr("198.18.240.253")); err != nil {
		t.Fatal(err)
	}
}
