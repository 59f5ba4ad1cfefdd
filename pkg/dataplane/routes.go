package dataplane

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// dumpRetries bounds the retries of a netlink dump that the kernel reports
// as interrupted (the table changed while it was read).
const dumpRetries = 5

// listRoutes returns the routes of the main table that carry our protocol,
// in both families.
func (d *Dataplane) listRoutes() ([]kernelRoute, error) {
	filter := &netlink.Route{Protocol: d.proto}
	var (
		routes []netlink.Route
		err    error
	)
	for range dumpRetries {
		routes, err = d.h.RouteListFiltered(netlink.FAMILY_ALL, filter, netlink.RT_FILTER_PROTOCOL)
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("listing routes with protocol %d: %w", d.proto, err)
	}
	out := make([]kernelRoute, 0, len(routes))
	for _, r := range routes {
		if r.Protocol != d.proto || (r.Table != 0 && r.Table != mainTable) {
			continue // the filter already ensures this; never trust a dump blindly
		}
		out = append(out, fromNetlinkRoute(r))
	}
	return out, nil
}

func fromNetlinkRoute(r netlink.Route) kernelRoute {
	kr := kernelRoute{
		linkIndex: r.LinkIndex,
		onlink:    r.Flags&int(netlink.FLAG_ONLINK) != 0,
		priority:  r.Priority,
		table:     r.Table,
	}
	if kr.table == 0 {
		kr.table = mainTable
	}
	if r.Dst != nil {
		if ip, ok := netip.AddrFromSlice(r.Dst.IP); ok {
			ones, _ := r.Dst.Mask.Size()
			kr.dst = netip.PrefixFrom(ip.Unmap(), ones).Masked()
		}
	}
	if !kr.dst.IsValid() {
		// A default route: the kernel leaves RTA_DST out.
		if r.Family == netlink.FAMILY_V6 {
			kr.dst = netip.PrefixFrom(netip.IPv6Unspecified(), 0)
		} else {
			kr.dst = netip.PrefixFrom(netip.IPv4Unspecified(), 0)
		}
	}
	if ip, ok := netip.AddrFromSlice(r.Gw); ok {
		kr.gw = ip.Unmap()
	}
	return kr
}

// toNetlink is the netlink form of a route of ours.
func (d *Dataplane) toNetlink(r kernelRoute) *netlink.Route {
	nr := &netlink.Route{
		LinkIndex: r.linkIndex,
		Dst:       prefixToIPNet(r.dst),
		Protocol:  d.proto,
		Priority:  r.priority,
		Table:     r.table,
	}
	if r.gw.IsValid() {
		nr.Gw = net.IP(r.gw.AsSlice())
	}
	if r.onlink {
		nr.Flags = int(netlink.FLAG_ONLINK)
	}
	return nr
}

// describeRoute names r for an error message; dev is our device's name,
// used when r goes through it.
func (d *Dataplane) describeRoute(r kernelRoute, dev string) string {
	s := r.dst.String()
	if r.gw.IsValid() {
		s += " via " + r.gw.String()
	}
	if d.known == nil || r.linkIndex != d.known.linkIndex {
		return fmt.Sprintf("%s ifindex %d proto %d", s, r.linkIndex, d.proto)
	}
	return s + " dev " + dev
}

// addRoute adds r (replace: replaces our route in the same slot). A plain
// add that finds the destination taken means a route of another owner is
// there: that is reported as a conflict, and the route is left alone.
func (d *Dataplane) addRoute(r kernelRoute, dev string, replace bool, st *Stats) error {
	nr := d.toNetlink(r)
	if replace {
		if err := d.h.RouteReplace(nr); err != nil {
			return fmt.Errorf("replacing route %s: %w", d.describeRoute(r, dev), err)
		}
		st.RoutesUpdated++
	} else {
		if err := d.h.RouteAdd(nr); err != nil {
			if errors.Is(err, unix.EEXIST) {
				st.Conflicts++
				return &RouteConflictError{Dst: r.dst, msg: fmt.Sprintf("adding route %s: a route not tagged with protocol %d holds the destination", d.describeRoute(r, dev), d.proto), err: err}
			}
			return fmt.Errorf("adding route %s: %w", d.describeRoute(r, dev), err)
		}
		st.RoutesAdded++
	}
	if d.known != nil {
		d.known.putRoute(r)
	}
	return nil
}

// delRoute deletes a route of ours. The request names our protocol, so the
// kernel never deletes a route of another owner in its place.
func (d *Dataplane) delRoute(r kernelRoute, dev string, st *Stats) error {
	err := d.h.RouteDel(d.toNetlink(r))
	switch {
	case err == nil:
		st.RoutesRemoved++
	case errors.Is(err, unix.ESRCH) || errors.Is(err, unix.ENOENT):
		// Already gone.
	default:
		return fmt.Errorf("deleting route %s: %w", d.describeRoute(r, dev), err)
	}
	if d.known != nil {
		d.known.delRoute(r)
	}
	return nil
}

// RouteConflictError says a route was not added because a route of
// another owner (not tagged with our protocol) holds its destination. The
// foreign route is left alone; a later Apply or Resync tries again.
type RouteConflictError struct {
	// Dst is the destination both routes claim.
	Dst netip.Prefix
	msg string
	err error
}

// Error implements error.
func (e *RouteConflictError) Error() string { return e.msg + ": " + e.err.Error() }

// Unwrap returns the netlink error (EEXIST).
func (e *RouteConflictError) Unwrap() error { return e.err }

// SplitConflicts separates, in an error of Apply or Resync, the route
// conflicts from the other failures: a conflict is a fact about the node
// to report, not a failure of the dataplane.
func SplitConflicts(err error) (conflicts []*RouteConflictError, rest error) {
	switch e := err.(type) {
	case nil:
		return nil, nil
	case *RouteConflictError:
		return []*RouteConflictError{e}, nil
	case interface{ Unwrap() []error }:
		var others []error
		for _, x := range e.Unwrap() {
			c, r := SplitConflicts(x)
			conflicts = append(conflicts, c...)
			if r != nil {
				others = append(others, r)
			}
		}
		return conflicts, errors.Join(others...)
	}
	return nil, err
}
