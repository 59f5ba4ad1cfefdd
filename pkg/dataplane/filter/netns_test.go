//go:build linux

package filter

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"github.com/vishvananda/netns"

	"github.com/meshapi/meshapi/pkg/dataplane/internal/netnstest"
)

// These tests build a node out of network namespaces they create (and
// delete, also on failure): a "node" namespace with three "pod" namespaces
// attached by veth pairs, addresses from 198.18.0.0/15 only. Only the node
// namespace is ever given nftables rules; the namespace the test runs in is
// checked to come out as it went in.
//
//	podA 198.18.1.1 --(pa0)--+
//	podB 198.18.2.1 --(pb0)--+ node (forwarding, proxy ARP)
//	podC 198.18.3.1 --(pc0)--+

const (
	ipA = "198.18.1.1"
	ipB = "198.18.2.1"
	ipC = "198.18.3.1"
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
	return &testNS{name: n.Name, h: n.Handle}
}

// testNS is a named network namespace the test created.
type testNS struct {
	name string
	h    netns.NsHandle
}

func (n *testNS) ip(t testing.TB, args ...string) string {
	t.Helper()
	return run(t, "ip", append([]string{"-n", n.name}, args...)...)
}

func (n *testNS) exec(t testing.TB, args ...string) string {
	t.Helper()
	return run(t, "ip", append([]string{"netns", "exec", n.name}, args...)...)
}

// do runs fn on an OS thread switched into the namespace: sockets fn
// creates belong to it.
func (n *testNS) do(t testing.TB, fn func()) {
	t.Helper()
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatalf("current namespace: %v", err)
	}
	defer orig.Close()
	if err := netns.Set(n.h); err != nil {
		runtime.UnlockOSThread()
		t.Fatalf("entering %s: %v", n.name, err)
	}
	fn()
	if err := netns.Set(orig); err != nil {
		// Leave the thread locked: it dies with its goroutine.
		t.Fatalf("leaving %s: %v", n.name, err)
	}
	runtime.UnlockOSThread()
}

// listen starts a TCP server in the namespace that greets every client
// with "ok"; it stops when the test ends.
func (n *testNS) listen(t testing.TB, addr string) {
	t.Helper()
	var l net.Listener
	var err error
	n.do(t, func() { l, err = net.Listen("tcp4", addr) })
	if err != nil {
		t.Fatalf("listen %s in %s: %v", addr, n.name, err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte("ok"))
			_ = c.Close()
		}
	}()
	t.Cleanup(func() { _ = l.Close(); wg.Wait() })
}

// connect reports whether a TCP connection from the namespace to addr is
// established and greeted within a second (a dropped SYN never is).
func (n *testNS) connect(t testing.TB, addr string) bool {
	t.Helper()
	var c net.Conn
	var err error
	n.do(t, func() { c, err = net.DialTimeout("tcp4", addr, time.Second) })
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	b, err := io.ReadAll(c)
	return err == nil && string(b) == "ok"
}

// ping reports whether an ICMP echo from the namespace to dst is answered.
func (n *testNS) ping(t testing.TB, dst string) bool {
	t.Helper()
	_, err := tryRun("ip", "netns", "exec", n.name, "ping", "-n", "-c", "1", "-W", "1", dst)
	return err == nil
}

type topo struct {
	node, podA, podB, podC *testNS
}

// buildTopology creates the namespaces and links.
func buildTopology(t testing.TB) *topo {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces (CI runs as root)")
	}
	for _, tool := range []string{"ip", "ping"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed: %v", tool, err)
		}
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	prefix := "meshapi-nft-" + hex.EncodeToString(rnd[:]) + "-"
	tp := &topo{
		node: newTestNS(t, prefix+"node"),
		podA: newTestNS(t, prefix+"podA"),
		podB: newTestNS(t, prefix+"podB"),
		podC: newTestNS(t, prefix+"podC"),
	}
	tp.node.exec(t, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1")
	for _, p := range []struct {
		pod       *testNS
		veth, ip4 string
	}{{tp.podA, "pa0", ipA}, {tp.podB, "pb0", ipB}, {tp.podC, "pc0", ipC}} {
		tp.node.ip(t, "link", "add", p.veth, "type", "veth", "peer", "name", "eth0", "netns", p.pod.name)
		tp.node.ip(t, "link", "set", p.veth, "up")
		p.pod.ip(t, "addr", "add", p.ip4+"/32", "dev", "eth0")
		p.pod.ip(t, "link", "set", "eth0", "up")
		p.pod.ip(t, "route", "add", "default", "dev", "eth0")
		tp.node.ip(t, "route", "add", p.ip4+"/32", "dev", p.veth)
		tp.node.exec(t, "sysctl", "-q", "-w", "net.ipv4.conf."+p.veth+".proxy_arp=1",
			"net.ipv4.neigh."+p.veth+".proxy_delay=0")
	}
	return tp
}

