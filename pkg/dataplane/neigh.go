package dataplane

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// readNeighbours fills k with the permanent neighbours (both families) and
// the FDB entries of the device k.linkIndex. Entries the kernel made itself
// (not permanent) are ignored: they are the kernel's to manage.
func (d *Dataplane) readNeighbours(k *kernelState) error {
	for _, family := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		neighs, err := d.listNeigh(k.linkIndex, family)
		if err != nil {
			return fmt.Errorf("listing neighbours of device index %d: %w", k.linkIndex, err)
		}
		for _, n := range neighs {
			if n.LinkIndex != k.linkIndex || n.State&netlink.NUD_PERMANENT == 0 || len(n.HardwareAddr) == 0 {
				continue
			}
			ip, ok := netip.AddrFromSlice(n.IP)
			if !ok {
				continue
			}
			k.neighs[ip.Unmap()] = n.HardwareAddr.String()
		}
	}

	entries, err := d.listNeigh(k.linkIndex, unix.AF_BRIDGE)
	if err != nil {
		return fmt.Errorf("listing FDB entries of device index %d: %w", k.linkIndex, err)
	}
	for _, n := range entries {
		if n.LinkIndex != k.linkIndex || n.Flags&netlink.NTF_SELF == 0 || len(n.HardwareAddr) == 0 {
			continue
		}
		ip, ok := netip.AddrFromSlice(n.IP)
		if !ok {
			continue // not a VXLAN remote (no destination)
		}
		k.setFDB(n.HardwareAddr.String(), ip.Unmap())
	}
	return nil
}

func (d *Dataplane) listNeigh(linkIndex, family int) ([]netlink.Neigh, error) {
	var (
		out []netlink.Neigh
		err error
	)
	for range dumpRetries {
		out, err = d.h.NeighList(linkIndex, family)
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			break
		}
	}
	return out, err
}

func ipFamily(ip netip.Addr) int {
	if ip.Is4() {
		return netlink.FAMILY_V4
	}
	return netlink.FAMILY_V6
}

// setNeigh adds or replaces the permanent neighbour VTEP IP -> MAC.
func (d *Dataplane) setNeigh(linkIndex int, o neighOp, mac net.HardwareAddr, dev string, st *Stats) error {
	n := &netlink.Neigh{
		LinkIndex:    linkIndex,
		Family:       ipFamily(o.ip),
		State:        netlink.NUD_PERMANENT,
		Type:         unix.RTN_UNICAST,
		IP:           net.IP(o.ip.AsSlice()),
		HardwareAddr: mac,
	}
	if err := d.h.NeighSet(n); err != nil {
		return fmt.Errorf("setting neighbour %s lladdr %s dev %s: %w", o.ip, o.mac, dev, err)
	}
	if o.update {
		st.NeighborsUpdated++
	} else {
		st.NeighborsAdded++
	}
	d.known.setNeigh(o.ip, o.mac)
	return nil
}

// delNeigh deletes the neighbour of o.ip on our device.
func (d *Dataplane) delNeigh(linkIndex int, o neighOp, dev string, st *Stats) error {
	n := &netlink.Neigh{
		LinkIndex: linkIndex,
		Family:    ipFamily(o.ip),
		IP:        net.IP(o.ip.AsSlice()),
	}
	err := d.h.NeighDel(n)
	switch {
	case err == nil:
		st.NeighborsRemoved++
	case errors.Is(err, unix.ENOENT):
	default:
		return fmt.Errorf("deleting neighbour %s lladdr %s dev %s: %w", o.ip, o.mac, dev, err)
	}
	d.known.delNeigh(o.ip)
	return nil
}

// setFDB adds the permanent FDB entry MAC -> node IP, replacing the remote
// of an existing entry for that MAC.
func (d *Dataplane) setFDB(linkIndex int, o fdbOp, mac net.HardwareAddr, dev string, st *Stats) error {
	if err := d.h.NeighSet(fdbEntry(linkIndex, o.ip, mac)); err != nil {
		return fmt.Errorf("setting FDB entry %s dst %s dev %s: %w", o.mac, o.ip, dev, err)
	}
	if o.update {
		st.FDBUpdated++
	} else {
		st.FDBAdded++
	}
	d.known.setFDB(o.mac, o.ip)
	return nil
}

// fdbEntry is the permanent FDB entry mac -> the node IP ip on our device.
func fdbEntry(linkIndex int, ip netip.Addr, mac net.HardwareAddr) *netlink.Neigh {
	return &netlink.Neigh{
		LinkIndex:    linkIndex,
		Family:       unix.AF_BRIDGE,
		State:        netlink.NUD_PERMANENT,
		Flags:        netlink.NTF_SELF,
		IP:           net.IP(ip.AsSlice()),
		HardwareAddr: mac,
	}
}

// delFDB deletes the FDB entry MAC -> IP (only that remote of the MAC).
func (d *Dataplane) delFDB(linkIndex int, o fdbOp, dev string, st *Stats) error {
	hw, err := net.ParseMAC(o.mac)
	if err != nil {
		return fmt.Errorf("deleting FDB entry %s dst %s dev %s: %w", o.mac, o.ip, dev, err)
	}
	err = d.h.NeighDel(fdbEntry(linkIndex, o.ip, hw))
	switch {
	case err == nil:
		st.FDBRemoved++
	case errors.Is(err, unix.ENOENT):
	default:
		return fmt.Errorf("deleting FDB entry %s dst %s dev %s: %w", o.mac, o.ip, dev, err)
	}
	d.known.delFDB(o.mac, o.ip)
	return nil
}
