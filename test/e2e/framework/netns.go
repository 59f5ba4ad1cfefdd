package framework

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// NetNS is a named network namespace a test created. Every link, route and
// nftables change of the dataplane tests happens inside such namespaces,
// never in the namespace the tests run in.
type NetNS struct {
	// Name is the namespace's name under /var/run/netns.
	Name string
	// Handle is an open handle on it.
	Handle netns.NsHandle
}

// Path is the namespace's path, for --netns.
func (n *NetNS) Path() string { return "/var/run/netns/" + n.Name }

// NewNetNS creates a namespace named prefix plus a random suffix, with its
// loopback up.
func NewNetNS(prefix string) (*NetNS, error) {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	name := prefix + hex.EncodeToString(b)
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("ip netns add %s: %w\n%s", name, err, out)
	}
	h, err := netns.GetFromName(name)
	if err != nil {
		_ = exec.Command("ip", "netns", "del", name).Run()
		return nil, fmt.Errorf("opening namespace %s: %w", name, err)
	}
	n := &NetNS{Name: name, Handle: h}
	if err := n.IP("link", "set", "lo", "up"); err != nil {
		_ = n.Delete()
		return nil, err
	}
	return n, nil
}

// Delete deletes the namespace.
func (n *NetNS) Delete() error {
	n.Handle.Close()
	if out, err := exec.Command("ip", "netns", "del", n.Name).CombinedOutput(); err != nil {
		return fmt.Errorf("ip netns del %s: %w\n%s", n.Name, err, out)
	}
	return nil
}

// IP runs `ip -n <ns> args...`.
func (n *NetNS) IP(args ...string) error {
	_, err := n.IPOutput(args...)
	return err
}

// IPOutput runs `ip -n <ns> args...` and returns its output.
func (n *NetNS) IPOutput(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", append([]string{"-n", n.Name}, args...)...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("ip -n %s %s: %w\n%s", n.Name, strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// Sysctl sets a sysctl inside the namespace (net.* sysctls are per
// namespace).
func (n *NetNS) Sysctl(key, value string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "ip", "netns", "exec", n.Name, "sysctl", "-qw", key+"="+value).CombinedOutput(); err != nil {
		return fmt.Errorf("sysctl %s=%s in %s: %w\n%s", key, value, n.Name, err, out)
	}
	return nil
}

// Do runs fn on an OS thread switched into the namespace; sockets fn opens
// belong to the namespace. The thread returns to its namespace afterwards
// (and is discarded if it cannot).
func (n *NetNS) Do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- fmt.Errorf("reading the thread's namespace: %w", err)
			return // the thread ends with the goroutine
		}
		defer orig.Close()
		if err := netns.Set(n.Handle); err != nil {
			errc <- fmt.Errorf("entering namespace %s: %w", n.Name, err)
			return
		}
		errc <- fn()
		// Back to the original namespace, and the thread back to the
		// pool. Letting the thread end instead would fire the
		// Pdeathsig of any child process that thread once started.
		if netns.Set(orig) == nil {
			runtime.UnlockOSThread()
		}
	}()
	return <-errc
}

// Underlay is the shared L2 network of the nodes: a bridge in a namespace
// of its own.
type Underlay struct {
	NS    *NetNS
	nodes int
}

// Node is a host: a namespace on the underlay, routing for its pods.
type Node struct {
	NS *NetNS
	// IP is the node's underlay address.
	IP   netip.Prefix
	pods int
}

// Pod is a workload: a namespace with a veth into its node, Calico-style
// (a /32 address, default route via 169.254.1.1, the node's end of the
// veth ee:ee:ee:ee:ee:ee with proxy ARP).
type Pod struct {
	NS   *NetNS
	IP   netip.Addr
	Node *Node
	// Veth is the node's end of the pod's veth, in the node's namespace:
	// the WorkloadEndpoint's spec.interfaceName.
	Veth string
}

// NewUnderlay creates the underlay namespace with its bridge br0.
func NewUnderlay(prefix string) (*Underlay, error) {
	ns, err := NewNetNS(prefix + "u-")
	if err != nil {
		return nil, err
	}
	u := &Underlay{NS: ns}
	if err := errors.Join(ns.IP("link", "add", "br0", "type", "bridge"), ns.IP("link", "set", "br0", "up")); err != nil {
		return nil, errors.Join(err, ns.Delete())
	}
	return u, nil
}

