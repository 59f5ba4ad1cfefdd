package dataplane

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// VXLAN encapsulation overhead: outer IP + UDP + VXLAN + inner Ethernet.
const (
	overheadIPv4 = 20 + 8 + 8 + 14
	overheadIPv6 = 40 + 8 + 8 + 14
)

// ensureDevice makes the VXLAN device match cfg (which has its defaults
// applied) and returns it as it now is.
func (d *Dataplane) ensureDevice(cfg VXLANConfig, st *Stats) (netlink.Link, error) {
	parentIndex, mtu, err := d.parent(cfg)
	if err != nil {
		return nil, err
	}
	want := &netlink.Vxlan{
		LinkAttrs:    netlink.LinkAttrs{Name: cfg.Name, MTU: mtu, HardwareAddr: cfg.LocalMAC},
		VxlanId:      cfg.VNI,
		Port:         cfg.Port,
		VtepDevIndex: parentIndex,
		Learning:     false,
	}
	if cfg.ParentIP.IsValid() {
		want.SrcAddr = net.IP(cfg.ParentIP.AsSlice())
	}

	if err := d.createOrReplaceDevice(cfg, want, st); err != nil {
		return nil, err
	}
	return d.updateDevice(cfg, mtu, st)
}

// createOrReplaceDevice creates the VXLAN device want, or replaces the one
// of its name whose attributes differ; the MAC of the device it replaces
// (or of the one it had, deleted since) is kept unless cfg sets one.
func (d *Dataplane) createOrReplaceDevice(cfg VXLANConfig, want *netlink.Vxlan, st *Stats) error {
	link, err := d.h.LinkByName(cfg.Name)
	switch {
	case isNotFound(err):
		if cfg.LocalMAC == nil && d.mac != nil {
			// The device we had is gone (deleted by hand?): keep its MAC,
			// which the other nodes have in their neighbour and FDB
			// entries.
			want.HardwareAddr = d.mac
		}
		if err := d.h.LinkAdd(want); err != nil {
			return fmt.Errorf("creating VXLAN device %s (VNI %d, port %d): %w", cfg.Name, cfg.VNI, cfg.Port, err)
		}
		st.DeviceCreated = true
		d.log.Info("created VXLAN device", "device", cfg.Name, "vni", cfg.VNI, "port", cfg.Port, "mtu", want.MTU)
	case err != nil:
		return fmt.Errorf("looking up VXLAN device %s: %w", cfg.Name, err)
	default:
		have, ok := link.(*netlink.Vxlan)
		if !ok {
			return fmt.Errorf("device %s exists but is of type %q, not vxlan: not touching it", cfg.Name, link.Type())
		}
		if why := vxlanMismatch(have, want); why != "" {
			if cfg.LocalMAC == nil {
				// Keep the MAC the other nodes know.
				want.HardwareAddr = have.HardwareAddr
			}
			if err := d.h.LinkDel(have); err != nil && !isNotFound(err) {
				return fmt.Errorf("deleting VXLAN device %s to replace it (%s): %w", cfg.Name, why, err)
			}
			if err := d.h.LinkAdd(want); err != nil {
				return fmt.Errorf("re-creating VXLAN device %s (%s): %w", cfg.Name, why, err)
			}
			st.DeviceReplaced = true
			d.log.Info("replaced VXLAN device", "device", cfg.Name, "reason", why)
		}
	}

	return nil
}

// updateDevice sets the MAC (if cfg sets one), the MTU, the address and
// the up flag of the VXLAN device where they differ, and returns the
// device as it is then.
func (d *Dataplane) updateDevice(cfg VXLANConfig, mtu int, st *Stats) (netlink.Link, error) {
	link, err := d.h.LinkByName(cfg.Name)
	if err != nil {
		return nil, fmt.Errorf("looking up VXLAN device %s: %w", cfg.Name, err)
	}
	attrs := link.Attrs()
	if cfg.LocalMAC != nil && !bytes.Equal(attrs.HardwareAddr, cfg.LocalMAC) {
		if err := d.h.LinkSetHardwareAddr(link, cfg.LocalMAC); err != nil {
			return nil, fmt.Errorf("setting MAC %s on VXLAN device %s: %w", cfg.LocalMAC, cfg.Name, err)
		}
		st.DeviceUpdated = true
	}
	if attrs.MTU != mtu {
		if err := d.h.LinkSetMTU(link, mtu); err != nil {
			return nil, fmt.Errorf("setting MTU %d on VXLAN device %s: %w", mtu, cfg.Name, err)
		}
		st.DeviceUpdated = true
	}
	if err := d.ensureAddress(link, cfg, st); err != nil {
		return nil, err
	}
	if attrs.Flags&net.FlagUp == 0 {
		if err := d.h.LinkSetUp(link); err != nil {
			return nil, fmt.Errorf("setting VXLAN device %s up: %w", cfg.Name, err)
		}
		if !st.DeviceCreated && !st.DeviceReplaced {
			st.DeviceUpdated = true
		}
	}
	if st.DeviceUpdated {
		if link, err = d.h.LinkByName(cfg.Name); err != nil {
			return nil, fmt.Errorf("looking up VXLAN device %s: %w", cfg.Name, err)
		}
	}
	return link, nil
}

