//go:build linux

package speaker

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/meshapi/meshapi/pkg/bgp/peering"
)

// veth joins namespaces a and b with eth0 in each, addresses addrA/addrB.
func veth(t *testing.T, a, b, addrA, addrB string) {
	t.Helper()
	run(t, "ip", "-n", a, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", b)
	run(t, "ip", "-n", a, "addr", "add", addrA, "dev", "eth0")
	run(t, "ip", "-n", b, "addr", "add", addrB, "dev", "eth0")
	run(t, "ip", "-n", a, "link", "set", "eth0", "up")
	run(t, "ip", "-n", b, "link", "set", "eth0", "up")
}

// birdConfig is a BIRD 2 eBGP router (AS65001) that exports its static
// route and programs what it learns into its namespace's kernel.
const birdConfig = `log stderr all;
router id 198.18.251.2;
protocol device {}
protocol kernel { ipv4 { import none; export where source = RTS_BGP; }; }
protocol static { ipv4; route 198.19.252.0/24 blackhole; }
protocol bgp meshapi {
  local 198.18.251.2 as 65001;
  neighbor 198.18.251.1 as 64512;
  ipv4 { import all; export where source = RTS_STATIC; };
}
`

// BIRD 2, the speaker Calico itself uses, as the peer of meshapi's
// speaker over eBGP: the session comes up and routes go both ways, into
// both kernels.
func TestInteropBIRD2(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces")
	}
	bird, err := exec.LookPath("bird")
	if err != nil {
		t.Skip("BIRD 2 is not installed (Debian package bird2)")
	}
	suffix := fmt.Sprint(os.Getpid())
	nsA, nsB := "bgp-meshapi-"+suffix, "bgp-bird-"+suffix
	newNS(t, nsA)
	newNS(t, nsB)
	veth(t, nsA, nsB, "198.18.251.1/24", "198.18.251.2/24")

	dir := t.TempDir()
	conf, sock := filepath.Join(dir, "bird.conf"), filepath.Join(dir, "bird.ctl")
	if err := os.WriteFile(conf, []byte(birdConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", nsB, bird, "-f", "-c", conf, "-s", sock, "-P", filepath.Join(dir, "bird.pid"))
	var birdLog strings.Builder
	cmd.Stdout, cmd.Stderr = &birdLog, &birdLog
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("BIRD's log:\n%s", birdLog.String())
		}
	})

	a, b := netip.MustParseAddr("198.18.251.1"), netip.MustParseAddr("198.18.251.2")
	h := startHelper(t, nsA, peering.Speaker{ASNumber: 64512, RouterID: a, ListenPort: 179,
		Peers:    []peering.Peer{{Address: b, Port: 179, ASNumber: 65001, Type: peering.GlobalPeer, Source: "bird", BindLocal: true}},
		Prefixes: []netip.Prefix{netip.MustParsePrefix("198.19.253.0/26")}})

	h.waitSessions(t, 30*time.Second, func(s []Session) bool {
		return len(s) == 1 && s[0].State == "Established" && s[0].Received == 1 && s[0].Advertised == 1
	})
	waitRoutes(t, nsA, []string{"198.19.252.0/24 via 198.18.251.2 dev eth0 metric 1024"}, 10*time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for {
		out := run(t, "ip", "-n", nsB, "route", "show", "198.19.253.0/26")
		if strings.Contains(out, "198.19.253.0/26 via 198.18.251.1 dev eth0 proto bird") {
			break
		}
		if time.Now().After(deadline) {
			show, _ := exec.Command("birdc", "-s", sock, "show", "route", "all").CombinedOutput()
			t.Fatalf("BIRD did not program 198.19.253.0/26 via meshapi's speaker: %q\n%s", out, show)
		}
		time.Sleep(100 * time.Millisecond)
	}
	out := run(t, "birdc", "-s", sock, "show", "protocols", "meshapi")
	if !strings.Contains(out, "Established") {
		t.Errorf("BIRD's session is not Established:\n%s", out)
	}
}