// newFilter returns a Filter on the node namespace that is torn down and
// closed when the test ends.
func newFilter(t testing.TB, n *testNS) *Filter {
	t.Helper()
	f, err := New(Options{NetNS: int(n.h)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := f.Teardown(context.Background()); err != nil {
			t.Errorf("teardown: %v", err)
		}
		if err := f.Close(); err != nil {
			t.Error(err)
		}
	})
	return f
}

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }

func proto(p uint8) *uint8 { return &p }

// expectReach checks each probe: "tcp <ns> <addr>" or "ping <ns> <ip>".
type probe struct {
	from *testNS
	kind string // "tcp" or "ping"
	to   string
	want bool
}

func expectReach(t *testing.T, probes ...probe) {
	t.Helper()
	for _, p := range probes {
		var got bool
		if p.kind == "ping" {
			got = p.from.ping(t, p.to)
		} else {
			got = p.from.connect(t, p.to)
		}
		if got != p.want {
			verb := map[bool]string{true: "reachable", false: "refused"}
			t.Errorf("%s %s -> %s: %s, want %s", p.kind, p.from.name[strings.LastIndex(p.from.name, "-")+1:], p.to, verb[got], verb[p.want])
		}
	}
}

// mustCommit commits and fails the test on error.
func mustCommit(t *testing.T, f *Filter) Stats {
	t.Helper()
	st, err := f.Commit(context.Background())
	if err != nil {
		t.Fatalf("commit: %v", err)
	}
	t.Logf("commit: %+v", st)
	return st
}

// ruleCounters returns the packet counters of a chain's rules by comment.
func ruleCounters(t *testing.T, n *testNS, chain string) map[string]uint64 {
	t.Helper()
	c, err := nftables.New(nftables.WithNetNSFd(int(n.h)))
	if err != nil {
		t.Fatal(err)
	}
	tbl := &nftables.Table{Name: DefaultTableName, Family: nftables.TableFamilyINet}
	rules, err := c.GetRules(tbl, &nftables.Chain{Name: chain, Table: tbl})
	if err != nil {
		t.Fatalf("rules of %s: %v", chain, err)
	}
	out := map[string]uint64{}
	for _, r := range rules {
		cm, _ := userdata.GetString(r.UserData, userdata.TypeComment)
		for _, e := range r.Exprs {
			if ctr, ok := e.(*expr.Counter); ok {
				out[cm] = ctr.Packets
			}
		}
	}
	return out
}

// tablesOf lists "family name" of the nftables tables in a namespace (0:
// the test's own).
func tablesOf(t *testing.T, fd int) []string {
	t.Helper()
	var opts []nftables.ConnOption
	if fd != 0 {
		opts = append(opts, nftables.WithNetNSFd(fd))
	}
	c, err := nftables.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	ts, err := c.ListTables()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, tb := range ts {
		out = append(out, fmt.Sprintf("%d %s", tb.Family, tb.Name))
	}
	return out
}

// appToDB is the seeds' default.app-to-db egress policy for podA: TCP to
// the "db" set on 5432, nothing else.
func appToDB() Endpoint {
	return Endpoint{Interface: "pa0", Egress: []Tier{{Name: "default", Policies: []Policy{{
		Name: "myapp/default.app-to-db",
		Rules: []Rule{{Action: Allow, Protocol: proto(ProtoTCP),
			Destination: Match{Set: "db", Ports: []PortRange{{5432, 5432}}}}},
	}}}}}
}

