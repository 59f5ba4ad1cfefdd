//go:build linux

// Package bgp benchmarks meshapi's BGP speaker against BIRD 2 (the speaker
// Calico uses), side by side in one run, both learning the same routes
// from the same FRR top-of-rack router. Every router runs in a network
// namespace the benchmark creates and deletes, on 198.18.253.0/24.
//
//	meshapi  198.18.253.2 AS64512 --- 198.18.253.1 FRR bgpd AS65100 (ToR)
//	BIRD 2   198.18.253.6 AS64513 --- 198.18.253.5 /
package bgp

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/meshapi/meshapi/pkg/bgp/peering"
	"github.com/meshapi/meshapi/pkg/bgp/speaker"
)

const (
	helperEnv = "MESHAPI_BGP_BENCH_SPEAKER"
	frrBgpd   = "/usr/lib/frr/bgpd"
	// birdProtocol is rtm_protocol RTPROT_BIRD, which BIRD 2 tags its
	// kernel routes with.
	birdProtocol = 12
	torAS        = 65100
)

func TestMain(m *testing.M) {
	if cfg := os.Getenv(helperEnv); cfg != "" {
		os.Exit(runSpeaker(cfg))
	}
	os.Exit(m.Run())
}

// runSpeaker runs meshapi's speaker in the current namespace until SIGTERM.
func runSpeaker(cfgJSON string) int {
	var sp peering.Speaker
	if err := json.Unmarshal([]byte(cfgJSON), &sp); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	h, err := netlink.NewHandle()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	s, err := speaker.Start(ctx, speaker.Options{ASNumber: sp.ASNumber, RouterID: sp.RouterID, ListenPort: int32(sp.ListenPort),
		ListenAddresses: []string{sp.RouterID.String()}, Routes: h, Log: logr.Discard()})
	if err == nil {
		err = s.Apply(ctx, sp, nil)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("ready")
	go advertiseFromStdin(ctx, s, sp)
	<-ctx.Done()
	if err := s.Stop(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// advertiseFromStdin reads "add <prefix>" lines and advertises each
// prefix besides the others, answering "ok" once GoBGP has it.
func advertiseFromStdin(ctx context.Context, s *speaker.Speaker, sp peering.Speaker) {
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		p, ok := strings.CutPrefix(in.Text(), "add ")
		prefix, err := netip.ParsePrefix(p)
		if !ok || err != nil {
			fmt.Fprintf(os.Stderr, "bad command %q\n", in.Text())
			continue
		}
		sp.Prefixes = append(sp.Prefixes, prefix)
		if err := s.Apply(ctx, sp, nil); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
		fmt.Println("ok")
	}
}

func run(tb testing.TB, name string, args ...string) string {
	tb.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		tb.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func newNS(tb testing.TB, name string) *netlink.Handle {
	tb.Helper()
	run(tb, "ip", "netns", "add", name)
	tb.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
	run(tb, "ip", "-n", name, "link", "set", "lo", "up")
	ns, err := netns.GetFromName(name)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ns.Close() })
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(h.Close)
	return h
}

func veth(tb testing.TB, a, ifA, addrA, b, ifB, addrB string) {
	tb.Helper()
	run(tb, "ip", "-n", a, "link", "add", ifA, "type", "veth", "peer", "name", ifB, "netns", b)
	run(tb, "ip", "-n", a, "addr", "add", addrA, "dev", ifA)
	run(tb, "ip", "-n", b, "addr", "add", addrB, "dev", ifB)
	run(tb, "ip", "-n", a, "link", "set", ifA, "up")
	run(tb, "ip", "-n", b, "link", "set", ifB, "up")
}

// startProcess starts a command, stopped with SIGTERM when tb ends.
func startProcess(tb testing.TB, env []string, name string, args ...string) *bufio.Reader {
	tb.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	return bufio.NewReader(out)
}

// torConfig is FRR's configuration: n /26 networks out of 10.64.0.0/10
// (the ToR's view of the other cluster's blocks) and the two neighbours,
// shut down until the benchmark opens them.
func torConfig(n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "hostname tor\nrouter bgp %d\n bgp router-id 198.18.253.1\n no bgp ebgp-requires-policy\n no bgp network import-check\n", torAS)
	b.WriteString(" neighbor 198.18.253.2 remote-as 64512\n neighbor 198.18.253.2 shutdown\n")
	b.WriteString(" neighbor 198.18.253.6 remote-as 64513\n neighbor 198.18.253.6 shutdown\n")
	b.WriteString(" address-family ipv4 unicast\n")
	base := netip.MustParseAddr("10.64.0.0").As4()
	for i := range n {
		v := uint32(base[0])<<24 | uint32(base[1])<<16 | uint32(i)<<6
		fmt.Fprintf(&b, "  network %d.%d.%d.%d/26\n", v>>24, v>>16&0xff, v>>8&0xff, v&0xff)
	}
	b.WriteString(" exit-address-family\n")
	return b.String()
}

const birdConfig = `router id 198.18.253.6;
protocol device {}
protocol kernel { ipv4 { import none; export where source = RTS_BGP; }; }
protocol bgp tor {
  local 198.18.253.6 as 64513;
  neighbor 198.18.253.5 as 65100;
  ipv4 { import all; export none; };
}
`

