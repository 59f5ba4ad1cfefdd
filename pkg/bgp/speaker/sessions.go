package speaker

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"time"

	api "github.com/osrg/gobgp/v3/api"

	"github.com/meshapi/meshapi/pkg/bgp/peering"
)

// Session is the state of one of the speaker's sessions.
type Session struct {
	// Peer is the session's configuration.
	Peer peering.Peer
	// State is the finite state machine's state as Calico's node status
	// spells it: Idle, Connect, Active, OpenSent, OpenConfirm, Established.
	State string
	// Since is when the session was last established or went down; zero
	// when neither happened yet.
	Since time.Time
	// Received counts the prefixes accepted from the peer (not those
	// refused, e.g. the speaker's own coming back over eBGP), Advertised
	// those sent to it.
	Received, Advertised uint64
}

// sessionStates maps GoBGP's states to Calico's spelling.
var sessionStates = map[api.PeerState_SessionState]string{
	api.PeerState_IDLE: "Idle", api.PeerState_CONNECT: "Connect", api.PeerState_ACTIVE: "Active",
	api.PeerState_OPENSENT: "OpenSent", api.PeerState_OPENCONFIRM: "OpenConfirm", api.PeerState_ESTABLISHED: "Established",
}

// Sessions returns the state of every session, sorted by peer address.
func (s *Speaker) Sessions(ctx context.Context) ([]Session, error) {
	s.mu.Lock()
	configured := make(map[netip.Addr]peering.Peer, len(s.peers))
	for k, v := range s.peers {
		configured[k] = v
	}
	s.mu.Unlock()
	var out []Session
	err := s.srv.ListPeer(ctx, &api.ListPeerRequest{EnableAdvertised: true}, func(p *api.Peer) {
		addr, err := netip.ParseAddr(p.GetConf().GetNeighborAddress())
		if err != nil {
			return
		}
		st := Session{Peer: configured[addr], State: sessionStates[p.GetState().GetSessionState()]}
		if st.State == "" {
			st.State = "Idle"
		}
		if ts := p.GetTimers().GetState(); ts != nil {
			since := ts.GetDowntime()
			if st.State == "Established" {
				since = ts.GetUptime()
			}
			if since != nil && since.GetSeconds() > 0 {
				st.Since = since.AsTime()
			}
		}
		for _, af := range p.GetAfiSafis() {
			st.Received += af.GetState().GetAccepted()
			st.Advertised += af.GetState().GetAdvertised()
		}
		out = append(out, st)
	})
	if err != nil {
		return nil, fmt.Errorf("listing BGP peers: %w", err)
	}
	slices.SortFunc(out, func(a, b Session) int { return a.Peer.Address.Compare(b.Peer.Address) })
	return out, nil
}

// RouteErrors is the number of kernel route changes that failed.
func (s *Speaker) RouteErrors() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.errs
}