func TestFilterWithTraffic(t *testing.T) {
	tp := buildTopology(t)
	ctx := context.Background()
	rootTables := fmt.Sprint(tablesOf(t, 0))
	t.Cleanup(func() {
		if got := fmt.Sprint(tablesOf(t, 0)); got != rootTables {
			t.Errorf("the test's own namespace's tables changed: %s, was %s", got, rootTables)
		}
	})
	// A foreign table on the same hook, which must come out as it went in.
	tp.node.exec(t, "nft", "add table inet foreign; add chain inet foreign fw { type filter hook forward priority 10; policy accept; }; add rule inet foreign fw counter; add set inet foreign s { type ipv4_addr; elements = { 198.18.2.1 } }")
	foreign := func() string {
		// Counter values change with traffic; compare the rest.
		out := tp.node.exec(t, "nft", "list", "table", "inet", "foreign")
		var lines []string
		for _, l := range strings.Split(out, "\n") {
			if !strings.Contains(l, "counter packets") {
				lines = append(lines, l)
			}
		}
		return strings.Join(lines, "\n")
	}
	foreignBefore := foreign()

	tp.podB.listen(t, ipB+":5432")
	tp.podB.listen(t, ipB+":8080")
	tp.podA.listen(t, ipA+":8080")
	f := newFilter(t, tp.node)

	t.Run("no policy: untouched", func(t *testing.T) {
		mustCommit(t, f)
		expectReach(t,
			probe{tp.podA, "tcp", ipB + ":5432", true},
			probe{tp.podA, "tcp", ipB + ":8080", true},
			probe{tp.podA, "ping", ipB, true},
			probe{tp.podB, "tcp", ipA + ":8080", true},
		)
	})

	t.Run("app-to-db egress", func(t *testing.T) {
		if err := f.SetSet("db", []netip.Prefix{pfx(ipB + "/32"), pfx("198.18.200.0/24"), pfx("2001:db8::5/128")}); err != nil {
			t.Fatal(err)
		}
		if err := f.SetEndpoint(appToDB()); err != nil {
			t.Fatal(err)
		}
		st := mustCommit(t, f)
		if st.SetsCreated != 2 || st.ElementsAdded != 3 {
			t.Errorf("stats %+v: want 2 sets (v4, v6) and 3 elements", st)
		}
		expectReach(t,
			probe{tp.podA, "tcp", ipB + ":5432", true},
			probe{tp.podA, "tcp", ipB + ":8080", false},
			probe{tp.podA, "ping", ipB, false},
			// podC has no policy, podB's ingress none: untouched.
			probe{tp.podC, "tcp", ipB + ":8080", true},
			probe{tp.podC, "ping", ipA, true},
			// Traffic to podA is ingress: untouched too.
			probe{tp.podB, "tcp", ipA + ":8080", true},
		)
	})

	t.Run("ingress: a client not in the set is refused", func(t *testing.T) {
		if err := f.SetSet("clients", []netip.Prefix{pfx(ipA + "/32")}); err != nil {
			t.Fatal(err)
		}
		if err := f.SetEndpoint(Endpoint{Interface: "pb0", Ingress: []Tier{{Name: "default", Policies: []Policy{{
			Name: "myapp/default.db-ingress",
			Rules: []Rule{{Action: Allow, Protocol: proto(ProtoTCP),
				Source: Match{Set: "clients"}, Destination: Match{Ports: []PortRange{{5432, 5432}}}}},
		}}}}}); err != nil {
			t.Fatal(err)
		}
		st := mustCommit(t, f)
		// Only podB's chains and the forward chain: podA's are unchanged.
		if st.ChainsWritten != 3 || st.SetsCreated != 2 {
			t.Errorf("stats %+v: want 3 chains written (in/pb0, in/pb0/0, forward), 2 sets created", st)
		}
		expectReach(t,
			probe{tp.podA, "tcp", ipB + ":5432", true},
			probe{tp.podC, "tcp", ipB + ":5432", false},
			probe{tp.podC, "tcp", ipB + ":8080", false},
			probe{tp.podC, "ping", ipA, true},
		)
		f.DeleteEndpoint("pb0")
		if err := f.DeleteSet("clients"); err != nil {
			t.Fatal(err)
		}
		st = mustCommit(t, f)
		if st.ChainsDeleted != 2 || st.SetsDeleted != 2 || st.ChainsWritten != 1 {
			t.Errorf("stats %+v: want in/pb0, in/pb0/0 and the clients sets deleted, the forward chain rewritten", st)
		}
		expectReach(t, probe{tp.podC, "tcp", ipB + ":8080", true})
	})

	t.Run("set member removed: new connections refused", func(t *testing.T) {
		if err := f.UpdateSet("db", nil, []netip.Prefix{pfx(ipB + "/32")}); err != nil {
			t.Fatal(err)
		}
		st := mustCommit(t, f)
		if st.ElementsDeleted != 1 || st.ElementsAdded != 0 || st.ChainsWritten != 0 || st.SetsCreated != 0 {
			t.Errorf("stats %+v: want exactly one element deleted", st)
		}
		expectReach(t, probe{tp.podA, "tcp", ipB + ":5432", false})

		if err := f.UpdateSet("db", []netip.Prefix{pfx(ipB + "/32")}, nil); err != nil {
			t.Fatal(err)
		}
		st = mustCommit(t, f)
		if st.ElementsAdded != 1 || st.ElementsDeleted != 0 || st.ChainsWritten != 0 {
			t.Errorf("stats %+v: want exactly one element added", st)
		}
		expectReach(t, probe{tp.podA, "tcp", ipB + ":5432", true})

		// A wider prefix replaces the /32 it contains, and back.
		if err := f.UpdateSet("db", []netip.Prefix{pfx("198.18.2.0/24")}, nil); err != nil {
			t.Fatal(err)
		}
		st = mustCommit(t, f)
		if st.ElementsAdded != 1 || st.ElementsDeleted != 1 {
			t.Errorf("stats %+v: want the /32 replaced by the /24", st)
		}
		expectReach(t, probe{tp.podA, "tcp", ipB + ":5432", true})
		if err := f.UpdateSet("db", nil, []netip.Prefix{pfx("198.18.2.0/24")}); err != nil {
			t.Fatal(err)
		}
		mustCommit(t, f)
		expectReach(t, probe{tp.podA, "tcp", ipB + ":5432", true})
	})

	t.Run("ports, nets and notNets", func(t *testing.T) {
		ep := Endpoint{Interface: "pa0", Egress: []Tier{{Name: "default", Policies: []Policy{{
			Name: "nets",
			Rules: []Rule{{Action: Allow, Protocol: proto(ProtoTCP), Destination: Match{
				Nets:     []netip.Prefix{pfx("198.18.2.0/24"), pfx("198.18.9.0/24")},
				NotNets:  []netip.Prefix{pfx("198.18.2.128/25")},
				Ports:    []PortRange{{5430, 5433}, {9000, 9000}, {65535, 65535}},
				NotPorts: []PortRange{{5433, 5433}},
			}}},
		}}}}}
		if err := f.SetEndpoint(ep); err != nil {
			t.Fatal(err)
		}
		mustCommit(t, f)
		expectReach(t,
			probe{tp.podA, "tcp", ipB + ":5432", true},
			probe{tp.podA, "tcp", ipB + ":8080", false},
		)
		ep.Egress[0].Policies[0].Rules[0].Destination.NotNets = []netip.Prefix{pfx(ipB + "/32")}
		if err := f.SetEndpoint(ep); err != nil {
			t.Fatal(err)
		}
		mustCommit(t, f)
		expectReach(t, probe{tp.podA, "tcp", ipB + ":5432", false})
		ep.Egress[0].Policies[0].Rules[0].Destination.NotNets = nil
		ep.Egress[0].Policies[0].Rules[0].Destination.NotPorts = []PortRange{{5432, 5432}}
		if err := f.SetEndpoint(ep); err != nil {
			t.Fatal(err)
		}
		mustCommit(t, f)
		expectReach(t, probe{tp.podA, "tcp", ipB + ":5432", false})
	})

	t.Run("tiers: Pass and default actions", func(t *testing.T) {
		// Tier "security": TCP to 5432 passes to the next tier, other TCP
		// is denied, anything else meets the tier's default action.
		security := Tier{Name: "security", DefaultAction: Pass, Policies: []Policy{{Name: "sec", Rules: []Rule{
			{Action: Pass, Protocol: proto(ProtoTCP), Destination: Match{Ports: []PortRange{{5432, 5432}}}},
			{Action: Deny, Protocol: proto(ProtoTCP)},
		}}}}
		app := Tier{Name: "default", Policies: []Policy{{Name: "app", Rules: []Rule{
			{Action: Allow, Protocol: proto(ProtoTCP), Destination: Match{Set: "db", Ports: []PortRange{{5432, 5432}}}},
			{Action: Allow, Protocol: proto(ProtoICMP), ICMP: &ICMPMatch{Type: 8}},
		}}}}
		set := func(tiers ...Tier) {
			t.Helper()
			if err := f.SetEndpoint(Endpoint{Interface: "pa0", Egress: tiers}); err != nil {
				t.Fatal(err)
			}
			mustCommit(t, f)
		}
		set(security, app)
		expectReach(t,
			probe{tp.podA, "tcp", ipB + ":5432", true}, // passed, then allowed
			probe{tp.podA, "tcp", ipB + ":8080", false},
			probe{tp.podA, "ping", ipB, true}, // security's default Pass, then allowed
		)
		security.DefaultAction = Deny
		set(security, app)
		expectReach(t,
			probe{tp.podA, "tcp", ipB + ":5432", true},
			probe{tp.podA, "ping", ipB, false}, // security's default Deny
		)
		// Pass in the last tier: as if no policy applied.
		set(Tier{Name: "last", Policies: []Policy{{Name: "pass-all", Rules: []Rule{{Action: Pass}}}}})
		expectReach(t,
			probe{tp.podA, "tcp", ipB + ":8080", true},
			probe{tp.podA, "ping", ipB, true},
		)
		// An empty tier with default Deny denies.
		set(Tier{Name: "empty"})
		expectReach(t, probe{tp.podA, "ping", ipB, false})
	})

	t.Run("Log goes on to the next rule", func(t *testing.T) {
		if err := f.SetEndpoint(Endpoint{Interface: "pa0", Egress: []Tier{{Name: "default", Policies: []Policy{{Name: "log", Rules: []Rule{
			{Action: Log, Protocol: proto(ProtoICMP)},
			{Action: Allow, Protocol: proto(ProtoICMP)},
		}}}}}}); err != nil {
			t.Fatal(err)
		}
		mustCommit(t, f)
		expectReach(t, probe{tp.podA, "ping", ipB, true})
		var logged uint64
		for c, n := range ruleCounters(t, tp.node, "eg/pa0/0") {
			if strings.Contains(c, "Log") {
				logged += n
			}
		}
		if logged == 0 {
			t.Errorf("the Log rule counted no packet")
		}
	})

	t.Run("drift is repaired", func(t *testing.T) {
		if err := f.SetEndpoint(appToDB()); err != nil {
			t.Fatal(err)
		}
		mustCommit(t, f)
		if st, err := f.Resync(ctx); err != nil || st.Changed() {
			t.Fatalf("resync without drift: %+v, %v", st, err)
		}
		expectReach(t, probe{tp.podA, "tcp", ipB + ":8080", false})
		// Someone empties our tier chain, deletes the forward chain and a
		// set element, and adds a chain of their own to our table.
		tp.node.exec(t, "nft", "flush chain inet meshapi-filter eg/pa0/0; flush chain inet meshapi-filter forward; delete chain inet meshapi-filter forward; delete element inet meshapi-filter db-v4 { 198.18.2.1 }; add chain inet meshapi-filter stray")
		expectReach(t, probe{tp.podA, "tcp", ipB + ":8080", true}) // the drift opened the way
		st, err := f.Resync(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("repair: %+v", st)
		if st.ChainsWritten != 2 || st.ElementsAdded != 1 || st.ChainsDeleted != 1 {
			t.Errorf("repair %+v: want 2 chains written, 1 element added, 1 chain deleted", st)
		}
		expectReach(t,
			probe{tp.podA, "tcp", ipB + ":8080", false},
			probe{tp.podA, "tcp", ipB + ":5432", true},
		)
		// The whole table deleted: rebuilt.
		tp.node.exec(t, "nft", "delete table inet meshapi-filter")
		st, err = f.Resync(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !st.TableCreated {
			t.Errorf("repair %+v: want the table re-created", st)
		}
		expectReach(t,
			probe{tp.podA, "tcp", ipB + ":8080", false},
			probe{tp.podA, "tcp", ipB + ":5432", true},
		)
	})

	t.Run("endpoint and set deleted: default behaviour", func(t *testing.T) {
		if err := f.DeleteSet("db"); err == nil {
			t.Errorf("deleting a set in use succeeded")
		}
		f.DeleteEndpoint("pa0")
		if err := f.DeleteSet("db"); err != nil {
			t.Fatal(err)
		}
		st := mustCommit(t, f)
		if st.SetsDeleted != 2 {
			t.Errorf("stats %+v: want 2 sets deleted", st)
		}
		expectReach(t,
			probe{tp.podA, "tcp", ipB + ":8080", true},
			probe{tp.podC, "tcp", ipB + ":5432", true},
		)
		out := tp.node.exec(t, "nft", "list", "table", "inet", DefaultTableName)
		if strings.Contains(out, "pa0") || strings.Contains(out, "set db") {
			t.Errorf("leftovers in the table:\n%s", out)
		}
	})

	t.Run("teardown", func(t *testing.T) {
		if err := f.Teardown(ctx); err != nil {
			t.Fatal(err)
		}
		for _, tb := range tablesOf(t, int(tp.node.h)) {
			if strings.HasSuffix(tb, " "+DefaultTableName) {
				t.Errorf("table left after teardown")
			}
		}
		if got := foreign(); got != foreignBefore {
			t.Errorf("foreign table changed:\n%s\nwas:\n%s", got, foreignBefore)
		}
	})
}

// TestLargeSet loads a set larger than one netlink message and one
// transaction carry, reads it back with Resync (no drift), and updates it.
func TestLargeSet(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces")
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	n := newTestNS(t, "meshapi-nftl-"+hex.EncodeToString(rnd[:]))
	f := newFilter(t, n)
	ctx := context.Background()
	if _, _, ok := f.Size(); ok {
		t.Error("Size known before anything was read or written")
	}
	// wantSize checks Size against the stats' account of the kernel: the
	// set is a v4 and a v6 set.
	wantSize := func(elements int) {
		t.Helper()
		if sets, els, ok := f.Size(); !ok || sets != 2 || els != elements {
			t.Errorf("Size = %d sets, %d elements, %v; want 2, %d, true", sets, els, ok, elements)
		}
	}
	members := make([]netip.Prefix, 30000)
	for i := range members {
		members[i] = benchAddr(i)
	}
	members = append(members, pfx("2001:db8::/64"), pfx("2001:db8:1::1/128"))
	if err := f.SetSet("big", members); err != nil {
		t.Fatal(err)
	}
	st := mustCommit(t, f)
	if st.ElementsAdded != len(members) || st.Transactions < 30000/DefaultMaxElementsPerTransaction {
		t.Errorf("stats %+v: want %d elements in several transactions", st, len(members))
	}
	if st, err := f.Resync(ctx); err != nil || st.Changed() {
		t.Fatalf("resync after load: %+v, %v; want no drift", st, err)
	}
	wantSize(len(members))
	if err := f.UpdateSet("big", members[30000:], members[:10000]); err != nil {
		t.Fatal(err)
	}
	st = mustCommit(t, f)
	if st.ElementsDeleted != 10000 || st.ElementsAdded != 0 {
		t.Errorf("stats %+v: want 10000 elements deleted", st)
	}
	if st, err := f.Resync(ctx); err != nil || st.Changed() {
		t.Fatalf("resync after update: %+v, %v; want no drift", st, err)
	}
	wantSize(len(members) - 10000)
}
