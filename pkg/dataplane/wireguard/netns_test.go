//go:build linux

package wireguard

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/meshapi/meshapi/pkg/dataplane"
	"github.com/meshapi/meshapi/pkg/dataplane/internal/netnstest"
)

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
	return &testNS{name: n.Name, ns: n.Handle, h: n.Netlink}
}

type testNS struct {
	name string
	ns   netns.NsHandle
	h    *netlink.Handle
}

func (n *testNS) ip(tb testing.TB, args ...string) string {
	tb.Helper()
	return run(tb, "ip", append([]string{"-n", n.name}, args...)...)
}

func (n *testNS) exec(tb testing.TB, args ...string) string {
	tb.Helper()
	return run(tb, "ip", append([]string{"netns", "exec", n.name}, args...)...)
}

type node struct {
	*testNS
	idx    int
	nodeIP netip.Addr   // underlay
	pod    netip.Addr   // the pod0 address
	pods   netip.Prefix // the node's "block"
	wgIP   netip.Addr
	vtep   netip.Addr
	key    wgtypes.Key
}

// buildNodes creates the underlay and n nodes on it, with an nftables
// counter of WireGuard and VXLAN packets arriving on each node's ul0.
func buildNodes(tb testing.TB, n int) []*node {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("needs root to create network namespaces (CI runs as root)")
	}
	for _, tool := range []string{"ip", "ping", "nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			tb.Skipf("%s is needed: %v", tool, err)
		}
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		tb.Skipf("userspace WireGuard needs /dev/net/tun: %v", err)
	}
	var rnd [3]byte
	_, _ = rand.Read(rnd[:])
	prefix := "meshapi-wg-" + hex.EncodeToString(rnd[:]) + "-"
	ul := newTestNS(tb, prefix+"ul")
	ul.ip(tb, "link", "add", "br0", "type", "bridge")
	ul.ip(tb, "link", "set", "br0", "up")
	var nodes []*node
	for i := 1; i <= n; i++ {
		nd := &node{
			testNS: newTestNS(tb, fmt.Sprintf("%sn%d", prefix, i)),
			idx:    i,
			nodeIP: netip.AddrFrom4([4]byte{198, 18, 0, byte(i)}),
			pod:    netip.AddrFrom4([4]byte{198, 18, byte(7 + i), 10}),
			pods:   netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18, byte(7 + i), 0}), 24),
			wgIP:   netip.AddrFrom4([4]byte{198, 18, 100, byte(i)}),
			vtep:   netip.AddrFrom4([4]byte{198, 18, 200, byte(i)}),
		}
		port := fmt.Sprintf("p%d", i)
		ul.ip(tb, "link", "add", port, "type", "veth", "peer", "name", "ul0", "netns", nd.name)
		ul.ip(tb, "link", "set", port, "master", "br0", "up")
		nd.ip(tb, "addr", "add", nd.nodeIP.String()+"/24", "dev", "ul0")
		nd.ip(tb, "link", "set", "ul0", "up")
		nd.ip(tb, "addr", "add", nd.pod.String()+"/32", "dev", "lo")
		nd.exec(tb, "nft", "add", "table", "inet", "meshapi_wg_test")
		nd.exec(tb, "nft", "add", "chain", "inet", "meshapi_wg_test", "in", "{ type filter hook input priority 0; policy accept; }")
		for _, p := range []string{strconv.Itoa(DefaultListenPort), strconv.Itoa(dataplane.DefaultPort)} {
			nd.exec(tb, "nft", "add", "rule", "inet", "meshapi_wg_test", "in", "iifname", "ul0", "udp", "dport", p, "counter")
		}
		key, _, err := LoadOrCreatePrivateKey(filepath.Join(tb.TempDir(), "wireguard.key"))
		if err != nil {
			tb.Fatal(err)
		}
		nd.key = key
		nodes = append(nodes, nd)
	}
	return nodes
}

var counterRE = regexp.MustCompile(`udp dport (\d+) counter packets (\d+)`)

// counters reads the node's underlay counters: UDP packets received on
// ul0 by destination port.
func (n *node) counters(tb testing.TB) map[int]int {
	tb.Helper()
	out := n.exec(tb, "nft", "list", "chain", "inet", "meshapi_wg_test", "in")
	got := map[int]int{}
	for _, m := range counterRE.FindAllStringSubmatch(out, -1) {
		port, _ := strconv.Atoi(m[1])
		pkts, _ := strconv.Atoi(m[2])
		got[port] = pkts
	}
	return got
}

// ping sends count pings from n's pod address to dst and tells whether
// one was answered.
func (n *node) ping(tb testing.TB, dst netip.Addr, count int) (bool, string) {
	tb.Helper()
	out, err := tryRun("ip", "netns", "exec", n.name, "ping", "-n", "-q", "-c", strconv.Itoa(count), "-W", "1", "-I", n.pod.String(), dst.String())
	return err == nil, out
}

// pingEventually pings until a reply comes (a handshake may be under way),
// at most tries times.
func (n *node) pingEventually(tb testing.TB, dst netip.Addr, tries int) {
	tb.Helper()
	var out string
	for range tries {
		var ok bool
		if ok, out = n.ping(tb, dst, 1); ok {
			return
		}
	}
	tb.Fatalf("%s: no reply from %s in %d tries:\n%s", n.name, dst, tries, out)
}

func testLogger(tb testing.TB, name string) *slog.Logger {
	w := &logWriter{tb: tb}
	tb.Cleanup(w.stop)
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo})).With("node", name)
}

type logWriter struct {
	mu      sync.Mutex
	tb      testing.TB
	stopped bool
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.stopped {
		w.tb.Log(strings.TrimSpace(string(p)))
	}
	return len(p), nil
}

func (w *logWriter) stop() { w.mu.Lock(); w.stopped = true; w.mu.Unlock() }
