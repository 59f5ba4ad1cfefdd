package agent

import (
	"net/netip"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/meshguard"
)

// Endpoint is what Compute reads of a WorkloadEndpoint, parsed once per
// version of the object (the agent keeps it while the informer's object
// is the same; see endpointMemo), so that a reconcile under churn does
// not parse and look up the labels of every endpoint again.
type Endpoint struct {
	// Namespace and Name are the object's, as stored in the local API.
	Namespace, Name string
	// Mirror is whether the endpoint is mirrored from a remote cluster
	// (it carries v3.LabelCluster); Cluster is that label's value.
	Mirror  bool
	Cluster string
	// NameInCluster is "<namespace>/<name in its own cluster>" of a
	// mirror, as refusals name it; empty for a local endpoint.
	NameInCluster string
	// Node is spec.node: a local node's name, or "<cluster>/<name>".
	Node string
	// Networks are spec.ipNetworks, in order.
	Networks []Network
}

// Network is one entry of spec.ipNetworks.
type Network struct {
	// Value is the entry as written.
	Value string
	// Addr is the single-address prefix routed to the endpoint, valid
	// when AddrErr is nil ("198.18.0.5/24" is 198.18.0.5/32).
	Addr    netip.Prefix
	AddrErr error
	// Claim is what a mirror claims of its cluster's address space, as
	// pkg/meshguard reads it ("198.18.0.5/24" is 198.18.0.0/24); valid
	// when ClaimOK.
	Claim   netip.Prefix
	ClaimOK bool
}

// EndpointOf parses ep.
func EndpointOf(ep *v3.WorkloadEndpoint) *Endpoint {
	e := &Endpoint{Namespace: ep.Namespace, Name: ep.Name, Node: ep.Spec.Node}
	e.Cluster, e.Mirror = ep.Labels[v3.LabelCluster]
	if e.Mirror {
		e.NameInCluster = ep.Namespace + "/" + v3.NameInOwnCluster(ep.Annotations, ep.Name)
	}
	if len(ep.Spec.IPNetworks) > 0 {
		e.Networks = make([]Network, len(ep.Spec.IPNetworks))
	}
	for i, s := range ep.Spec.IPNetworks {
		n := &e.Networks[i]
		n.Value = s
		n.Addr, n.AddrErr = endpointPrefix(s)
		n.Claim, n.ClaimOK = meshguard.ParseClaim(s)
	}
	return e
}

// EndpointsOf parses eps.
func EndpointsOf(eps ...*v3.WorkloadEndpoint) []*Endpoint {
	out := make([]*Endpoint, len(eps))
	for i, ep := range eps {
		out[i] = EndpointOf(ep)
	}
	return out
}

// endpointMemo keeps the Endpoint of each WorkloadEndpoint the informer
// holds: an informer replaces its object on every change, so an object
// seen before is unchanged and its Endpoint still holds. Not safe for
// concurrent use; the agent's loop owns it.
type endpointMemo struct {
	parsed map[*v3.WorkloadEndpoint]*memoEntry
	pass   uint64
}

type memoEntry struct {
	ep   *Endpoint
	pass uint64 // the last pass that saw the object
}

// endpoints returns the Endpoints of eps, parsing only the objects it has
// not seen, and forgets the objects eps no longer holds.
func (m *endpointMemo) endpoints(eps []*v3.WorkloadEndpoint) []*Endpoint {
	if m.parsed == nil {
		m.parsed = make(map[*v3.WorkloadEndpoint]*memoEntry, len(eps))
	}
	m.pass++
	out := make([]*Endpoint, len(eps))
	for i, obj := range eps {
		e := m.parsed[obj]
		if e == nil {
			e = &memoEntry{ep: EndpointOf(obj)}
			m.parsed[obj] = e
		}
		e.pass = m.pass
		out[i] = e.ep
	}
	if len(m.parsed) > len(eps) {
		for obj, e := range m.parsed {
			if e.pass != m.pass {
				delete(m.parsed, obj)
			}
		}
	}
	return out
}