// parent finds the link that holds cfg.ParentIP and the MTU the VXLAN
// device should have.
func (d *Dataplane) parent(cfg VXLANConfig) (index, mtu int, err error) {
	overhead := overheadIPv4
	if cfg.ParentIP.IsValid() && !cfg.ParentIP.Is4() {
		overhead = overheadIPv6
	}
	parentMTU := 1500
	if cfg.ParentIP.IsValid() {
		family := netlink.FAMILY_V4
		if !cfg.ParentIP.Is4() {
			family = netlink.FAMILY_V6
		}
		addrs, err := d.h.AddrList(nil, family)
		if err != nil {
			return 0, 0, fmt.Errorf("listing addresses to find the parent of %s: %w", cfg.Name, err)
		}
		for _, a := range addrs {
			if ip, ok := netip.AddrFromSlice(a.IP); ok && ip.Unmap() == cfg.ParentIP {
				index = a.LinkIndex
				break
			}
		}
		if index == 0 {
			return 0, 0, fmt.Errorf("no link holds the parent address %s of VXLAN device %s", cfg.ParentIP, cfg.Name)
		}
		p, err := d.h.LinkByIndex(index)
		if err != nil {
			return 0, 0, fmt.Errorf("looking up the parent (index %d, %s) of VXLAN device %s: %w", index, cfg.ParentIP, cfg.Name, err)
		}
		parentMTU = p.Attrs().MTU
	}
	if cfg.MTU > 0 {
		return index, cfg.MTU, nil
	}
	return index, parentMTU - overhead, nil
}

// vxlanMismatch says why an existing device cannot be kept ("" if it can).
func vxlanMismatch(have, want *netlink.Vxlan) string {
	switch {
	case have.VxlanId != want.VxlanId:
		return fmt.Sprintf("VNI %d, want %d", have.VxlanId, want.VxlanId)
	case have.Port != want.Port:
		return fmt.Sprintf("port %d, want %d", have.Port, want.Port)
	case !ipEqual(have.SrcAddr, want.SrcAddr):
		return fmt.Sprintf("source %v, want %v", have.SrcAddr, want.SrcAddr)
	case want.VtepDevIndex != 0 && have.VtepDevIndex != want.VtepDevIndex:
		return fmt.Sprintf("parent index %d, want %d", have.VtepDevIndex, want.VtepDevIndex)
	case have.Learning:
		return "learning on"
	case len(have.Group) > 0 && !have.Group.IsUnspecified():
		return fmt.Sprintf("group %v set", have.Group)
	case have.FlowBased:
		return "external (flow-based)"
	}
	return ""
}

func ipEqual(a, b net.IP) bool {
	unset := func(ip net.IP) bool { return len(ip) == 0 || ip.IsUnspecified() }
	if unset(a) || unset(b) {
		return unset(a) && unset(b)
	}
	return a.Equal(b)
}

// ensureAddress makes the VTEP IP the device's only global address.
func (d *Dataplane) ensureAddress(link netlink.Link, cfg VXLANConfig, st *Stats) error {
	addrs, err := d.h.AddrList(link, netlink.FAMILY_ALL)
	if err != nil {
		return fmt.Errorf("listing addresses of VXLAN device %s: %w", cfg.Name, err)
	}
	var want netip.Prefix
	if cfg.LocalVTEP.IsValid() {
		want = netip.PrefixFrom(cfg.LocalVTEP, cfg.LocalVTEP.BitLen())
	}
	found := false
	for _, a := range addrs {
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok || a.IPNet == nil {
			continue
		}
		ip = ip.Unmap()
		if ip.IsLinkLocalUnicast() && ip.Is6() {
			continue // the kernel's own fe80::/64
		}
		ones, _ := a.Mask.Size()
		if netip.PrefixFrom(ip, ones) == want {
			found = true
			continue
		}
		if err := d.h.AddrDel(link, &a); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
			return fmt.Errorf("removing address %s from VXLAN device %s: %w", a.IPNet, cfg.Name, err)
		}
		st.DeviceUpdated = true
	}
	if want.IsValid() && !found {
		addr := &netlink.Addr{IPNet: prefixToIPNet(want)}
		if err := d.h.AddrReplace(link, addr); err != nil {
			return fmt.Errorf("adding address %s to VXLAN device %s: %w", want, cfg.Name, err)
		}
		if !st.DeviceCreated && !st.DeviceReplaced {
			st.DeviceUpdated = true
		}
	}
	return nil
}

// removeDevice deletes the VXLAN device name if it exists (routes through
// it, its neighbours and FDB entries go with it).
func (d *Dataplane) removeDevice(name string, st *Stats) error {
	link, err := d.h.LinkByName(name)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("looking up VXLAN device %s: %w", name, err)
	}
	if _, ok := link.(*netlink.Vxlan); !ok {
		return fmt.Errorf("device %s is of type %q, not vxlan: not deleting it", name, link.Type())
	}
	if err := d.h.LinkDel(link); err != nil && !isNotFound(err) {
		return fmt.Errorf("deleting VXLAN device %s: %w", name, err)
	}
	st.DeviceRemoved = true
	d.log.Info("deleted VXLAN device", "device", name)
	return nil
}

func isNotFound(err error) bool {
	if err == nil {
		return false
	}
	var nf netlink.LinkNotFoundError
	return errors.As(err, &nf) || errors.Is(err, unix.ENODEV)
}

func prefixToIPNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}
