// Package speaker runs a node's BGP speaker: an embedded GoBGP server
// (github.com/osrg/gobgp/v3) made to match a peering.Speaker (sessions and
// advertised prefixes), whose best paths learned from peers are programmed
// into the kernel as routes tagged with the speaker's own route protocol
// number. It touches no route without that tag; a withdrawn path, or a lost
// session once its graceful restart time has passed, removes the route.
package speaker

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/go-logr/logr"
	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/server"
	"github.com/vishvananda/netlink"

	"github.com/meshapi/meshapi/pkg/bgp/peering"
)

// DefaultRouteProtocol tags the routes the speaker programs: 84, next to
// the dataplane's 82 ("meshapi") and the CNI plugin's 83 (host routes to
// pods), unassigned in the kernel's and iproute2's lists, so that the
// dataplane, the plugin and the speaker never delete each other's routes.
// `ip route show proto 84` lists them.
const DefaultRouteProtocol netlink.RouteProtocol = 84

// DefaultRouteMetric is the metric of learned routes: above the
// dataplane's overlay routes (metric 0), so that for a remote cluster with
// overlay routing enabled the VXLAN route to a block wins over one learned
// by BGP, and BGP's is used only where no overlay route exists.
const DefaultRouteMetric = 1024

// Options configure a Speaker.
type Options struct {
	// ASNumber and RouterID identify the speaker.
	ASNumber uint32
	RouterID netip.Addr
	// ListenPort is the TCP port it listens on; negative to not listen.
	ListenPort int32
	// ListenAddresses are the addresses it listens on; empty for all.
	ListenAddresses []string
	// Routes is the netlink handle learned routes are programmed through
	// (a network namespace's in tests); nil programs no route.
	Routes *netlink.Handle
	// RouteProtocol tags programmed routes; 0 is DefaultRouteProtocol.
	RouteProtocol netlink.RouteProtocol
	// RouteMetric is the metric of programmed routes; 0 is DefaultRouteMetric.
	RouteMetric int
	// StaleRoutesTime is how long routes of the speaker's protocol found in
	// the kernel at Start (left by a previous run: a restart of the agent)
	// keep forwarding while the sessions come back; those no peer has
	// advertised again by then are removed. 0 is DefaultStaleRoutesTime.
	StaleRoutesTime time.Duration
	// KeepRoutesOnStop leaves the programmed routes in the kernel at Stop
	// (an agent restart: the next run adopts them); false removes them.
	KeepRoutesOnStop bool
	// Log receives the speaker's and GoBGP's messages.
	Log logr.Logger
}

// DefaultStaleRoutesTime is how long routes left by a previous run are
// kept: BIRD's and Calico's default graceful restart time.
const DefaultStaleRoutesTime = 120 * time.Second

// Speaker is a running BGP speaker.
type Speaker struct {
	opts   Options
	srv    *server.BgpServer
	cancel context.CancelFunc
	done   chan struct{}

	mu       sync.Mutex
	peers    map[netip.Addr]peering.Peer
	prefixes map[netip.Prefix]string // advertised, with their communities (Communities.String)
	learned  map[netip.Prefix]netip.Addr
	// refreshed marks the prefixes a best path came for since Start.
	refreshed map[netip.Prefix]bool
	errs      int
}

