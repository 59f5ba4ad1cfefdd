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

// frrBgpd is where Debian's frr package installs bgpd.
const frrBgpd = "/usr/lib/frr/bgpd"

// frrConfig is an FRR eBGP router (AS65100) that originates one network
// and accepts meshapi's prefixes.
const frrConfig = `hostname tor
log stdout
router bgp 65100
 bgp router-id 198.18.252.2
 no bgp ebgp-requires-policy
 no bgp network import-check
 neighbor 198.18.252.1 remote-as 64512
 address-family ipv4 unicast
  network 198.19.254.0/24
 exit-address-family
`

// startFRR runs bgpd in ns with its own config, pid file and vty socket
// directory (the system's frr service is not involved), without zebra;
// it returns the vty socket directory for vtysh.
func startFRR(t *testing.T, ns, listen, config string) string {
	t.Helper()
	dir := t.TempDir()
	conf := filepath.Join(dir, "bgpd.conf")
	if err := os.WriteFile(conf, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", ns, frrBgpd, "-f", conf, "-i", filepath.Join(dir, "bgpd.pid"),
		"--vty_socket", dir, "-Z", "-S", "-l", listen, "-p", "179", "-u", "root", "-g", "root")
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("bgpd's log:\n%s", log.String())
		}
	})
	return dir
}

// vtysh runs one command against the bgpd whose vty socket is in dir.
func vtysh(t *testing.T, dir, command string) string {
	t.Helper()
	out, _ := exec.Command("vtysh", "--vty_socket", dir, "-c", command).CombinedOutput()
	return string(out)
}

// FRR's bgpd as the peer of meshapi's speaker over eBGP: the session comes
// up, FRR's RIB holds meshapi's prefix with its communities, meshapi
// programs FRR's.
func TestInteropFRR(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces")
	}
	if _, err := os.Stat(frrBgpd); err != nil {
		t.Skip("FRR is not installed (Debian package frr)")
	}
	suffix := fmt.Sprint(os.Getpid())
	nsA, nsB := "bgp-meshapi-"+suffix, "bgp-frr-"+suffix
	newNS(t, nsA)
	newNS(t, nsB)
	veth(t, nsA, nsB, "198.18.252.1/24", "198.18.252.2/24")
	vty := startFRR(t, nsB, "198.18.252.2", frrConfig)

	a, b := netip.MustParseAddr("198.18.252.1"), netip.MustParseAddr("198.18.252.2")
	h := startHelper(t, nsA, peering.Speaker{ASNumber: 64512, RouterID: a, ListenPort: 179,
		Peers:    []peering.Peer{{Address: b, Port: 179, ASNumber: 65100, Type: peering.GlobalPeer, Source: "tor", BindLocal: true}},
		Prefixes: []netip.Prefix{netip.MustParsePrefix("198.19.255.0/26")},
		// As the default BGPConfiguration's prefixAdvertisements tag it.
		Communities: map[netip.Prefix]peering.Communities{netip.MustParsePrefix("198.19.255.0/26"): {
			Standard: []uint32{65001<<16 | 100}, Large: [][3]uint32{{64512, 1, 2}}}}})

	h.waitSessions(t, 60*time.Second, func(s []Session) bool {
		return len(s) == 1 && s[0].State == "Established" && s[0].Received == 1 && s[0].Advertised == 1
	})
	waitRoutes(t, nsA, []string{"198.19.254.0/24 via 198.18.252.2 dev eth0 metric 1024"}, 10*time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for {
		out := vtysh(t, vty, "show ip bgp")
		if strings.Contains(out, "198.19.255.0/26") && strings.Contains(out, "198.18.252.1") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("FRR's RIB lacks 198.19.255.0/26 from meshapi:\n%s", out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// FRR received the route with its standard and large communities.
	out := vtysh(t, vty, "show ip bgp 198.19.255.0/26")
	if !strings.Contains(out, "Community: 65001:100") || !strings.Contains(out, "Large Community: 64512:1:2") {
		t.Fatalf("FRR's route 198.19.255.0/26 lacks the communities 65001:100 and 64512:1:2:\n%s", out)
	}
}
