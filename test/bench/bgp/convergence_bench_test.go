//go:build linux

package bgp

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/meshapi/meshapi/pkg/bgp/peering"
	"github.com/meshapi/meshapi/pkg/bgp/speaker"
)

// torConvergenceConfig is the ToR between a node of cluster A (AS64512)
// and a node of cluster B (AS64513), passing routes on at once.
const torConvergenceConfig = `hostname tor
router bgp 65100
 bgp router-id 198.18.254.1
 no bgp ebgp-requires-policy
 neighbor 198.18.254.2 remote-as 64512
 neighbor 198.18.254.2 advertisement-interval 0
 neighbor 198.18.254.6 remote-as 64513
 neighbor 198.18.254.6 advertisement-interval 0
`

// BenchmarkBlockToRouteViaToR measures convergence across the ToR: node B's
// speaker advertises a new IPAM block, and the time until the route to it
// is in node A's kernel (a netlink route notification in A's namespace) is
// recorded, for 200 blocks one after the other; p50 and p99 are reported
// (target p99 ≤ 1 s). It covers the speakers and the ToR, not the IPAM
// allocation and API watch before them.
func BenchmarkBlockToRouteViaToR(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root for network namespaces")
	}
	if _, err := os.Stat(frrBgpd); err != nil {
		b.Skip("FRR is not installed (Debian package frr)")
	}
	const blocks = 200
	suffix := fmt.Sprint(os.Getpid())
	tor, nodeA, nodeB := "conv-tor-"+suffix, "conv-a-"+suffix, "conv-b-"+suffix
	newNS(b, tor)
	newNS(b, nodeA)
	newNS(b, nodeB)
	veth(b, tor, "to-a", "198.18.254.1/30", nodeA, "eth0", "198.18.254.2/30")
	veth(b, tor, "to-b", "198.18.254.5/30", nodeB, "eth0", "198.18.254.6/30")
	dir := b.TempDir()
	conf := filepath.Join(dir, "bgpd.conf")
	if err := os.WriteFile(conf, []byte(torConvergenceConfig), 0o600); err != nil {
		b.Fatal(err)
	}
	startProcess(b, nil, "ip", "netns", "exec", tor, frrBgpd, "-f", conf, "-i", filepath.Join(dir, "bgpd.pid"),
		"--vty_socket", dir, "-Z", "-S", "-l", "198.18.254.1", "-p", "179", "-u", "root", "-g", "root")
	node := func(addr string, as uint32) peering.Speaker {
		return peering.Speaker{ASNumber: as, RouterID: netip.MustParseAddr(addr), ListenPort: 179,
			Peers: []peering.Peer{{Address: netip.MustParseAddr(map[string]string{"198.18.254.2": "198.18.254.1", "198.18.254.6": "198.18.254.5"}[addr]),
				Port: 179, ASNumber: 65100, Type: peering.GlobalPeer, Source: "tor", BindLocal: true}}}
	}
	cfgA, _ := json.Marshal(node("198.18.254.2", 64512))
	outA := startProcess(b, []string{helperEnv + "=" + string(cfgA)}, "ip", "netns", "exec", nodeA, os.Args[0], "-test.run=^$", "-test.bench=^$")
	if line, err := outA.ReadString('\n'); err != nil || line != "ready\n" {
		b.Fatalf("node A's speaker: %q %v", line, err)
	}
	cfgB, _ := json.Marshal(node("198.18.254.6", 64513))
	cmdB := exec.Command("ip", "netns", "exec", nodeB, os.Args[0], "-test.run=^$", "-test.bench=^$")
	cmdB.Env = append(os.Environ(), helperEnv+"="+string(cfgB))
	cmdB.Stderr = os.Stderr
	stdinB, err := cmdB.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdoutB, err := cmdB.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmdB.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = stdinB.Close(); _ = cmdB.Process.Kill(); _ = cmdB.Wait() })
	readB := newLineReader(stdoutB)
	if line := readB(b); line != "ready" {
		b.Fatalf("node B's speaker: %q", line)
	}

	nsA, err := netns.GetFromName(nodeA)
	if err != nil {
		b.Fatal(err)
	}
	defer nsA.Close()
	updates, done := make(chan netlink.RouteUpdate, 1024), make(chan struct{})
	defer close(done)
	if err := netlink.RouteSubscribeAt(nsA, updates, done); err != nil {
		b.Fatal(err)
	}
	// Wait for both sessions: a first block must reach A.
	wait := func(prefix netip.Prefix, within time.Duration) time.Time {
		deadline := time.After(within)
		for {
			select {
			case u := <-updates:
				if u.Type == unix.RTM_NEWROUTE && u.Protocol == speaker.DefaultRouteProtocol && u.Dst != nil && u.Dst.String() == prefix.String() {
					return time.Now()
				}
			case <-deadline:
				b.Fatalf("no route to %s on node A after %s", prefix, within)
			}
		}
	}
	blockOf := func(i int) netip.Prefix {
		v := uint32(10)<<24 | uint32(192)<<16 | uint32(i)<<6
		return netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), 26)
	}
	fmt.Fprintf(stdinB, "add %s\n", blockOf(0))
	readB(b)
	wait(blockOf(0), 2*time.Minute)

	b.ResetTimer()
	var lat []time.Duration
	for iter := range b.N {
		for i := 1; i <= blocks; i++ {
			p := blockOf(iter*blocks + i)
			start := time.Now()
			fmt.Fprintf(stdinB, "add %s\n", p)
			readB(b)
			lat = append(lat, wait(p, 30*time.Second).Sub(start))
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(lat[len(lat)/2].Seconds()*1000, "p50-ms")
	b.ReportMetric(lat[len(lat)*99/100].Seconds()*1000, "p99-ms")
	b.ReportMetric(lat[len(lat)-1].Seconds()*1000, "max-ms")
}

// newLineReader returns a function reading the next line of r, without
// its newline.
func newLineReader(r io.Reader) func(testing.TB) string {
	br := bufio.NewReader(r)
	return func(tb testing.TB) string {
		tb.Helper()
		line, err := br.ReadString('\n')
		if err != nil {
			tb.Fatalf("reading node B's speaker: %v", err)
		}
		return strings.TrimSuffix(line, "\n")
	}
}
