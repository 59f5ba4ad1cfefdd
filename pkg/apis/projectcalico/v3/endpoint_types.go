package v3

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// WorkloadEndpoint is a pod's network interface. Its labels are the pod's
// labels; network policy selects it by them. Endpoints mirrored from a
// remote cluster have spec.node "<cluster>/<node>".
type WorkloadEndpoint struct {
	metav1.TypeMeta `json:",inline"`
	// Standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Specification of the endpoint.
	// +optional
	Spec WorkloadEndpointSpec `json:"spec,omitempty"`
}

// WorkloadEndpointSpec is the specification of a WorkloadEndpoint.
type WorkloadEndpointSpec struct {
	// Orchestrator that created the workload, e.g. "k8s".
	// +optional
	Orchestrator string `json:"orchestrator,omitempty"`
	// Workload is the workload's name in its orchestrator.
	// +optional
	Workload string `json:"workload,omitempty"`
	// Node hosting the endpoint; "<cluster>/<node>" for a remote endpoint.
	// +optional
	Node string `json:"node,omitempty"`
	// ContainerID of the workload.
	// +optional
	ContainerID string `json:"containerID,omitempty"`
	// Pod name, for Kubernetes workloads.
	// +optional
	Pod string `json:"pod,omitempty"`
	// Endpoint is the endpoint's name within the workload, e.g. "eth0".
	// +optional
	Endpoint string `json:"endpoint,omitempty"`
	// ServiceAccountName of the pod.
	// +optional
	ServiceAccountName string `json:"serviceAccountName,omitempty"`
	// IPNetworks are the endpoint's addresses as CIDRs, e.g. "10.244.1.5/32".
	// +optional
	// +listType=atomic
	IPNetworks []string `json:"ipNetworks,omitempty"`
	// IPv4Gateway is the endpoint's IPv4 gateway.
	// +optional
	IPv4Gateway string `json:"ipv4Gateway,omitempty"`
	// IPv6Gateway is the endpoint's IPv6 gateway.
	// +optional
	IPv6Gateway string `json:"ipv6Gateway,omitempty"`
	// Profiles applied to the endpoint, e.g. "kns.<namespace>".
	// +optional
	// +listType=atomic
	Profiles []string `json:"profiles,omitempty"`
	// InterfaceName is the host-side interface, e.g. "cali0ef24b1".
	// +optional
	InterfaceName string `json:"interfaceName,omitempty"`
	// MAC is the endpoint's MAC address.
	// +optional
	MAC string `json:"mac,omitempty"`
	// Ports are the endpoint's named ports.
	// +optional
	// +listType=atomic
	Ports []WorkloadEndpointPort `json:"ports,omitempty"`
}

// WorkloadEndpointPort is a named port of a workload.
type WorkloadEndpointPort struct {
	// Name of the port.
	Name string `json:"name"`
	// Protocol of the port.
	Protocol Protocol `json:"protocol"`
	// Port number.
	Port uint16 `json:"port"`
	// HostPort maps the port on the host, 0 for none.
	// +optional
	HostPort uint16 `json:"hostPort,omitempty"`
	// HostIP the host port binds to.
	// +optional
	HostIP string `json:"hostIP,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// WorkloadEndpointList is a list of WorkloadEndpoints.
type WorkloadEndpointList struct {
	metav1.TypeMeta `json:",inline"`
	// Standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items is the list of WorkloadEndpoints.
	Items []WorkloadEndpoint `json:"items"`
}

// +genclient
// +genclient:nonNamespaced
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// HostEndpoint is a host's network interface, selectable by policy.
type HostEndpoint struct {
	metav1.TypeMeta `json:",inline"`
	// Standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Specification of the endpoint.
	// +optional
	Spec HostEndpointSpec `json:"spec,omitempty"`
}

// HostEndpointSpec is the specification of a HostEndpoint.
type HostEndpointSpec struct {
	// Node hosting the interface.
	// +optional
	Node string `json:"node,omitempty"`
	// InterfaceName is the interface, or "*" for all of the host's interfaces.
	// +optional
	InterfaceName string `json:"interfaceName,omitempty"`
	// ExpectedIPs are the interface's addresses.
	// +optional
	// +listType=atomic
	ExpectedIPs []string `json:"expectedIPs,omitempty"`
	// Profiles applied to the endpoint.
	// +optional
	// +listType=atomic
	Profiles []string `json:"profiles,omitempty"`
	// Ports are the endpoint's named ports.
	// +optional
	// +listType=atomic
	Ports []EndpointPort `json:"ports,omitempty"`
}

// EndpointPort is a named port of a host endpoint.
type EndpointPort struct {
	// Name of the port.
	Name string `json:"name"`
	// Protocol of the port.
	Protocol Protocol `json:"protocol"`
	// Port number.
	Port uint16 `json:"port"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// HostEndpointList is a list of HostEndpoints.
type HostEndpointList struct {
	metav1.TypeMeta `json:",inline"`
	// Standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items is the list of HostEndpoints.
	Items []HostEndpoint `json:"items"`
}