// countRoutes counts the IPv4 routes of a protocol in a namespace.
func countRoutes(tb testing.TB, h *netlink.Handle, proto int) int {
	routes, err := h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Protocol: netlink.RouteProtocol(proto), Table: unix.RT_TABLE_MAIN},
		netlink.RT_FILTER_PROTOCOL|netlink.RT_FILTER_TABLE)
	if err != nil {
		tb.Fatal(err)
	}
	return len(routes)
}

// BenchmarkLearn10000Routes opens the ToR's sessions to meshapi's speaker
// and to BIRD 2 at the same moment and measures, for each, the time until
// its kernel holds all 10,000 routes; then shuts the sessions and waits
// until both kernels are empty again. Reported: meshapi-s, bird-s and
// meshapi/bird (all routes programmed), meshapi-first-s and bird-first-s
// (the first route programmed: the session is up).
func BenchmarkLearn10000Routes(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root for network namespaces")
	}
	bird, err := exec.LookPath("bird")
	if err != nil {
		b.Skip("BIRD 2 is not installed (Debian package bird2)")
	}
	if _, err := os.Stat(frrBgpd); err != nil {
		b.Skip("FRR is not installed (Debian package frr)")
	}
	const n = 10000
	suffix := fmt.Sprint(os.Getpid())
	tor, mesh, birdNS := "bench-tor-"+suffix, "bench-meshapi-"+suffix, "bench-bird-"+suffix
	newNS(b, tor)
	meshRoutes, birdRoutes := newNS(b, mesh), newNS(b, birdNS)
	veth(b, tor, "to-meshapi", "198.18.253.1/30", mesh, "eth0", "198.18.253.2/30")
	veth(b, tor, "to-bird", "198.18.253.5/30", birdNS, "eth0", "198.18.253.6/30")

	dir := b.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			b.Fatal(err)
		}
		return p
	}
	startProcess(b, nil, "ip", "netns", "exec", tor, frrBgpd, "-f", write("bgpd.conf", torConfig(n)), "-i", filepath.Join(dir, "bgpd.pid"),
		"--vty_socket", dir, "-Z", "-S", "-l", "198.18.253.1", "-p", "179", "-u", "root", "-g", "root")
	startProcess(b, nil, "ip", "netns", "exec", birdNS, bird, "-f", "-c", write("bird.conf", birdConfig), "-s", filepath.Join(dir, "bird.ctl"), "-P", filepath.Join(dir, "bird.pid"))
	cfg, _ := json.Marshal(peering.Speaker{ASNumber: 64512, RouterID: netip.MustParseAddr("198.18.253.2"), ListenPort: 179,
		Peers: []peering.Peer{{Address: netip.MustParseAddr("198.18.253.1"), Port: 179, ASNumber: torAS, Type: peering.GlobalPeer, Source: "tor", BindLocal: true}}})
	ready := startProcess(b, []string{helperEnv + "=" + string(cfg)}, "ip", "netns", "exec", mesh, os.Args[0], "-test.run=^$", "-test.bench=^$")
	if line, err := ready.ReadString('\n'); err != nil || line != "ready\n" {
		b.Fatalf("meshapi's speaker did not start: %q %v", line, err)
	}
	vtysh := func(cmds ...string) {
		args := []string{"--vty_socket", dir}
		for _, c := range append([]string{"configure terminal", fmt.Sprintf("router bgp %d", torAS)}, cmds...) {
			args = append(args, "-c", c)
		}
		run(b, "vtysh", args...)
	}
	time.Sleep(2 * time.Second) // FRR reads its 10,000 networks

	var meshTotal, birdTotal, meshFirst, birdFirst time.Duration
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		vtysh("no neighbor 198.18.253.2 shutdown", "no neighbor 198.18.253.6 shutdown")
		var meshDone, birdDone, meshStart, birdStart time.Duration
		for meshDone == 0 || birdDone == 0 {
			if time.Since(start) > 5*time.Minute {
				b.Fatalf("after 5 minutes: meshapi %d routes, BIRD %d routes, of %d", countRoutes(b, meshRoutes, int(speaker.DefaultRouteProtocol)), countRoutes(b, birdRoutes, birdProtocol), n)
			}
			if c := countRoutes(b, meshRoutes, int(speaker.DefaultRouteProtocol)); meshDone == 0 && c > 0 {
				if meshStart == 0 {
					meshStart = time.Since(start)
				}
				if c == n {
					meshDone = time.Since(start)
				}
			}
			if c := countRoutes(b, birdRoutes, birdProtocol); birdDone == 0 && c > 0 {
				if birdStart == 0 {
					birdStart = time.Since(start)
				}
				if c == n {
					birdDone = time.Since(start)
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
		meshTotal += meshDone
		birdTotal += birdDone
		meshFirst += meshStart
		birdFirst += birdStart
		b.StopTimer()
		vtysh("neighbor 198.18.253.2 shutdown", "neighbor 198.18.253.6 shutdown")
		for countRoutes(b, meshRoutes, int(speaker.DefaultRouteProtocol)) != 0 || countRoutes(b, birdRoutes, birdProtocol) != 0 {
			time.Sleep(50 * time.Millisecond)
		}
		b.StartTimer()
	}
	b.ReportMetric(meshTotal.Seconds()/float64(b.N), "meshapi-s")
	b.ReportMetric(birdTotal.Seconds()/float64(b.N), "bird-s")
	b.ReportMetric(float64(meshTotal)/float64(birdTotal), "meshapi/bird")
	b.ReportMetric(meshFirst.Seconds()/float64(b.N), "meshapi-first-s")
	b.ReportMetric(birdFirst.Seconds()/float64(b.N), "bird-first-s")
}
