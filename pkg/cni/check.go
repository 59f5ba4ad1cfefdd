package cni

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
)

// Check verifies that the wiring is in place: both sides of the veth up,
// every address on the pod side as a host prefix, the pod's gateway and
// default routes, the host routes and proxy ARP. It returns the first
// difference it finds.
func (w Wiring) Check() error {
	podNS, err := ns.GetNS(w.Netns)
	if err != nil {
		return fmt.Errorf("opening the pod's network namespace %s: %w", w.Netns, err)
	}
	defer podNS.Close()
	hostH, podH, err := routeHandles(podNS)
	if err != nil {
		return fmt.Errorf("netlink in %s: %w", w.Netns, err)
	}
	defer hostH.Close()
	defer podH.Close()
	host, err := hostH.LinkByName(w.HostIf)
	if err != nil {
		return fmt.Errorf("host interface %s: %w", w.HostIf, err)
	}
	if _, ok := host.(*netlink.Veth); !ok {
		return fmt.Errorf("host interface %s is a %s, not a veth", w.HostIf, host.Type())
	}
	if err := w.checkHost(hostH, host); err != nil {
		return err
	}
	return w.checkPod(podH)
}

// checkHost checks the host side's routes and proxy ARP.
func (w Wiring) checkHost(hostH *netlink.Handle, host netlink.Link) error {
	routes, err := hostH.RouteList(host, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("listing routes of %s: %w", w.HostIf, err)
	}
	for _, a := range w.Addrs {
		if !slices.ContainsFunc(routes, func(r netlink.Route) bool {
			return r.Dst != nil && r.Dst.String() == hostPrefix(a).String() && r.Protocol == RouteProtocol
		}) {
			return fmt.Errorf("host route %s dev %s proto %d: missing", a, w.HostIf, RouteProtocol)
		}
	}
	v, err := os.ReadFile(filepath.Join("/proc/sys/net/ipv4/conf", w.HostIf, "proxy_arp"))
	if err != nil {
		return fmt.Errorf("reading proxy_arp of %s: %w", w.HostIf, err)
	}
	if strings.TrimSpace(string(v)) != "1" {
		return fmt.Errorf("proxy_arp of %s is %s, want 1", w.HostIf, strings.TrimSpace(string(v)))
	}
	return nil
}

// checkPod checks the pod side's addresses and routes.
func (w Wiring) checkPod(podH *netlink.Handle) error {
	pod, err := podH.LinkByName(w.IfName)
	if err != nil {
		return fmt.Errorf("pod interface %s in %s: %w", w.IfName, w.Netns, err)
	}
	addrs, err := podH.AddrList(pod, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("listing addresses of %s: %w", w.IfName, err)
	}
	for _, a := range w.Addrs {
		if !slices.ContainsFunc(addrs, func(x netlink.Addr) bool { return x.IPNet.String() == hostPrefix(a).String() }) {
			return fmt.Errorf("address %s/32 on %s in %s: missing", a, w.IfName, w.Netns)
		}
	}
	routes, err := podH.RouteList(pod, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("listing routes of %s: %w", w.IfName, err)
	}
	if !slices.ContainsFunc(routes, func(r netlink.Route) bool {
		gw, _ := netip.AddrFromSlice(r.Gw)
		return (r.Dst == nil || r.Dst.String() == "0.0.0.0/0") && gw.Unmap() == Gateway
	}) {
		return fmt.Errorf("default route via %s dev %s in %s: missing", Gateway, w.IfName, w.Netns)
	}
	return nil
}
