package cni

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// RouteProtocol tags the host routes to pods (rtm_protocol 83,
// "meshapi-cni"). It is not the agent's 82: the agent's dataplane removes
// every route tagged 82 that it did not compute itself, and the pod
// routes belong to the plugin. `ip route show proto 83` lists them.
const RouteProtocol netlink.RouteProtocol = 83

// Gateway is the pod's default gateway: a link-local address no host
// holds, answered by proxy ARP on the host side of the veth.
var Gateway = netip.MustParseAddr("169.254.1.1")

// HostMAC is the MAC of every host-side veth, as Calico sets it.
var HostMAC = net.HardwareAddr{0xee, 0xee, 0xee, 0xee, 0xee, 0xee}

// Wiring is one pod interface: the veth pair between the node's network
// namespace (the plugin's own) and the pod's.
type Wiring struct {
	// Netns is the path of the pod's network namespace.
	Netns string
	// IfName is the pod-side name (CNI_IFNAME, eth0).
	IfName string
	// HostIf is the host-side name (podendpoints.InterfaceName).
	HostIf string
	// Addrs are the pod's addresses (IPv4).
	Addrs []netip.Addr
	// MTU of both sides.
	MTU int
}

// Links are the two sides of a pod's veth after Setup.
type Links struct {
	Host, Pod netlink.Link
}

// Setup creates the veth pair, addresses the pod side, routes it, and
// turns on proxy ARP and the host route on the host side. A host-side
// link of the same name (left over from an earlier sandbox of the pod) is
// replaced. On failure nothing it created is left behind.
func (w Wiring) Setup() (*Links, error) {
	for _, a := range w.Addrs {
		if !a.Is4() {
			return nil, fmt.Errorf("address %s: only IPv4 pod addresses are supported", a)
		}
	}
	podNS, err := ns.GetNS(w.Netns)
	if err != nil {
		return nil, fmt.Errorf("opening the pod's network namespace %s: %w", w.Netns, err)
	}
	defer podNS.Close()
	hostH, podH, err := routeHandles(podNS)
	if err != nil {
		return nil, fmt.Errorf("netlink in %s: %w", w.Netns, err)
	}
	defer hostH.Close()
	defer podH.Close()

	veth := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: w.HostIf, MTU: w.MTU, HardwareAddr: HostMAC, TxQLen: -1},
		PeerName:      w.IfName,
		PeerNamespace: netlink.NsFd(int(podNS.Fd())),
	}
	if err := w.addVeth(hostH, veth); err != nil {
		return nil, fmt.Errorf("creating veth %s (pod side %s in %s): %w", w.HostIf, w.IfName, w.Netns, err)
	}
	links, err := w.configure(hostH, podH, veth)
	if err != nil {
		_ = hostH.LinkDel(veth)
		return nil, err
	}
	return links, nil
}

// addVeth creates veth. When its host-side name is taken (by the link of
// an earlier sandbox of the pod) that link is deleted and veth created
// again: an ADD asks the kernel once, not first whether the name is free.
// On success veth's Index is the host side's (netlink reads it back).
func (w Wiring) addVeth(hostH *netlink.Handle, veth *netlink.Veth) error {
	err := hostH.LinkAdd(veth)
	if !errors.Is(err, unix.EEXIST) {
		return err
	}
	old, lerr := hostH.LinkByName(w.HostIf)
	if lerr != nil {
		return err // the name taken is the pod side's
	}
	if err := hostH.LinkDel(old); err != nil {
		return fmt.Errorf("deleting the stale host interface %s: %w", w.HostIf, err)
	}
	return hostH.LinkAdd(veth)
}

// routeHandles opens one rtnetlink socket in the plugin's namespace and
// one in the pod's, for all the requests of an invocation (the package
// functions of netlink open a socket per request, and a handle made
// without a family opens the XFRM and netfilter sockets too).
func routeHandles(podNS ns.NetNS) (host, pod *netlink.Handle, err error) {
	host, err = netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, nil, err
	}
	pod, err = netlink.NewHandleAt(nsHandle(podNS), unix.NETLINK_ROUTE)
	if err != nil {
		host.Close()
		return nil, nil, err
	}
	return host, pod, nil
}

