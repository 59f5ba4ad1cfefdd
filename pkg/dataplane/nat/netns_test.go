//go:build linux

package nat

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netns"
)

// These tests build, out of network namespaces they create and delete, a
// pod behind a node that reaches an "outside" host, with addresses in
// 198.18.0.0/15 only, and check with real TCP connections what source
// address the outside sees. Nothing changes in the namespace the test runs
// in: nftables connections are opened on the node namespace's fd, and
// commands run with `ip -n` / `ip netns exec`.
//
//	pod 198.18.40.10/24 -- 198.18.40.1 node 198.18.41.254 -- 198.18.41.1/24 outside

var (
	podIP      = netip.MustParseAddr("198.18.40.10")
	nodeOutIP  = netip.MustParseAddr("198.18.41.254")
	outsideIP  = netip.MustParseAddr("198.18.41.1")
	podPool    = netip.MustParsePrefix("198.18.40.0/24")
	remotePool = netip.MustParsePrefix("198.18.44.0/24")
)

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// newNS creates a named namespace, deleted when the test ends.
func newNS(t *testing.T, prefix string) (string, netns.NsHandle) {
	t.Helper()
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	name := prefix + hex.EncodeToString(b)
	run(t, "ip", "netns", "add", name)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("deleting namespace %s: %v\n%s", name, err, out)
		}
	})
	h, err := netns.GetFromName(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	run(t, "ip", "-n", name, "link", "set", "lo", "up")
	return name, h
}

// inNS runs fn on an OS thread switched into ns. Sockets fn creates stay in
// ns. The thread returns to its namespace afterwards (and is discarded if
// it cannot).
func inNS(ns netns.NsHandle, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- err
			return // the thread ends with the goroutine
		}
		defer orig.Close()
		if err := netns.Set(ns); err != nil {
			errc <- err
			return
		}
		errc <- fn()
		if netns.Set(orig) == nil {
			runtime.UnlockOSThread()
		}
	}()
	return <-errc
}

type topology struct {
	pod, node, outside       string
	podNS, nodeNS, outsideNS netns.NsHandle
	seen                     chan string
}

