//go:build linux

package speaker

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/vishvananda/netlink"

	"github.com/meshapi/meshapi/pkg/bgp/peering"
)

// These tests run two real BGP speakers, each in a network namespace the
// test creates (and deletes) and joined by a veth pair on 198.18.250.0/24:
// the test binary re-executed with `ip netns exec` as a helper process, so
// that every socket GoBGP opens is in its node's namespace.
//
//	node-a 198.18.250.1 AS64512  advertises 198.19.250.0/26
//	node-b 198.18.250.2 AS64512  advertises 198.19.250.64/26 and 198.19.251.0/24

const helperEnv = "MESHAPI_BGP_SPEAKER_HELPER"

// helperConfig is what a helper process runs.
type helperConfig struct {
	Speaker peering.Speaker
	// StaleRoutesTime is Options.StaleRoutesTime.
	StaleRoutesTime time.Duration
}

func TestMain(m *testing.M) {
	if cfg := os.Getenv(helperEnv); cfg != "" {
		os.Exit(runHelper(cfg))
	}
	os.Exit(m.Run())
}

// runHelper runs a speaker in the current namespace until SIGTERM.
func runHelper(cfgJSON string) int {
	var cfg helperConfig
	if err := json.Unmarshal([]byte(cfgJSON), &cfg); err != nil {
		fmt.Fprintln(os.Stderr, "helper config:", err)
		return 2
	}
	h, err := netlink.NewHandle()
	if err != nil {
		fmt.Fprintln(os.Stderr, "netlink:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	sp, err := Start(ctx, Options{
		ASNumber: cfg.Speaker.ASNumber, RouterID: cfg.Speaker.RouterID, ListenPort: int32(cfg.Speaker.ListenPort),
		ListenAddresses: []string{cfg.Speaker.RouterID.String()}, Routes: h, Log: logr.Discard(), StaleRoutesTime: cfg.StaleRoutesTime,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := sp.Apply(ctx, cfg.Speaker, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("ready")
	reportSessions(ctx, sp)
	if err := sp.Stop(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "stop:", err)
		return 1
	}
	return 0
}

// reportSessions prints "sessions <JSON>" whenever the sessions' states or
// prefix counts change, until ctx ends.
func reportSessions(ctx context.Context, sp *Speaker) {
	last := ""
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
		sessions, err := sp.Sessions(ctx)
		if err != nil {
			continue
		}
		for i := range sessions {
			sessions[i].Since = time.Time{}
		}
		b, _ := json.Marshal(sessions)
		if string(b) != last {
			fmt.Printf("sessions %s\n", b)
			last = string(b)
		}
	}
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// newNS creates a namespace, deleted when t ends.
func newNS(t *testing.T, name string) {
	t.Helper()
	run(t, "ip", "netns", "add", name)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("deleting namespace %s: %v\n%s", name, err, out)
		}
	})
	run(t, "ip", "-n", name, "link", "set", "lo", "up")
}

// startHelper runs a speaker in ns; it is stopped (SIGTERM) when t ends
// unless the test stopped it first.
func startHelper(t *testing.T, ns string, sp peering.Speaker) *helper {
	t.Helper()
	return startHelperWith(t, ns, helperConfig{Speaker: sp})
}

// startHelperWith is startHelper with the whole configuration.
func startHelperWith(t *testing.T, ns string, hc helperConfig) *helper {
	t.Helper()
	cfg, err := json.Marshal(hc)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", ns, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+string(cfg))
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			_ = cmd.Wait()
		}
	})
	h := &helper{cmd: cmd, sessions: make(chan []Session, 100)}
	ready := make(chan bool, 1)
	go func() {
		defer close(h.sessions)
		scanner := bufio.NewScanner(stdout)
		scanner.Buffer(nil, 1<<20)
		for scanner.Scan() {
			line := scanner.Text()
			if line == "ready" {
				ready <- true
				continue
			}
			var sessions []Session
			if js, ok := strings.CutPrefix(line, "sessions "); ok && json.Unmarshal([]byte(js), &sessions) == nil {
				h.sessions <- sessions
			}
		}
		ready <- false
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatalf("speaker in %s exited before it was ready", ns)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("speaker in %s not ready after 30s", ns)
	}
	return h
}

// helper is a speaker running in a namespace.
type helper struct {
	cmd *exec.Cmd
	// sessions receives the speaker's sessions whenever they change.
	sessions chan []Session
}

// waitSessions waits until the helper reports sessions that ok accepts.
func (h *helper) waitSessions(t *testing.T, within time.Duration, ok func([]Session) bool) []Session {
	t.Helper()
	timeout := time.After(within)
	var last []Session
	for {
		select {
		case s, open := <-h.sessions:
			if !open {
				t.Fatalf("speaker exited; last sessions %+v", last)
			}
			if last = s; ok(s) {
				return s
			}
		case <-timeout:
			t.Fatalf("sessions not as wanted after %s; last %+v", within, last)
		}
	}
}

