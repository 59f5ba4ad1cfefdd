package v3

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// +genclient
// +genclient:nonNamespaced
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// Node is a host of the mesh as the dataplane sees it: its addresses and
// its overlay tunnel endpoints. Nodes mirrored from a remote cluster carry
// the label projectcalico.org/cluster.
type Node struct {
	metav1.TypeMeta `json:",inline"`
	// Standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Specification of the node.
	// +optional
	Spec NodeSpec `json:"spec,omitempty"`
	// Observed state of the node, written by its agent.
	// +optional
	Status NodeStatus `json:"status,omitempty"`
}

// NodeSpec is the specification of a Node.
type NodeSpec struct {
	// BGP holds the node's addresses as used for routing.
	// +optional
	BGP *NodeBGPSpec `json:"bgp,omitempty"`
	// Addresses of the node.
	// +optional
	// +listType=atomic
	Addresses []NodeAddress `json:"addresses,omitempty"`
	// IPv4VXLANTunnelAddr is the node's IPv4 VTEP address.
	// +optional
	IPv4VXLANTunnelAddr string `json:"ipv4VXLANTunnelAddr,omitempty"`
	// VXLANTunnelMACAddr is the MAC address of the node's IPv4 VXLAN device.
	// +optional
	VXLANTunnelMACAddr string `json:"vxlanTunnelMACAddr,omitempty"`
	// IPv6VXLANTunnelAddr is the node's IPv6 VTEP address.
	// +optional
	IPv6VXLANTunnelAddr string `json:"ipv6VXLANTunnelAddr,omitempty"`
	// VXLANTunnelMACAddrV6 is the MAC address of the node's IPv6 VXLAN device.
	// +optional
	VXLANTunnelMACAddrV6 string `json:"vxlanTunnelMACAddrV6,omitempty"`
	// OrchRefs link the node to its orchestrator's node objects.
	// +optional
	// +listType=atomic
	OrchRefs []OrchRef `json:"orchRefs,omitempty"`
	// Wireguard holds the node's WireGuard interface addresses.
	// +optional
	Wireguard *NodeWireguardSpec `json:"wireguard,omitempty"`
}

// NodeBGPSpec holds a node's routing addresses.
type NodeBGPSpec struct {
	// IPv4Address is the node's IPv4 address with prefix length, e.g. "198.18.0.1/24".
	// +optional
	IPv4Address string `json:"ipv4Address,omitempty"`
	// IPv6Address is the node's IPv6 address with prefix length.
	// +optional
	IPv6Address string `json:"ipv6Address,omitempty"`
	// IPv4IPIPTunnelAddr is the node's IP-in-IP tunnel address.
	// +optional
	IPv4IPIPTunnelAddr string `json:"ipv4IPIPTunnelAddr,omitempty"`
	// ASNumber is the node's AS number; without it the node has the
	// default BGPConfiguration's.
	// +optional
	ASNumber *int64 `json:"asNumber,omitempty"`
	// RouteReflectorClusterID makes the node a route reflector with this
	// cluster ID, an IPv4 address such as "224.0.0.1".
	// +optional
	RouteReflectorClusterID string `json:"routeReflectorClusterID,omitempty"`
}

// NodeAddress is one address of a node.
type NodeAddress struct {
	// Address is an IP address, optionally with prefix length.
	Address string `json:"address"`
	// Type is InternalIP, ExternalIP or CalicoNodeIP.
	// +optional
	Type NodeAddressType `json:"type,omitempty"`
}

// NodeAddressType is the kind of a node address.
// +enum
type NodeAddressType string

const (
	// InternalIP is an address reachable inside the node's network.
	InternalIP NodeAddressType = "InternalIP"
	// ExternalIP is an address reachable from outside.
	ExternalIP NodeAddressType = "ExternalIP"
	// CalicoNodeIP is the address the dataplane uses for the node.
	CalicoNodeIP NodeAddressType = "CalicoNodeIP"
)

// OrchestratorK8s is the orchestrator name of Kubernetes, in a Node's
// spec.orchRefs and a WorkloadEndpoint's spec.orchestrator.
const OrchestratorK8s = "k8s"

// OrchRef names the orchestrator object for a node.
type OrchRef struct {
	// NodeName is the node's name in the orchestrator.
	// +optional
	NodeName string `json:"nodeName,omitempty"`
	// Orchestrator is the orchestrator's name, e.g. "k8s".
	Orchestrator string `json:"orchestrator"`
}

// NodeWireguardSpec holds a node's WireGuard interface addresses.
type NodeWireguardSpec struct {
	// InterfaceIPv4Address is the address of the IPv4 WireGuard device.
	// +optional
	InterfaceIPv4Address string `json:"interfaceIPv4Address,omitempty"`
	// InterfaceIPv6Address is the address of the IPv6 WireGuard device.
	// +optional
	InterfaceIPv6Address string `json:"interfaceIPv6Address,omitempty"`
}

// NodeStatus is written by the node's agent.
type NodeStatus struct {
	// WireguardPublicKey is the node's IPv4 WireGuard public key.
	// +optional
	WireguardPublicKey string `json:"wireguardPublicKey,omitempty"`
	// WireguardPublicKeyV6 is the node's IPv6 WireGuard public key.
	// +optional
	WireguardPublicKeyV6 string `json:"wireguardPublicKeyV6,omitempty"`
	// PodCIDRs are the node's pod CIDRs.
	// +optional
	// +listType=atomic
	PodCIDRs []string `json:"podCIDRs,omitempty"`
	// Dataplane is what the node's agent last programmed into the node's
	// kernel. The original product has no such field; meshctl check reads
	// it to tell whether the overlay routes towards each remote cluster are
	// present on every node.
	// +optional
	Dataplane *NodeDataplaneStatus `json:"dataplane,omitempty"`
	// BGP is the state of the node's BGP speaker, written by its agent
	// when it runs one.
	// +optional
	BGP *NodeBGPStatus `json:"bgp,omitempty"`
}