func newTopology(t *testing.T) *topology {
	t.Helper()
	tp := &topology{seen: make(chan string, 16)}
	tp.pod, tp.podNS = newNS(t, "mnat-pod-")
	tp.node, tp.nodeNS = newNS(t, "mnat-node-")
	tp.outside, tp.outsideNS = newNS(t, "mnat-out-")
	run(t, "ip", "-n", tp.pod, "link", "add", "eth0", "type", "veth", "peer", "name", "pod0", "netns", tp.node)
	run(t, "ip", "-n", tp.outside, "link", "add", "eth0", "type", "veth", "peer", "name", "out0", "netns", tp.node)
	run(t, "ip", "-n", tp.pod, "addr", "add", podIP.String()+"/24", "dev", "eth0")
	run(t, "ip", "-n", tp.pod, "link", "set", "eth0", "up")
	run(t, "ip", "-n", tp.pod, "route", "add", "default", "via", "198.18.40.1")
	run(t, "ip", "-n", tp.node, "addr", "add", "198.18.40.1/24", "dev", "pod0")
	run(t, "ip", "-n", tp.node, "addr", "add", nodeOutIP.String()+"/24", "dev", "out0")
	run(t, "ip", "-n", tp.node, "link", "set", "pod0", "up")
	run(t, "ip", "-n", tp.node, "link", "set", "out0", "up")
	run(t, "ip", "netns", "exec", tp.node, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	run(t, "ip", "-n", tp.outside, "addr", "add", outsideIP.String()+"/24", "dev", "eth0")
	run(t, "ip", "-n", tp.outside, "link", "set", "eth0", "up")
	// The way back for traffic that is not masqueraded.
	run(t, "ip", "-n", tp.outside, "route", "add", podPool.String(), "via", nodeOutIP.String())

	// The outside host tells every client the source address it sees.
	var ln net.Listener
	if err := inNS(tp.outsideNS, func() (err error) {
		ln, err = net.Listen("tcp4", netip.AddrPortFrom(outsideIP, 7000).String())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			fmt.Fprintf(c, "%s\n", c.RemoteAddr().(*net.TCPAddr).IP)
			c.Close()
		}
	}()
	return tp
}

// sourceSeen connects from the pod to the outside host and returns the
// source address the outside host saw.
func (tp *topology) sourceSeen(t *testing.T) string {
	t.Helper()
	var conn net.Conn
	if err := inNS(tp.podNS, func() (err error) {
		d := net.Dialer{Timeout: 5 * time.Second}
		conn, err = d.Dial("tcp4", netip.AddrPortFrom(outsideIP, 7000).String())
		return err
	}); err != nil {
		t.Fatalf("pod -> outside: %v", err)
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		t.Fatalf("reading from outside: %v", err)
	}
	return strings.TrimSpace(line)
}

func (tp *topology) conn(t *testing.T) *nftables.Conn {
	t.Helper()
	c, err := nftables.New(nftables.WithNetNSFd(int(tp.nodeNS)))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// addForeign creates tables of other owners in the node namespace: one
// with our name in another family, one of another name in ours.
func addForeign(t *testing.T, c *nftables.Conn) {
	t.Helper()
	for _, table := range []*nftables.Table{
		{Name: DefaultTable, Family: nftables.TableFamilyINet},
		{Name: "foreign", Family: nftables.TableFamilyIPv4},
	} {
		c.AddTable(table)
		ch := c.AddChain(&nftables.Chain{Name: "fwd", Table: table, Type: nftables.ChainTypeFilter,
			Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter})
		c.AddRule(&nftables.Rule{Table: table, Chain: ch, Exprs: []expr.Any{&expr.Counter{}}})
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
}

func checkForeign(t *testing.T, c *nftables.Conn) {
	t.Helper()
	for _, table := range []*nftables.Table{
		{Name: DefaultTable, Family: nftables.TableFamilyINet},
		{Name: "foreign", Family: nftables.TableFamilyIPv4},
	} {
		rules, err := c.GetRules(table, &nftables.Chain{Name: "fwd", Table: table})
		if err != nil || len(rules) != 1 {
			t.Errorf("foreign table %s (family %d): rules %v, %v", table.Name, table.Family, rules, err)
		}
	}
}

func (tp *topology) ourTableExists(t *testing.T, c *nftables.Conn) bool {
	t.Helper()
	tables, err := c.ListTablesOfFamily(nftables.TableFamilyIPv4)
	if err != nil {
		t.Fatal(err)
	}
	for _, tb := range tables {
		if tb.Name == DefaultTable {
			return true
		}
	}
	return false
}

// Create, update, delete, with real traffic, and foreign tables untouched.
func TestNATOutgoingLifecycle(t *testing.T) {
	tp := newTopology(t)
	ctx := context.Background()
	c := tp.conn(t)
	addForeign(t, c)
	n := New(tp.conn(t), Options{})

	if got := tp.sourceSeen(t); got != podIP.String() {
		t.Fatalf("before any NAT the outside saw %s, want the pod's %s", got, podIP)
	}

	// natOutgoing pool: leaving the mesh is masqueraded.
	st, err := n.Apply(ctx, Desired{Sources: []netip.Prefix{podPool}, Destinations: []netip.Prefix{podPool, remotePool}})
	if err != nil {
		t.Fatal(err)
	}
	if !st.TableCreated {
		t.Errorf("first Apply: %+v", st)
	}
	if got := tp.sourceSeen(t); got != nodeOutIP.String() {
		t.Errorf("natOutgoing: the outside saw %s, want the node's %s", got, nodeOutIP)
	}

	// The outside's network joins the mesh (e.g. a remote cluster's pool
	// is mirrored): no NAT towards it. Incremental: it is adjacent to the
	// pod pool, so their range is replaced by one that covers both.
	st, err = n.Apply(ctx, Desired{Sources: []netip.Prefix{podPool}, Destinations: []netip.Prefix{podPool, remotePool, netip.MustParsePrefix("198.18.41.0/24")}})
	if err != nil {
		t.Fatal(err)
	}
	if st.TableCreated || st.RangesAdded != 1 || st.RangesRemoved != 1 {
		t.Errorf("update: %+v", st)
	}
	if got := tp.sourceSeen(t); got != podIP.String() {
		t.Errorf("to a mesh destination the outside saw %s, want the pod's %s", got, podIP)
	}

	// A /32 of a remote endpoint alone is enough too; the /24 goes: the
	// merged range splits into the pod pool and the /32.
	st, err = n.Apply(ctx, Desired{Sources: []netip.Prefix{podPool}, Destinations: []netip.Prefix{podPool, remotePool, netip.MustParsePrefix("198.18.41.1/32")}})
	if err != nil {
		t.Fatal(err)
	}
	if st.RangesAdded != 2 || st.RangesRemoved != 1 {
		t.Errorf("replace /24 by /32: %+v", st)
	}
	if got := tp.sourceSeen(t); got != podIP.String() {
		t.Errorf("to a mesh endpoint the outside saw %s, want the pod's %s", got, podIP)
	}
	// Nothing to do: no change.
	if st, err = n.Apply(ctx, Desired{Sources: []netip.Prefix{podPool}, Destinations: []netip.Prefix{podPool, remotePool, netip.MustParsePrefix("198.18.41.1/32")}}); err != nil || st.Changes() != 0 {
		t.Errorf("idempotent Apply: %+v %v", st, err)
	}
	checkForeign(t, c)

	// natOutgoing off: the table goes.
	st, err = n.Apply(ctx, Desired{Destinations: []netip.Prefix{podPool}})
	if err != nil {
		t.Fatal(err)
	}
	if !st.TableRemoved || tp.ourTableExists(t, c) {
		t.Errorf("delete: %+v", st)
	}
	if got := tp.sourceSeen(t); got != podIP.String() {
		t.Errorf("without natOutgoing the outside saw %s, want the pod's %s", got, podIP)
	}
	checkForeign(t, c)
}

// Resync repairs a deleted table, a removed element and a hand-edited
// chain.
func TestNATOutgoingDriftRepair(t *testing.T) {
	tp := newTopology(t)
	ctx := context.Background()
	c := tp.conn(t)
	addForeign(t, c)
	n := New(tp.conn(t), Options{})
	want := Desired{Sources: []netip.Prefix{podPool}, Destinations: []netip.Prefix{podPool, remotePool}}
	if _, err := n.Apply(ctx, want); err != nil {
		t.Fatal(err)
	}
	table := &nftables.Table{Name: DefaultTable, Family: nftables.TableFamilyIPv4}

	// Someone deletes the table.
	c.DelTable(table)
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := tp.sourceSeen(t); got != podIP.String() {
		t.Fatalf("table deleted by hand, yet the outside saw %s", got)
	}
	st, err := n.Resync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !st.TableCreated {
		t.Errorf("resync after table deletion: %+v", st)
	}
	if got := tp.sourceSeen(t); got != nodeOutIP.String() {
		t.Errorf("after repair the outside saw %s, want %s", got, nodeOutIP)
	}

	// Someone removes the pod pool from the sources.
	set := &nftables.Set{Table: table, Name: SourcesSet, KeyType: nftables.TypeIPAddr, Interval: true}
	if err := c.SetDeleteElements(set, elements(sortedRanges(toRanges([]netip.Prefix{podPool})))); err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := tp.sourceSeen(t); got != podIP.String() {
		t.Fatalf("source removed by hand, yet the outside saw %s", got)
	}
	st, err = n.Resync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.RangesAdded != 1 || st.TableCreated {
		t.Errorf("resync after element removal: %+v", st)
	}
	if got := tp.sourceSeen(t); got != nodeOutIP.String() {
		t.Errorf("after repair the outside saw %s, want %s", got, nodeOutIP)
	}

	// Someone adds a rule to our chain: the table is rebuilt.
	c.AddRule(&nftables.Rule{Table: table, Chain: &nftables.Chain{Name: Chain, Table: table}, Exprs: []expr.Any{&expr.Counter{}}})
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	st, err = n.Resync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Rebuilt || !st.TableCreated {
		t.Errorf("resync after a foreign rule: %+v", st)
	}
	rules, err := c.GetRules(table, &nftables.Chain{Name: Chain, Table: table})
	if err != nil || len(rules) != 1 {
		t.Errorf("rules after rebuild: %d, %v", len(rules), err)
	}
	if got := tp.sourceSeen(t); got != nodeOutIP.String() {
		t.Errorf("after rebuild the outside saw %s, want %s", got, nodeOutIP)
	}
	// In sync now: nothing to repair.
	if st, err := n.Resync(ctx); err != nil || st.Changes() != 0 {
		t.Errorf("resync in sync: %+v %v", st, err)
	}
	checkForeign(t, c)
}

// Many disjoint destinations (10,000 remote endpoints' /32s) need more
// than one netlink message per set; creating, updating and removing them
// works, and so does the traffic.
func TestNATOutgoingManyDestinations(t *testing.T) {
	tp := newTopology(t)
	ctx := context.Background()
	n := New(tp.conn(t), Options{})
	many := func(count int) []netip.Prefix {
		out := []netip.Prefix{podPool}
		for i := 0; i < count; i++ {
			// Every other address of 198.18.128.0/17, so none merge.
			v := uint32(198)<<24 | uint32(18)<<16 | 0x8000 + uint32(2*i)
			out = append(out, netip.PrefixFrom(netip.AddrFrom4(u32bytes(v)), 32))
		}
		return out
	}
	st, err := n.Apply(ctx, Desired{Sources: []netip.Prefix{podPool}, Destinations: many(10000)})
	if err != nil || !st.TableCreated {
		t.Fatalf("creating with 10,000 destinations: %+v %v", st, err)
	}
	if got := tp.sourceSeen(t); got != nodeOutIP.String() {
		t.Errorf("the outside saw %s, want %s", got, nodeOutIP)
	}
	st, err = n.Apply(ctx, Desired{Sources: []netip.Prefix{podPool}, Destinations: append(many(5000), netip.MustParsePrefix("198.18.41.0/24"))})
	if err != nil || st.RangesRemoved != 5001 || st.RangesAdded != 1 {
		// podPool and 198.18.41.0/24 merge: one range replaced, 5,000 removed.
		t.Fatalf("removing 5,000 destinations: %+v %v", st, err)
	}
	if got := tp.sourceSeen(t); got != podIP.String() {
		t.Errorf("to a mesh destination the outside saw %s, want %s", got, podIP)
	}
	if st, err := n.Resync(ctx); err != nil || st.Changes() != 0 {
		t.Errorf("resync reads back what was written: %+v %v", st, err)
	}
}
