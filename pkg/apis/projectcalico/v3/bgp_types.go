package v3

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// BGPConfigurationName is the name of the cluster-wide BGPConfiguration
// every node reads; other BGPConfigurations, named "node.<node name>",
// override it for one node as in Calico.
const BGPConfigurationName = "default"

// Defaults of the BGP configuration, as in Calico.
const (
	// DefaultASNumber is the AS number of nodes when neither the node nor
	// the default BGPConfiguration sets one.
	DefaultASNumber = 64512
	// DefaultBGPListenPort is the TCP port the speaker listens on.
	DefaultBGPListenPort = 179
)

// +genclient
// +genclient:nonNamespaced
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// BGPConfiguration configures BGP for the whole cluster ("default") or for
// one node ("node.<name>"), with Calico's field names.
type BGPConfiguration struct {
	metav1.TypeMeta `json:",inline"`
	// Standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Specification of the BGP configuration.
	// +optional
	Spec BGPConfigurationSpec `json:"spec,omitempty"`
}

// BGPConfigurationSpec is the specification of a BGPConfiguration.
type BGPConfigurationSpec struct {
	// LogSeverityScreen is the speaker's log level: Debug, Info, Warning,
	// Error or Fatal. [Default: Info]
	// +optional
	LogSeverityScreen string `json:"logSeverityScreen,omitempty"`
	// NodeToNodeMeshEnabled sets whether every node peers with every other
	// node of the cluster. [Default: true]
	// +optional
	NodeToNodeMeshEnabled *bool `json:"nodeToNodeMeshEnabled,omitempty"`
	// ASNumber is the AS number of nodes that set none. [Default: 64512]
	// +optional
	ASNumber *int64 `json:"asNumber,omitempty"`
	// ServiceLoadBalancerIPs are the CIDRs of Service LoadBalancer IPs to
	// advertise.
	// +optional
	// +listType=atomic
	ServiceLoadBalancerIPs []ServiceLoadBalancerIPBlock `json:"serviceLoadBalancerIPs,omitempty"`
	// ServiceExternalIPs are the CIDRs of Service external IPs to advertise.
	// +optional
	// +listType=atomic
	ServiceExternalIPs []ServiceExternalIPBlock `json:"serviceExternalIPs,omitempty"`
	// ServiceClusterIPs are the CIDRs Service cluster IPs are allocated
	// from; every node advertises them.
	// +optional
	// +listType=atomic
	ServiceClusterIPs []ServiceClusterIPBlock `json:"serviceClusterIPs,omitempty"`
	// Communities names BGP community values for prefixAdvertisements.
	// +optional
	// +listType=atomic
	Communities []Community `json:"communities,omitempty"`
	// PrefixAdvertisements tags the routes of CIDRs with communities.
	// +optional
	// +listType=atomic
	PrefixAdvertisements []PrefixAdvertisement `json:"prefixAdvertisements,omitempty"`
	// ListenPort is the TCP port the speaker listens on. [Default: 179]
	// +optional
	ListenPort uint16 `json:"listenPort,omitempty"`
	// NodeMeshPassword is the password of the node-to-node mesh sessions.
	// Only the "default" configuration may set it.
	// +optional
	NodeMeshPassword *BGPPassword `json:"nodeMeshPassword,omitempty"`
	// NodeMeshMaxRestartTime is the graceful restart time of the
	// node-to-node mesh sessions. [Default: 120s]
	// +optional
	NodeMeshMaxRestartTime *metav1.Duration `json:"nodeMeshMaxRestartTime,omitempty"`
}

// ServiceLoadBalancerIPBlock is one CIDR of Service LoadBalancer IPs.
type ServiceLoadBalancerIPBlock struct {
	// CIDR is the block, e.g. "198.19.10.0/24".
	// +optional
	CIDR string `json:"cidr,omitempty"`
}

// ServiceExternalIPBlock is one CIDR of Service external IPs.
type ServiceExternalIPBlock struct {
	// CIDR is the block, e.g. "198.19.11.0/24".
	// +optional
	CIDR string `json:"cidr,omitempty"`
}

// ServiceClusterIPBlock is one CIDR Service cluster IPs come from.
type ServiceClusterIPBlock struct {
	// CIDR is the block, e.g. "10.96.0.0/12".
	// +optional
	CIDR string `json:"cidr,omitempty"`
}