// AddNode creates a node namespace whose eth0 is a port of the bridge.
func (u *Underlay) AddNode(prefix string, ip netip.Prefix) (*Node, error) {
	ns, err := NewNetNS(prefix)
	if err != nil {
		return nil, err
	}
	u.nodes++
	port := fmt.Sprintf("port%d", u.nodes)
	err = errors.Join(
		u.NS.IP("link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns.Name),
		u.NS.IP("link", "set", port, "master", "br0"),
		u.NS.IP("link", "set", port, "up"),
		ns.IP("addr", "add", ip.String(), "dev", "eth0"),
		ns.IP("link", "set", "eth0", "up"),
		ns.Sysctl("net.ipv4.ip_forward", "1"),
		ns.Sysctl("net.ipv4.conf.all.rp_filter", "0"),
		ns.Sysctl("net.ipv4.conf.default.rp_filter", "0"),
	)
	if err != nil {
		return nil, errors.Join(err, ns.Delete())
	}
	return &Node{NS: ns, IP: ip}, nil
}

// AddPod creates a pod namespace with address ip behind node n, its veth
// named cali<n> on the node.
func (n *Node) AddPod(prefix string, ip netip.Addr) (*Pod, error) {
	return n.AddPodVeth(prefix, ip, fmt.Sprintf("cali%d", n.pods+1))
}

// AddPodVeth creates a pod namespace with address ip behind node n, the
// node's end of its veth named veth (at most 15 bytes).
func (n *Node) AddPodVeth(prefix string, ip netip.Addr, veth string) (*Pod, error) {
	ns, err := NewNetNS(prefix)
	if err != nil {
		return nil, err
	}
	n.pods++
	err = errors.Join(
		n.NS.IP("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns.Name),
		n.NS.IP("link", "set", veth, "address", "ee:ee:ee:ee:ee:ee"),
		n.NS.IP("link", "set", veth, "up"),
		n.NS.Sysctl("net.ipv4.conf."+veth+".proxy_arp", "1"),
		n.NS.IP("route", "add", ip.String()+"/32", "dev", veth),
		ns.IP("addr", "add", ip.String()+"/32", "dev", "eth0"),
		ns.IP("link", "set", "eth0", "up"),
		ns.IP("route", "add", "169.254.1.1", "dev", "eth0"),
		// The gateway is the node's end of the veth (proxy ARP would
		// answer only if the node had a route to 169.254.1.1).
		ns.IP("neigh", "add", "169.254.1.1", "lladdr", "ee:ee:ee:ee:ee:ee", "dev", "eth0", "nud", "permanent"),
		ns.IP("route", "add", "default", "via", "169.254.1.1", "dev", "eth0"),
	)
	if err != nil {
		return nil, errors.Join(err, ns.Delete())
	}
	return &Pod{NS: ns, IP: ip, Node: n, Veth: veth}, nil
}

// Ping sends count ICMP echo requests to target, waiting up to wait for
// each reply, and returns how many replies came.
func (p *Pod) Ping(target netip.Addr, count int, wait time.Duration) (int, error) {
	var conn net.PacketConn
	if err := p.NS.Do(func() (err error) {
		conn, err = net.ListenPacket("ip4:icmp", p.IP.String())
		return err
	}); err != nil {
		return 0, fmt.Errorf("icmp socket in %s: %w", p.NS.Name, err)
	}
	defer conn.Close()
	b := make([]byte, 2)
	_, _ = rand.Read(b)
	id := binary.BigEndian.Uint16(b)
	received := 0
	for seq := uint16(1); seq <= uint16(count); seq++ {
		msg := make([]byte, 16)
		msg[0] = 8 // echo request
		binary.BigEndian.PutUint16(msg[4:], id)
		binary.BigEndian.PutUint16(msg[6:], seq)
		copy(msg[8:], "meshapi!")
		binary.BigEndian.PutUint16(msg[2:], icmpChecksum(msg))
		if _, err := conn.WriteTo(msg, &net.IPAddr{IP: target.AsSlice()}); err != nil {
			time.Sleep(wait)
			continue
		}
		deadline := time.Now().Add(wait)
		_ = conn.SetReadDeadline(deadline)
		buf := make([]byte, 1500)
		for {
			n, from, err := conn.ReadFrom(buf)
			if err != nil {
				break
			}
			if n >= 8 && buf[0] == 0 && binary.BigEndian.Uint16(buf[4:]) == id && binary.BigEndian.Uint16(buf[6:]) == seq &&
				from.(*net.IPAddr).IP.Equal(target.AsSlice()) {
				received++
				break
			}
		}
	}
	return received, nil
}

func icmpChecksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// ServeSourceAddress listens on the pod's IP and port and answers every
// TCP connection with the source address it came from, until the
// returned listener is closed.
func (p *Pod) ServeSourceAddress(port int) (net.Listener, error) {
	var ln net.Listener
	if err := p.NS.Do(func() (err error) {
		ln, err = net.Listen("tcp4", netip.AddrPortFrom(p.IP, uint16(port)).String())
		return err
	}); err != nil {
		return nil, fmt.Errorf("listening in %s: %w", p.NS.Name, err)
	}
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
	return ln, nil
}

// Connect opens a TCP connection from the pod to server within timeout
// and closes it: nil means the handshake completed.
func (p *Pod) Connect(server netip.AddrPort, timeout time.Duration) error {
	var conn net.Conn
	if err := p.NS.Do(func() (err error) {
		conn, err = (&net.Dialer{Timeout: timeout}).Dial("tcp4", server.String())
		return err
	}); err != nil {
		return fmt.Errorf("TCP from %s to %s: %w", p.IP, server, err)
	}
	return conn.Close()
}

// SourceSeen connects to a ServeSourceAddress server and returns the
// source address the server saw.
func (p *Pod) SourceSeen(server netip.AddrPort, timeout time.Duration) (string, error) {
	var conn net.Conn
	if err := p.NS.Do(func() (err error) {
		conn, err = (&net.Dialer{Timeout: timeout}).Dial("tcp4", server.String())
		return err
	}); err != nil {
		return "", fmt.Errorf("TCP from %s to %s: %w", p.IP, server, err)
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(timeout))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("reading from %s: %w", server, err)
	}
	return strings.TrimSpace(line), nil
}

// counterTable is the table of CountUDP in the underlay namespace.
var counterTable = &nftables.Table{Name: "e2e-underlay", Family: nftables.TableFamilyBridge}

// CountUDP makes the bridge count the IPv4 UDP packets to port it
// forwards between nodes (nftables, bridge family, in the underlay
// namespace).
func (u *Underlay) CountUDP(port uint16) error {
	c, err := nftables.New(nftables.WithNetNSFd(int(u.NS.Handle)))
	if err != nil {
		return err
	}
	c.AddTable(counterTable)
	ch := c.AddChain(&nftables.Chain{Name: "forward", Table: counterTable, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter})
	c.AddRule(&nftables.Rule{Table: counterTable, Chain: ch, Exprs: []expr.Any{
		&expr.Meta{Key: expr.MetaKeyPROTOCOL, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{0x08, 0x00}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 9, Len: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_UDP}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binary.BigEndian.AppendUint16(nil, port)},
		&expr.Counter{},
	}})
	if err := c.Flush(); err != nil {
		return fmt.Errorf("adding the UDP counter to %s: %w", u.NS.Name, err)
	}
	return nil
}