// NodeBGPStatus is the state of a node's BGP speaker.
type NodeBGPStatus struct {
	// RouterID is the speaker's router ID.
	// +optional
	RouterID string `json:"routerID,omitempty"`
	// ASNumber is the speaker's AS number.
	// +optional
	ASNumber int64 `json:"asNumber,omitempty"`
	// LastUpdateTime is when the agent last wrote this status.
	// +optional
	LastUpdateTime *metav1.Time `json:"lastUpdateTime,omitempty"`
	// Sessions are the speaker's BGP sessions, one per peer.
	// +optional
	// +listType=map
	// +listMapKey=peerIP
	Sessions []NodeBGPSession `json:"sessions,omitempty"`
	// RemoteClusters tells, for every remote cluster whose pods the
	// underlay routes (its RemoteClusterConfiguration says
	// overlayRoutingMode Disabled), how many of its pods' addresses (its
	// mirrored WorkloadEndpoints) a route the speaker learned covers. In
	// that mode a cluster's IPAM blocks are not mirrored; its endpoints
	// are. The original product has no such field; meshctl check reads it.
	// +optional
	// +listType=map
	// +listMapKey=cluster
	RemoteClusters []NodeBGPRemoteClusterStatus `json:"remoteClusters,omitempty"`
}

// NodeBGPRemoteClusterStatus is how much of one remote cluster's pod
// addresses a node's speaker has routes to.
type NodeBGPRemoteClusterStatus struct {
	// Cluster is the RemoteClusterConfiguration's name.
	Cluster string `json:"cluster"`
	// Endpoints is the number of the cluster's pod addresses known here
	// (the addresses of its mirrored WorkloadEndpoints).
	// +optional
	Endpoints int32 `json:"endpoints,omitempty"`
	// Routed is the number of those addresses inside a route the speaker
	// learned and programmed (the remote block's prefix, or a shorter one
	// a router aggregated).
	// +optional
	Routed int32 `json:"routed,omitempty"`
	// Unrouted are up to ten of the addresses no learned route covers,
	// smallest first.
	// +optional
	// +listType=atomic
	Unrouted []string `json:"unrouted,omitempty"`
}

// NodeBGPSession is one BGP session of a node.
type NodeBGPSession struct {
	// PeerIP is the peer's address.
	PeerIP string `json:"peerIP"`
	// PeerASNumber is the peer's AS number.
	// +optional
	PeerASNumber int64 `json:"peerASNumber,omitempty"`
	// Type is NodeMesh, NodePeer (a BGPPeer naming nodes) or GlobalPeer
	// (a BGPPeer with a peerIP).
	// +optional
	Type string `json:"type,omitempty"`
	// State is the BGP finite state machine's state: Idle, Connect,
	// Active, OpenSent, OpenConfirm or Established.
	// +optional
	State string `json:"state,omitempty"`
	// Since is when the session entered its state.
	// +optional
	Since *metav1.Time `json:"since,omitempty"`
	// PrefixesReceived is the number of prefixes the peer advertises.
	// +optional
	PrefixesReceived int32 `json:"prefixesReceived,omitempty"`
	// PrefixesAdvertised is the number of prefixes advertised to the peer.
	// +optional
	PrefixesAdvertised int32 `json:"prefixesAdvertised,omitempty"`
}

// NodeDataplaneStatus is what a node's agent last programmed.
type NodeDataplaneStatus struct {
	// LastApplyTime is when the agent last made the kernel match the API.
	// +optional
	LastApplyTime *metav1.Time `json:"lastApplyTime,omitempty"`
	// VXLANDevice is the name of the node's VXLAN device, empty when the
	// node has none.
	// +optional
	VXLANDevice string `json:"vxlanDevice,omitempty"`
	// Routes is the number of overlay routes the agent owns on the node.
	// +optional
	Routes int32 `json:"routes,omitempty"`
	// RemoteClusters tells, for every remote cluster of the mesh, what the
	// agent programmed towards it.
	// +optional
	// +listType=map
	// +listMapKey=cluster
	RemoteClusters []NodeRemoteClusterStatus `json:"remoteClusters,omitempty"`
	// LastError is the last error of the agent's dataplane, empty when the
	// last apply succeeded.
	// +optional
	LastError string `json:"lastError,omitempty"`
}

// NodeRemoteClusterStatus is what a node's agent programmed towards one
// remote cluster.
type NodeRemoteClusterStatus struct {
	// Cluster is the RemoteClusterConfiguration's name.
	Cluster string `json:"cluster"`
	// OverlayRoutingMode is the mode the agent applied: Enabled (overlay
	// routes programmed) or Disabled (the underlay routes pod IPs).
	// +optional
	OverlayRoutingMode string `json:"overlayRoutingMode,omitempty"`
	// Nodes is the number of the cluster's nodes with a neighbour and FDB
	// entry on this node.
	// +optional
	Nodes int32 `json:"nodes,omitempty"`
	// Routes is the number of routes towards the cluster's blocks and
	// endpoints on this node.
	// +optional
	Routes int32 `json:"routes,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// NodeList is a list of Nodes.
type NodeList struct {
	metav1.TypeMeta `json:",inline"`
	// Standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items is the list of Nodes.
	Items []Node `json:"items"`
}
