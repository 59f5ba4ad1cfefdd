package v3

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// +genclient
// +genclient:nonNamespaced
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// FelixConfiguration configures the dataplane. The object named "default"
// applies to every node; "node.<name>" overrides it for one node.
type FelixConfiguration struct {
	metav1.TypeMeta `json:",inline"`
	// Standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Specification of the dataplane configuration.
	// +optional
	Spec FelixConfigurationSpec `json:"spec,omitempty"`
}

// Defaults the dataplane uses for unset FelixConfiguration fields.
const (
	DefaultVXLANPort               = 4789
	DefaultVXLANVNI                = 4096
	DefaultWireguardListeningPort  = 51820
	DefaultWireguardInterfaceName  = "wireguard.cali"
	DefaultWireguardRoutingRulePri = 99
)

// FelixConfigurationSpec holds dataplane settings. Unset fields take the
// dataplane's defaults (VXLAN port 4789, VNI 4096, WireGuard port 51820,
// WireGuard interface "wireguard.cali").
type FelixConfigurationSpec struct {
	// RouteSource is where routes to workloads come from: CalicoIPAM
	// (default) or WorkloadIPs.
	// +optional
	RouteSource RouteSource `json:"routeSource,omitempty"`
	// VXLANEnabled turns the VXLAN overlay on.
	// +optional
	VXLANEnabled *bool `json:"vxlanEnabled,omitempty"`
	// VXLANPort is the UDP port of VXLAN traffic. Default 4789.
	// +optional
	VXLANPort *int `json:"vxlanPort,omitempty"`
	// VXLANVNI is the VXLAN network identifier. Default 4096.
	// +optional
	VXLANVNI *int `json:"vxlanVNI,omitempty"`
	// VXLANMTU is the MTU of the IPv4 VXLAN device.
	// +optional
	VXLANMTU *int `json:"vxlanMTU,omitempty"`
	// VXLANMTUV6 is the MTU of the IPv6 VXLAN device.
	// +optional
	VXLANMTUV6 *int `json:"vxlanMTUV6,omitempty"`
	// IPIPEnabled turns the IP-in-IP overlay on.
	// +optional
	IPIPEnabled *bool `json:"ipipEnabled,omitempty"`
	// IPIPMTU is the MTU of the IP-in-IP device.
	// +optional
	IPIPMTU *int `json:"ipipMTU,omitempty"`
	// WireguardEnabled turns IPv4 WireGuard encryption on.
	// +optional
	WireguardEnabled *bool `json:"wireguardEnabled,omitempty"`
	// WireguardEnabledV6 turns IPv6 WireGuard encryption on.
	// +optional
	WireguardEnabledV6 *bool `json:"wireguardEnabledV6,omitempty"`
	// WireguardListeningPort is the IPv4 WireGuard UDP port. Default 51820.
	// +optional
	WireguardListeningPort *int `json:"wireguardListeningPort,omitempty"`
	// WireguardListeningPortV6 is the IPv6 WireGuard UDP port. Default 51821.
	// +optional
	WireguardListeningPortV6 *int `json:"wireguardListeningPortV6,omitempty"`
	// WireguardRoutingRulePriority is the priority of the routing rule that
	// sends traffic to the WireGuard table. Default 99.
	// +optional
	WireguardRoutingRulePriority *int `json:"wireguardRoutingRulePriority,omitempty"`
	// WireguardInterfaceName is the IPv4 WireGuard device. Default "wireguard.cali".
	// +optional
	WireguardInterfaceName string `json:"wireguardInterfaceName,omitempty"`
	// WireguardInterfaceNameV6 is the IPv6 WireGuard device. Default "wg-v6.cali".
	// +optional
	WireguardInterfaceNameV6 string `json:"wireguardInterfaceNameV6,omitempty"`
	// WireguardMTU is the MTU of the IPv4 WireGuard device.
	// +optional
	WireguardMTU *int `json:"wireguardMTU,omitempty"`
	// WireguardMTUV6 is the MTU of the IPv6 WireGuard device.
	// +optional
	WireguardMTUV6 *int `json:"wireguardMTUV6,omitempty"`
	// WireguardHostEncryptionEnabled also encrypts host-to-host traffic.
	// +optional
	WireguardHostEncryptionEnabled *bool `json:"wireguardHostEncryptionEnabled,omitempty"`
	// WireguardKeepAlive is the persistent keepalive interval; 0 disables it.
	// +optional
	WireguardKeepAlive *metav1.Duration `json:"wireguardKeepAlive,omitempty"`
	// ExternalNodesList is a list of CIDRs of nodes outside the cluster
	// whose traffic is accepted.
	// +optional
	// +listType=atomic
	ExternalNodesList []string `json:"externalNodesList,omitempty"`
	// LogSeverityScreen is the agent's log level: Debug, Info, Warning, Error.
	// +optional
	LogSeverityScreen string `json:"logSeverityScreen,omitempty"`
}

// RouteSource is where routes to workloads come from.
// +enum
type RouteSource string

const (
	// RouteSourceCalicoIPAM derives routes from IPAM blocks.
	RouteSourceCalicoIPAM RouteSource = "CalicoIPAM"
	// RouteSourceWorkloadIPs derives routes from workload endpoint IPs.
	RouteSourceWorkloadIPs RouteSource = "WorkloadIPs"
)

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// FelixConfigurationList is a list of FelixConfigurations.
type FelixConfigurationList struct {
	metav1.TypeMeta `json:",inline"`
	// Standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items is the list of FelixConfigurations.
	Items []FelixConfiguration `json:"items"`
}