// Start starts GoBGP with the speaker's identity and watches its best
// paths until Stop.
func Start(ctx context.Context, opts Options) (*Speaker, error) {
	if opts.RouteProtocol == 0 {
		opts.RouteProtocol = DefaultRouteProtocol
	}
	if opts.RouteMetric == 0 {
		opts.RouteMetric = DefaultRouteMetric
	}
	if opts.StaleRoutesTime == 0 {
		opts.StaleRoutesTime = DefaultStaleRoutesTime
	}
	if !opts.RouterID.Is4() {
		return nil, fmt.Errorf("router ID %q: must be an IPv4 address", opts.RouterID)
	}
	srv := server.NewBgpServer(server.LoggerOption(logAdapter{opts.Log}))
	go srv.Serve()
	s := &Speaker{opts: opts, srv: srv, done: make(chan struct{}),
		peers: map[netip.Addr]peering.Peer{}, prefixes: map[netip.Prefix]string{}, learned: map[netip.Prefix]netip.Addr{}, refreshed: map[netip.Prefix]bool{}}
	if err := srv.StartBgp(ctx, &api.StartBgpRequest{Global: &api.Global{
		Asn: opts.ASNumber, RouterId: opts.RouterID.String(), ListenPort: opts.ListenPort, ListenAddresses: opts.ListenAddresses,
	}}); err != nil {
		srv.Stop()
		return nil, fmt.Errorf("starting BGP as AS%d router ID %s on port %d: %w", opts.ASNumber, opts.RouterID, opts.ListenPort, err)
	}
	watchCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	err := srv.WatchEvent(watchCtx, &api.WatchEventRequest{Table: &api.WatchEventRequest_Table{
		Filters: []*api.WatchEventRequest_Table_Filter{{Type: api.WatchEventRequest_Table_Filter_BEST, Init: true}},
	}}, func(r *api.WatchEventResponse) {
		for _, p := range r.GetTable().GetPaths() {
			s.onBestPath(p)
		}
	})
	if err != nil {
		cancel()
		srv.Stop()
		return nil, fmt.Errorf("watching the best paths: %w", err)
	}
	stale, err := s.adoptStaleRoutes()
	if err != nil {
		cancel()
		srv.Stop()
		return nil, err
	}
	go func() {
		s.expireStaleRoutes(watchCtx, stale)
		<-watchCtx.Done()
		close(s.done)
	}()
	return s, nil
}

// Stop closes every session, stops GoBGP and, unless KeepRoutesOnStop,
// removes the routes the speaker programmed.
func (s *Speaker) Stop(ctx context.Context) error {
	err := s.srv.StopBgp(ctx, &api.StopBgpRequest{})
	s.cancel()
	<-s.done
	s.srv.Stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opts.KeepRoutesOnStop {
		return err
	}
	for prefix := range s.learned {
		err = errors.Join(err, s.deleteRoute(prefix))
		delete(s.learned, prefix)
	}
	return err
}

// Passwords resolves the Secret key a peer's password is in.
type Passwords func(ctx context.Context, p peering.Peer) (string, error)