// configure sets up both sides of veth, just created: the host side by
// the index LinkAdd read back, the pod side looked up once (its index
// and the MAC the kernel gave it).
func (w Wiring) configure(hostH, podH *netlink.Handle, veth *netlink.Veth) (*Links, error) {
	var host netlink.Link = veth
	if veth.Index == 0 {
		l, err := hostH.LinkByName(w.HostIf)
		if err != nil {
			return nil, fmt.Errorf("finding host interface %s: %w", w.HostIf, err)
		}
		host = l
	}
	if err := w.configureHost(hostH, host); err != nil {
		return nil, err
	}
	pod, err := podH.LinkByName(w.IfName)
	if err != nil {
		return nil, fmt.Errorf("finding pod interface %s in %s: %w", w.IfName, w.Netns, err)
	}
	if err := w.configurePod(podH, pod); err != nil {
		return nil, err
	}
	for _, a := range w.Addrs {
		r := &netlink.Route{LinkIndex: host.Attrs().Index, Dst: hostPrefix(a), Scope: netlink.SCOPE_LINK, Protocol: RouteProtocol}
		if err := hostH.RouteReplace(r); err != nil {
			return nil, fmt.Errorf("adding host route %s dev %s: %w", a, w.HostIf, err)
		}
	}
	return &Links{Host: host, Pod: pod}, nil
}

// configureHost sets the sysctls of the host side and brings it up.
// IPv6 is turned off on it before it is up (pods are IPv4 only): a host
// side with IPv6 gets a link-local address and IPv6 routes in the
// node's tables, which the kernel walks whole whenever a link goes, so
// every DEL cost more the more pods the node had. A kernel without IPv6
// has no such sysctl, and needs none.
func (w Wiring) configureHost(hostH *netlink.Handle, host netlink.Link) error {
	for _, s := range []struct {
		key, value string
		ipv6       bool // absent from a kernel without IPv6
	}{
		{key: "net/ipv4/conf/" + w.HostIf + "/proxy_arp", value: "1"},
		{key: "net/ipv4/neigh/" + w.HostIf + "/proxy_delay", value: "0"},
		{key: "net/ipv4/conf/" + w.HostIf + "/forwarding", value: "1"},
		{key: "net/ipv6/conf/" + w.HostIf + "/disable_ipv6", value: "1", ipv6: true},
	} {
		if err := writeSysctl(s.key, s.value); err != nil && !(s.ipv6 && errors.Is(err, fs.ErrNotExist)) {
			return err
		}
	}
	if err := hostH.LinkSetUp(host); err != nil {
		return fmt.Errorf("setting host interface %s up: %w", w.HostIf, err)
	}
	return nil
}

// configurePod addresses the pod side and adds its routes.
func (w Wiring) configurePod(podH *netlink.Handle, pod netlink.Link) error {
	for _, a := range w.Addrs {
		if err := podH.AddrAdd(pod, &netlink.Addr{IPNet: hostPrefix(a)}); err != nil {
			return fmt.Errorf("adding address %s to %s: %w", a, w.IfName, err)
		}
	}
	if err := podH.LinkSetUp(pod); err != nil {
		return fmt.Errorf("setting pod interface %s up: %w", w.IfName, err)
	}
	gw := &netlink.Route{LinkIndex: pod.Attrs().Index, Dst: hostPrefix(Gateway), Scope: netlink.SCOPE_LINK}
	if err := podH.RouteReplace(gw); err != nil {
		return fmt.Errorf("adding route to the gateway %s dev %s: %w", Gateway, w.IfName, err)
	}
	def := &netlink.Route{LinkIndex: pod.Attrs().Index, Gw: Gateway.AsSlice(), Flags: int(netlink.FLAG_ONLINK)}
	if err := podH.RouteReplace(def); err != nil {
		return fmt.Errorf("adding default route via %s dev %s: %w", Gateway, w.IfName, err)
	}
	return nil
}

// Teardown deletes the pod's veth from inside the pod's namespace (the
// host side goes with it, and the host route with that). It never
// deletes by the host-side name: that name is the pod's, not the
// sandbox's, and may already belong to a newer sandbox of the same pod.
// A missing namespace or link is not an error (a veth dies with its
// namespace).
func (w Wiring) Teardown() error {
	if w.Netns == "" {
		return nil
	}
	podNS, err := ns.GetNS(w.Netns)
	if err != nil {
		return nil // the namespace is gone, and the veth with it
	}
	defer podNS.Close()
	podH, err := netlink.NewHandleAt(nsHandle(podNS), unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("netlink in %s: %w", w.Netns, err)
	}
	defer podH.Close()
	l, err := podH.LinkByName(w.IfName)
	if err != nil {
		return nil
	}
	if err := podH.LinkDel(l); err != nil && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("deleting pod interface %s in %s: %w", w.IfName, w.Netns, err)
	}
	return nil
}

// hostPrefix is a as a /32 (/128) *net.IPNet.
func hostPrefix(a netip.Addr) *net.IPNet {
	return &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(a.BitLen(), a.BitLen())}
}

// writeSysctl sets /proc/sys/<key> in the plugin's network namespace.
func writeSysctl(key, value string) error {
	p := filepath.Join("/proc/sys", key)
	if err := os.WriteFile(p, []byte(value), 0o644); err != nil { //nolint:gosec // procfs
		return fmt.Errorf("setting sysctl %s=%s: %w", key, value, err)
	}
	return nil
}
