package speaker

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// adoptStaleRoutes finds the routes of the speaker's protocol a previous
// run left in the kernel and takes them as learned, so that a best path
// to the same prefix replaces them and a withdrawal removes them. It
// returns them with their next hops.
func (s *Speaker) adoptStaleRoutes() (map[netip.Prefix]netip.Addr, error) {
	if s.opts.Routes == nil {
		return nil, nil
	}
	stale := map[netip.Prefix]netip.Addr{}
	for _, family := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		routes, err := s.opts.Routes.RouteListFiltered(family, &netlink.Route{Protocol: s.opts.RouteProtocol, Table: unix.RT_TABLE_MAIN},
			netlink.RT_FILTER_PROTOCOL|netlink.RT_FILTER_TABLE)
		if err != nil {
			return nil, fmt.Errorf("listing routes of protocol %d left by a previous run: %w", s.opts.RouteProtocol, err)
		}
		for _, r := range routes {
			if r.Dst == nil || r.Priority != s.opts.RouteMetric {
				continue
			}
			addr, ok := netip.AddrFromSlice(r.Dst.IP)
			gw, gwOK := netip.AddrFromSlice(r.Gw)
			if !ok || !gwOK {
				continue
			}
			bits, _ := r.Dst.Mask.Size()
			stale[netip.PrefixFrom(addr.Unmap(), bits)] = gw.Unmap()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for p, gw := range stale {
		s.learned[p] = gw
	}
	return stale, nil
}

// expireStaleRoutes waits StaleRoutesTime, then removes the adopted routes
// that no best path refreshed.
func (s *Speaker) expireStaleRoutes(ctx context.Context, stale map[netip.Prefix]netip.Addr) {
	if len(stale) == 0 {
		return
	}
	select {
	case <-ctx.Done():
		return
	case <-time.After(s.opts.StaleRoutesTime):
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for p, gw := range stale {
		if s.refreshed[p] || s.learned[p] != gw {
			continue
		}
		if err := s.deleteRoute(p); err != nil {
			s.errs++
			s.opts.Log.Error(err, "removing a stale route", "prefix", p)
			continue
		}
		delete(s.learned, p)
	}
}