// Community names a standard ("aa:nn") or large ("aa:nn:mm") BGP community.
type Community struct {
	// Name is what prefixAdvertisements call the community.
	// +optional
	Name string `json:"name,omitempty"`
	// Value is "aa:nn" with 16-bit numbers or "aa:nn:mm" with 32-bit ones.
	// +optional
	Value string `json:"value,omitempty"`
}

// PrefixAdvertisement tags the routes of one CIDR with communities.
type PrefixAdvertisement struct {
	// CIDR is the prefix whose routes are tagged.
	// +optional
	CIDR string `json:"cidr,omitempty"`
	// Communities are names from spec.communities or literal values.
	// +optional
	// +listType=atomic
	Communities []string `json:"communities,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// BGPConfigurationList is a list of BGPConfigurations.
type BGPConfigurationList struct {
	metav1.TypeMeta `json:",inline"`
	// Standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items is the list of BGPConfigurations.
	Items []BGPConfiguration `json:"items"`
}

// +genclient
// +genclient:nonNamespaced
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// BGPPeer is a BGP session the selected nodes open: to a router outside
// the cluster (peerIP, asNumber) or to the nodes a peerSelector selects
// (route reflectors), with Calico's field names.
type BGPPeer struct {
	metav1.TypeMeta `json:",inline"`
	// Standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Specification of the peer.
	// +optional
	Spec BGPPeerSpec `json:"spec,omitempty"`
}

// BGPPeerSpec is the specification of a BGPPeer.
type BGPPeerSpec struct {
	// Node is the one node that peers; with neither node nor nodeSelector
	// every node peers.
	// +optional
	Node string `json:"node,omitempty"`
	// NodeSelector selects the nodes that peer; node must then be empty.
	// +optional
	NodeSelector string `json:"nodeSelector,omitempty"`
	// PeerIP is the peer's address, optionally with a port:
	// "198.18.0.1", "198.18.0.1:1179" or "[2001:db8::1]:1179".
	// +optional
	PeerIP string `json:"peerIP,omitempty"`
	// ASNumber is the peer's AS number.
	// +optional
	ASNumber int64 `json:"asNumber,omitempty"`
	// PeerSelector selects the nodes to peer with, each at its
	// spec.bgp.ipv4Address and AS number; peerIP and asNumber must then be
	// empty.
	// +optional
	PeerSelector string `json:"peerSelector,omitempty"`
	// KeepOriginalNextHop advertises routes to the peer with their
	// original next hop instead of the node's address.
	// +optional
	KeepOriginalNextHop bool `json:"keepOriginalNextHop,omitempty"`
	// Password is the TCP MD5 password of the sessions.
	// +optional
	Password *BGPPassword `json:"password,omitempty"`
	// SourceAddress is UseNodeIP (the default: sessions leave from the
	// node's address) or None (the kernel chooses).
	// +optional
	SourceAddress SourceAddress `json:"sourceAddress,omitempty"`
	// MaxRestartTime is how long routes from the peer are kept after its
	// session is lost while it restarts gracefully. [Default: 120s]
	// +optional
	MaxRestartTime *metav1.Duration `json:"maxRestartTime,omitempty"`
	// NumAllowedLocalASNumbers is how many times the node's own AS number
	// may appear in the AS path of a received route.
	// +optional
	NumAllowedLocalASNumbers *int32 `json:"numAllowedLocalASNumbers,omitempty"`
}

// SourceAddress chooses the source address of a BGPPeer's sessions.
// +enum
type SourceAddress string

const (
	// SourceAddressUseNodeIP opens sessions from the node's address.
	SourceAddressUseNodeIP SourceAddress = "UseNodeIP"
	// SourceAddressNone lets the kernel choose the source address.
	SourceAddressNone SourceAddress = "None"
)

// BGPPassword is where a BGP password is read from.
type BGPPassword struct {
	// SecretKeyRef selects a key of a Secret in the agent's namespace.
	// +optional
	SecretKeyRef *corev1.SecretKeySelector `json:"secretKeyRef,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// BGPPeerList is a list of BGPPeers.
type BGPPeerList struct {
	metav1.TypeMeta `json:",inline"`
	// Standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items is the list of BGPPeers.
	Items []BGPPeer `json:"items"`
}
