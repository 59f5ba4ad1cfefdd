package speaker

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	api "github.com/osrg/gobgp/v3/api"

	"github.com/meshapi/meshapi/pkg/bgp/peering"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/types/known/anypb"
)

// localPath is the path the speaker originates for prefix, next hop the
// router ID (IPv4) or unspecified (IPv6, filled by GoBGP per session),
// with the communities comm.
func localPath(prefix netip.Prefix, routerID netip.Addr, comm peering.Communities) (*api.Path, error) {
	nlri, err := anypb.New(&api.IPAddressPrefix{Prefix: prefix.Addr().String(), PrefixLen: uint32(prefix.Bits())})
	if err != nil {
		return nil, err
	}
	origin, err := anypb.New(&api.OriginAttribute{Origin: 0})
	if err != nil {
		return nil, err
	}
	family := &api.Family{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_UNICAST}
	var nextHop *anypb.Any
	if prefix.Addr().Is4() {
		nextHop, err = anypb.New(&api.NextHopAttribute{NextHop: routerID.String()})
	} else {
		family.Afi = api.Family_AFI_IP6
		nextHop, err = anypb.New(&api.MpReachNLRIAttribute{Family: family, NextHops: []string{"::"}, Nlris: []*anypb.Any{nlri}})
	}
	if err != nil {
		return nil, err
	}
	pattrs, err := communityAttributes(comm)
	if err != nil {
		return nil, err
	}
	return &api.Path{Family: family, Nlri: nlri, Pattrs: append([]*anypb.Any{origin, nextHop}, pattrs...)}, nil
}

// communityAttributes are the COMMUNITIES and LARGE_COMMUNITY attributes
// of comm (none when it is empty).
func communityAttributes(comm peering.Communities) ([]*anypb.Any, error) {
	var out []*anypb.Any
	if len(comm.Standard) > 0 {
		a, err := anypb.New(&api.CommunitiesAttribute{Communities: comm.Standard})
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	if len(comm.Large) > 0 {
		large := make([]*api.LargeCommunity, 0, len(comm.Large))
		for _, l := range comm.Large {
			large = append(large, &api.LargeCommunity{GlobalAdmin: l[0], LocalData1: l[1], LocalData2: l[2]})
		}
		a, err := anypb.New(&api.LargeCommunitiesAttribute{Communities: large})
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// learnedRoute extracts the prefix and next hop of a path learned from a
// peer; ok is false for the speaker's own paths and for paths it cannot
// read.
func learnedRoute(p *api.Path, routerID netip.Addr) (prefix netip.Prefix, nextHop netip.Addr, ok bool) {
	if _, err := netip.ParseAddr(p.GetNeighborIp()); err != nil {
		return netip.Prefix{}, netip.Addr{}, false
	}
	var nlri api.IPAddressPrefix
	if err := p.GetNlri().UnmarshalTo(&nlri); err != nil {
		return netip.Prefix{}, netip.Addr{}, false
	}
	addr, err := netip.ParseAddr(nlri.Prefix)
	if err != nil {
		return netip.Prefix{}, netip.Addr{}, false
	}
	prefix = netip.PrefixFrom(addr, int(nlri.PrefixLen)).Masked()
	for _, a := range p.GetPattrs() {
		var nh api.NextHopAttribute
		var mp api.MpReachNLRIAttribute
		switch {
		case a.UnmarshalTo(&nh) == nil:
			nextHop, _ = netip.ParseAddr(nh.NextHop)
		case a.UnmarshalTo(&mp) == nil && len(mp.NextHops) > 0:
			nextHop, _ = netip.ParseAddr(mp.NextHops[0])
		}
	}
	if !nextHop.IsValid() || nextHop == routerID {
		return netip.Prefix{}, netip.Addr{}, false
	}
	return prefix, nextHop, true
}

// onBestPath programs or removes the kernel route of one best-path event.
func (s *Speaker) onBestPath(p *api.Path) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.GetIsWithdraw() {
		var nlri api.IPAddressPrefix
		if p.GetNlri().UnmarshalTo(&nlri) != nil {
			return
		}
		addr, err := netip.ParseAddr(nlri.Prefix)
		if err != nil {
			return
		}
		prefix := netip.PrefixFrom(addr, int(nlri.PrefixLen)).Masked()
		if _, ok := s.learned[prefix]; !ok {
			return
		}
		if err := s.deleteRoute(prefix); err != nil {
			s.errs++
			s.opts.Log.Error(err, "removing a withdrawn route", "prefix", prefix)
		}
		delete(s.learned, prefix)
		return
	}
	prefix, nextHop, ok := learnedRoute(p, s.opts.RouterID)
	if !ok {
		return
	}
	s.refreshed[prefix] = true
	if s.learned[prefix] == nextHop {
		return
	}
	if err := s.replaceRoute(prefix, nextHop); err != nil {
		s.errs++
		s.opts.Log.Error(err, "programming a learned route", "prefix", prefix, "nextHop", nextHop)
		return
	}
	s.learned[prefix] = nextHop
}

// route is the kernel route of a learned prefix, tagged as the speaker's.
func (s *Speaker) route(prefix netip.Prefix) *netlink.Route {
	return &netlink.Route{
		Dst:      &net.IPNet{IP: prefix.Addr().AsSlice(), Mask: net.CIDRMask(prefix.Bits(), prefix.Addr().BitLen())},
		Protocol: s.opts.RouteProtocol,
		Priority: s.opts.RouteMetric,
		Table:    unix.RT_TABLE_MAIN,
	}
}

// replaceRoute points prefix at nextHop.
func (s *Speaker) replaceRoute(prefix netip.Prefix, nextHop netip.Addr) error {
	if s.opts.Routes == nil {
		return nil
	}
	r := s.route(prefix)
	r.Gw = nextHop.AsSlice()
	if err := s.opts.Routes.RouteReplace(r); err != nil {
		return fmt.Errorf("route %s via %s proto %d: %w", prefix, nextHop, s.opts.RouteProtocol, err)
	}
	return nil
}

// deleteRoute removes the speaker's route to prefix; one already gone is
// no error.
func (s *Speaker) deleteRoute(prefix netip.Prefix) error {
	if s.opts.Routes == nil {
		return nil
	}
	if err := s.opts.Routes.RouteDel(s.route(prefix)); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("removing route %s proto %d: %w", prefix, s.opts.RouteProtocol, err)
	}
	return nil
}

// Learned returns the prefixes the speaker programmed and their next hops.
func (s *Speaker) Learned() map[netip.Prefix]netip.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[netip.Prefix]netip.Addr, len(s.learned))
	for k, v := range s.learned {
		out[k] = v
	}
	return out
}