// Apply makes the sessions and the advertised prefixes those of desired:
// peers no longer wanted are removed, new ones added, changed ones
// replaced; prefixes likewise. The identity (AS number, router ID, listen
// port) is fixed at Start: a change needs a new Speaker. passwords may be
// nil when no peer has a password.
func (s *Speaker) Apply(ctx context.Context, desired peering.Speaker, passwords Passwords) error {
	if desired.ASNumber != s.opts.ASNumber || desired.RouterID != s.opts.RouterID {
		return fmt.Errorf("identity changed from AS%d/%s to AS%d/%s: restart the speaker", s.opts.ASNumber, s.opts.RouterID, desired.ASNumber, desired.RouterID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	errPeers := s.applyPeers(ctx, desired, passwords)
	errPaths := s.applyPrefixes(ctx, desired.Prefixes, desired.Communities)
	return errors.Join(errPeers, errPaths)
}

// applyPeers adds, replaces and removes sessions.
func (s *Speaker) applyPeers(ctx context.Context, desired peering.Speaker, passwords Passwords) error {
	want := map[netip.Addr]peering.Peer{}
	for _, p := range desired.Peers {
		want[p.Address] = p
	}
	var errs []error
	for addr, have := range s.peers {
		if w, ok := want[addr]; ok && samePeer(w, have) {
			continue
		}
		if err := s.srv.DeletePeer(ctx, &api.DeletePeerRequest{Address: addr.String()}); err != nil {
			errs = append(errs, fmt.Errorf("removing peer %s: %w", have, err))
			continue
		}
		delete(s.peers, addr)
	}
	for addr, p := range want {
		if _, ok := s.peers[addr]; ok {
			continue
		}
		password := ""
		if p.Password != nil {
			if passwords == nil {
				errs = append(errs, fmt.Errorf("peer %s: its password is in Secret key %s/%s and no reader was given", p, p.Password.Name, p.Password.Key))
				continue
			}
			var err error
			if password, err = passwords(ctx, p); err != nil {
				errs = append(errs, fmt.Errorf("peer %s: reading its password: %w", p, err))
				continue
			}
		}
		if err := s.srv.AddPeer(ctx, &api.AddPeerRequest{Peer: s.apiPeer(p, desired, password)}); err != nil {
			errs = append(errs, fmt.Errorf("adding peer %s: %w", p, err))
			continue
		}
		s.peers[addr] = p
	}
	return errors.Join(errs...)
}

// samePeer reports whether two sessions are configured alike.
func samePeer(a, b peering.Peer) bool {
	return a.Port == b.Port && a.ASNumber == b.ASNumber && a.RouteReflectorClient == b.RouteReflectorClient &&
		a.KeepOriginalNextHop == b.KeepOriginalNextHop && a.BindLocal == b.BindLocal && a.MaxRestartTime == b.MaxRestartTime &&
		a.Password.String() == b.Password.String()
}

// apiPeer is GoBGP's configuration of a session: IPv4 and IPv6 unicast,
// graceful restart for MaxRestartTime, the route reflector role.
func (s *Speaker) apiPeer(p peering.Peer, desired peering.Speaker, password string) *api.Peer {
	family := &api.Family{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_UNICAST}
	if p.Address.Is6() {
		family.Afi = api.Family_AFI_IP6
	}
	restart := uint32(p.MaxRestartTime.Seconds())
	out := &api.Peer{
		Conf:      &api.PeerConf{NeighborAddress: p.Address.String(), PeerAsn: p.ASNumber, AuthPassword: password, Description: string(p.Type) + ":" + p.Source},
		Transport: &api.Transport{RemotePort: uint32(p.Port)},
		Timers:    &api.Timers{Config: &api.TimersConfig{ConnectRetry: 5, HoldTime: 90, KeepaliveInterval: 30}},
		AfiSafis: []*api.AfiSafi{{
			Config:            &api.AfiSafiConfig{Family: family, Enabled: true},
			MpGracefulRestart: &api.MpGracefulRestart{Config: &api.MpGracefulRestartConfig{Enabled: restart > 0}},
		}},
	}
	if restart > 0 {
		out.GracefulRestart = &api.GracefulRestart{Enabled: true, RestartTime: restart}
	}
	if p.BindLocal && p.Address.Is4() {
		out.Transport.LocalAddress = s.opts.RouterID.String()
	}
	if p.RouteReflectorClient {
		out.RouteReflector = &api.RouteReflector{RouteReflectorClient: true, RouteReflectorClusterId: desired.RouteReflectorClusterID}
	}
	return out
}

// applyPrefixes originates the wanted prefixes, with the router ID as
// next hop and their communities, and withdraws the others; a prefix
// whose communities changed is advertised again (the new path replaces
// the old).
func (s *Speaker) applyPrefixes(ctx context.Context, want []netip.Prefix, comms map[netip.Prefix]peering.Communities) error {
	wanted := map[netip.Prefix]bool{}
	for _, p := range want {
		wanted[p] = true
	}
	var errs []error
	for p := range s.prefixes {
		if wanted[p] {
			continue
		}
		path, err := localPath(p, s.opts.RouterID, peering.Communities{})
		if err == nil {
			err = s.srv.DeletePath(ctx, &api.DeletePathRequest{Path: path})
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("withdrawing %s: %w", p, err))
			continue
		}
		delete(s.prefixes, p)
	}
	for p := range wanted {
		tag := comms[p].String()
		if have, ok := s.prefixes[p]; ok && have == tag {
			continue
		}
		path, err := localPath(p, s.opts.RouterID, comms[p])
		if err == nil {
			_, err = s.srv.AddPath(ctx, &api.AddPathRequest{Path: path})
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("advertising %s (communities %q): %w", p, tag, err))
			continue
		}
		s.prefixes[p] = tag
	}
	return errors.Join(errs...)
}
