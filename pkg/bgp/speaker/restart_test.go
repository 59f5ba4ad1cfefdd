//go:build linux

package speaker

import (
	"fmt"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/meshapi/meshapi/pkg/bgp/peering"
)

// A peer that dies without a word (SIGKILL: no NOTIFICATION, as in a crash
// or a restart of its agent) is restarting gracefully as far as BGP knows:
// its routes stay programmed for its maxRestartTime, then go. Without
// graceful restart (a restart time of 0) they go at once.
func TestGracefulRestartKeepsRoutesForMaxRestartTime(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces")
	}
	for i, restart := range []time.Duration{4 * time.Second, 0} {
		t.Run(fmt.Sprintf("maxRestartTime %s", restart), func(t *testing.T) { testPeerDeath(t, i, restart) })
	}
}

func testPeerDeath(t *testing.T, i int, restart time.Duration) {
	suffix := fmt.Sprintf("%d-%d", os.Getpid(), i)
	nsA, nsB := "bgp-gr-a-"+suffix, "bgp-gr-b-"+suffix
	newNS(t, nsA)
	newNS(t, nsB)
	veth(t, nsA, nsB, "198.18.249.1/24", "198.18.249.2/24")
	a, b := netip.MustParseAddr("198.18.249.1"), netip.MustParseAddr("198.18.249.2")
	peer := func(addr netip.Addr) peering.Peer {
		return peering.Peer{Address: addr, Port: 179, ASNumber: 64512, Type: peering.NodeMesh, Source: "other", BindLocal: true, MaxRestartTime: restart}
	}
	startHelper(t, nsA, peering.Speaker{ASNumber: 64512, RouterID: a, ListenPort: 179, Peers: []peering.Peer{peer(b)}})
	helperB := startHelper(t, nsB, peering.Speaker{ASNumber: 64512, RouterID: b, ListenPort: 179, Peers: []peering.Peer{peer(a)},
		Prefixes: []netip.Prefix{netip.MustParsePrefix("198.19.249.0/26")}})
	want := []string{"198.19.249.0/26 via 198.18.249.2 dev eth0 metric 1024"}
	waitRoutes(t, nsA, want, 30*time.Second)

	if err := helperB.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	_ = helperB.cmd.Wait()
	// Kept while the restart time runs...
	for time.Since(killed) < restart-time.Second {
		waitRoutes(t, nsA, want, 0)
		time.Sleep(200 * time.Millisecond)
	}
	// ...and removed once it has passed.
	waitRoutes(t, nsA, nil, restart+2*time.Second)
	if gone := time.Since(killed); gone < restart-time.Second {
		t.Errorf("route removed %s after the peer died, before its restart time %s", gone, restart)
	}
}

// A restarted speaker (an agent restart: the old one was killed) finds the
// routes of its protocol the old one left: they keep forwarding while the
// session comes back, the one its peer advertises again stays, the other
// goes once StaleRoutesTime has passed. Routes of another protocol, or
// of the same protocol with another metric, are never touched.
func TestRestartedSpeakerExpiresStaleRoutes(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces")
	}
	const staleTime = 3 * time.Second
	suffix := fmt.Sprint(os.Getpid())
	nsA, nsB := "bgp-st-a-"+suffix, "bgp-st-b-"+suffix
	newNS(t, nsA)
	newNS(t, nsB)
	veth(t, nsA, nsB, "198.18.248.1/24", "198.18.248.2/24")
	a, b := netip.MustParseAddr("198.18.248.1"), netip.MustParseAddr("198.18.248.2")
	// What the killed speaker left, and what is not the speaker's.
	run(t, "ip", "-n", nsA, "route", "add", "198.19.248.0/26", "via", "198.18.248.2", "proto", "84", "metric", "1024")
	run(t, "ip", "-n", nsA, "route", "add", "198.19.248.64/26", "via", "198.18.248.2", "proto", "84", "metric", "1024")
	run(t, "ip", "-n", nsA, "route", "add", "198.19.248.128/26", "via", "198.18.248.2", "proto", "84", "metric", "7")
	run(t, "ip", "-n", nsA, "route", "add", "198.19.248.192/26", "via", "198.18.248.2", "proto", "static")

	peer := func(addr netip.Addr) peering.Peer {
		return peering.Peer{Address: addr, Port: 179, ASNumber: 64512, Type: peering.NodeMesh, Source: "other", BindLocal: true}
	}
	startHelper(t, nsB, peering.Speaker{ASNumber: 64512, RouterID: b, ListenPort: 179, Peers: []peering.Peer{peer(a)},
		Prefixes: []netip.Prefix{netip.MustParsePrefix("198.19.248.0/26")}})
	started := time.Now()
	startHelperWith(t, nsA, helperConfig{StaleRoutesTime: staleTime,
		Speaker: peering.Speaker{ASNumber: 64512, RouterID: a, ListenPort: 179, Peers: []peering.Peer{peer(b)}}})

	all := []string{
		"198.19.248.0/26 via 198.18.248.2 dev eth0 metric 1024",
		"198.19.248.64/26 via 198.18.248.2 dev eth0 metric 1024",
		"198.19.248.128/26 via 198.18.248.2 dev eth0 metric 7",
	}
	for time.Since(started) < staleTime-time.Second {
		waitRoutes(t, nsA, all, 0)
		time.Sleep(200 * time.Millisecond)
	}
	waitRoutes(t, nsA, []string{all[0], all[2]}, staleTime+5*time.Second)
	if out := run(t, "ip", "-n", nsA, "route", "show", "198.19.248.192/26"); !strings.Contains(out, "proto static") {
		t.Errorf("the static route was touched: %q", out)
	}
}