// bgpRoutes lists the routes with the speaker's protocol in ns.
func bgpRoutes(t *testing.T, ns string) string {
	t.Helper()
	return run(t, "ip", "-n", ns, "-4", "route", "show", "proto", fmt.Sprint(int(DefaultRouteProtocol)))
}

// waitRoutes waits until the speaker's routes in ns are exactly want.
func waitRoutes(t *testing.T, ns string, want []string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := strings.TrimSpace(bgpRoutes(t, ns))
		var lines []string
		for _, l := range strings.Split(got, "\n") {
			if l = strings.Join(strings.Fields(l), " "); l != "" {
				lines = append(lines, l)
			}
		}
		if strings.Join(lines, "\n") == strings.Join(want, "\n") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("routes of proto %d in %s:\n%s\nwant:\n%s", DefaultRouteProtocol, ns, got, strings.Join(want, "\n"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Two speakers in two namespaces: the session comes up, each programs the
// other's prefixes with its own protocol and metric and touches no other
// route (an overlay route of the dataplane to the same block keeps
// winning); when one stops, the other removes the routes it learned.
func TestTwoSpeakersExchangeRoutes(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces")
	}
	suffix := fmt.Sprintf("%d", os.Getpid())
	nsA, nsB := "bgp-a-"+suffix, "bgp-b-"+suffix
	newNS(t, nsA)
	newNS(t, nsB)
	run(t, "ip", "-n", nsA, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", nsB)
	run(t, "ip", "-n", nsA, "addr", "add", "198.18.250.1/24", "dev", "eth0")
	run(t, "ip", "-n", nsB, "addr", "add", "198.18.250.2/24", "dev", "eth0")
	run(t, "ip", "-n", nsA, "link", "set", "eth0", "up")
	run(t, "ip", "-n", nsB, "link", "set", "eth0", "up")
	// A static route of someone else's to a prefix B advertises: the
	// speaker adds its own beside it (another metric) and leaves it alone.
	run(t, "ip", "-n", nsA, "route", "add", "198.19.251.0/24", "via", "198.18.250.2", "proto", "static")
	// The dataplane's overlay route (protocol 82, metric 0) to a block B
	// also advertises, as for a remote cluster with overlay routing
	// Enabled: it must keep winning over the route BGP learns.
	run(t, "ip", "-n", nsA, "route", "add", "198.19.250.64/26", "dev", "eth0", "proto", "82")

	a, b := netip.MustParseAddr("198.18.250.1"), netip.MustParseAddr("198.18.250.2")
	peer := func(addr netip.Addr, from string) peering.Peer {
		return peering.Peer{Address: addr, Port: 179, ASNumber: 64512, Type: peering.NodeMesh, Source: from, BindLocal: true}
	}
	helperA := startHelper(t, nsA, peering.Speaker{ASNumber: 64512, RouterID: a, ListenPort: 179,
		Peers: []peering.Peer{peer(b, "node-b")}, Prefixes: []netip.Prefix{netip.MustParsePrefix("198.19.250.0/26")}})
	helperB := startHelper(t, nsB, peering.Speaker{ASNumber: 64512, RouterID: b, ListenPort: 179,
		Peers:    []peering.Peer{peer(a, "node-a")},
		Prefixes: []netip.Prefix{netip.MustParsePrefix("198.19.250.64/26"), netip.MustParsePrefix("198.19.251.0/24")}})

	waitRoutes(t, nsA, []string{
		"198.19.250.64/26 via 198.18.250.2 dev eth0 metric 1024",
		"198.19.251.0/24 via 198.18.250.2 dev eth0 metric 1024",
	}, 30*time.Second)
	waitRoutes(t, nsB, []string{"198.19.250.0/26 via 198.18.250.1 dev eth0 metric 1024"}, 10*time.Second)
	if out := run(t, "ip", "-n", nsA, "route", "get", "198.19.250.65"); strings.Contains(out, "via") {
		t.Errorf("the BGP route shadows the overlay route (protocol 82, metric 0): %s", out)
	}
	helperA.waitSessions(t, 10*time.Second, func(s []Session) bool {
		return len(s) == 1 && s[0].Peer.Address == b && s[0].State == "Established" && s[0].Received == 2 && s[0].Advertised == 1
	})

	if err := helperB.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := helperB.cmd.Wait(); err != nil {
		t.Fatalf("speaker B: %v", err)
	}
	waitRoutes(t, nsB, nil, time.Second)
	waitRoutes(t, nsA, nil, 10*time.Second)
	helperA.waitSessions(t, 10*time.Second, func(s []Session) bool { return len(s) == 1 && s[0].State != "Established" })
	if out := run(t, "ip", "-n", nsA, "route", "show", "198.19.251.0/24", "proto", "static"); !strings.Contains(out, "198.19.251.0/24 via 198.18.250.2") {
		t.Errorf("the static route was touched:\n%s", out)
	}
	if out := run(t, "ip", "-n", nsA, "route", "show", "198.19.250.64/26", "proto", "82"); !strings.Contains(out, "198.19.250.64/26 dev eth0") {
		t.Errorf("the overlay route was touched:\n%s", out)
	}
}