// UDPCount returns the packets CountUDP has counted so far.
func (u *Underlay) UDPCount() (uint64, error) {
	c, err := nftables.New(nftables.WithNetNSFd(int(u.NS.Handle)))
	if err != nil {
		return 0, err
	}
	rules, err := c.GetRules(counterTable, &nftables.Chain{Name: "forward", Table: counterTable})
	if err != nil {
		return 0, fmt.Errorf("reading the UDP counter in %s: %w", u.NS.Name, err)
	}
	for _, r := range rules {
		for _, e := range r.Exprs {
			if ctr, ok := e.(*expr.Counter); ok {
				return ctr.Packets, nil
			}
		}
	}
	return 0, fmt.Errorf("no UDP counter in %s", u.NS.Name)
}

// UDPCountPort returns the packets counted so far by the CountUDP counter
// of port (CountUDP may be called for several ports; UDPCount reads the
// first one's).
func (u *Underlay) UDPCountPort(port uint16) (uint64, error) {
	c, err := nftables.New(nftables.WithNetNSFd(int(u.NS.Handle)))
	if err != nil {
		return 0, err
	}
	rules, err := c.GetRules(counterTable, &nftables.Chain{Name: "forward", Table: counterTable})
	if err != nil {
		return 0, fmt.Errorf("reading the UDP counters in %s: %w", u.NS.Name, err)
	}
	want := binary.BigEndian.AppendUint16(nil, port)
	for _, r := range rules {
		match := false
		for _, e := range r.Exprs {
			switch e := e.(type) {
			case *expr.Cmp:
				if len(e.Data) == 2 && string(e.Data) == string(want) {
					match = true
				}
			case *expr.Counter:
				if match {
					return e.Packets, nil
				}
			}
		}
	}
	return 0, fmt.Errorf("no UDP counter for port %d in %s", port, u.NS.Name)
}
