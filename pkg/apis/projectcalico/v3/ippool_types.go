package v3

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// +genclient
// +genclient:nonNamespaced
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// IPPool is a range of pod IPs from which IPAM allocates blocks, with the
// encapsulation and NAT used for traffic from it. Pools mirrored from a
// remote cluster are always disabled.
type IPPool struct {
	metav1.TypeMeta `json:",inline"`
	// Standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Specification of the pool.
	// +optional
	Spec IPPoolSpec `json:"spec,omitempty"`
	// Observed state of the pool.
	// +optional
	Status IPPoolStatus `json:"status,omitempty"`
}

// IPPoolSpec is the specification of an IPPool.
type IPPoolSpec struct {
	// CIDR of the pool, strictly masked, e.g. "10.244.0.0/16".
	CIDR string `json:"cidr"`
	// VXLANMode is when to encapsulate with VXLAN: Never, Always or CrossSubnet.
	// +optional
	// +default="Never"
	VXLANMode EncapMode `json:"vxlanMode,omitempty"`
	// IPIPMode is when to encapsulate with IP-in-IP: Never, Always or
	// CrossSubnet. IPv4 only.
	// +optional
	// +default="Never"
	IPIPMode EncapMode `json:"ipipMode,omitempty"`
	// NATOutgoing masquerades traffic from the pool to destinations outside
	// every pool of the mesh.
	// +optional
	NATOutgoing bool `json:"natOutgoing,omitempty"`
	// Disabled stops IPAM from allocating from the pool.
	// +optional
	Disabled bool `json:"disabled,omitempty"`
	// DisableBGPExport stops the pool's routes from being advertised by BGP.
	// +optional
	DisableBGPExport bool `json:"disableBGPExport,omitempty"`
	// BlockSize is the prefix length of the blocks IPAM hands to nodes:
	// 20-32 for IPv4 (default 26), 116-128 for IPv6 (default 122).
	// +optional
	BlockSize int `json:"blockSize,omitempty"`
	// NodeSelector selects the nodes that may allocate from the pool.
	// +optional
	// +default="all()"
	NodeSelector string `json:"nodeSelector,omitempty"`
	// AllowedUses are the uses of the pool's addresses: Workload, Tunnel,
	// LoadBalancer. Default: Workload and Tunnel.
	// +optional
	// +listType=set
	AllowedUses []IPPoolAllowedUse `json:"allowedUses,omitempty"`
}

// EncapMode says when traffic is encapsulated.
// +enum
type EncapMode string

const (
	// EncapModeNever never encapsulates.
	EncapModeNever EncapMode = "Never"
	// EncapModeAlways always encapsulates.
	EncapModeAlways EncapMode = "Always"
	// EncapModeCrossSubnet encapsulates only between subnets.
	EncapModeCrossSubnet EncapMode = "CrossSubnet"
)

// IPPoolAllowedUse is a use of a pool's addresses.
// +enum
type IPPoolAllowedUse string

const (
	// IPPoolAllowedUseWorkload allows pod addresses.
	IPPoolAllowedUseWorkload IPPoolAllowedUse = "Workload"
	// IPPoolAllowedUseTunnel allows tunnel (VTEP) addresses.
	IPPoolAllowedUseTunnel IPPoolAllowedUse = "Tunnel"
	// IPPoolAllowedUseLoadBalancer allows load balancer addresses.
	IPPoolAllowedUseLoadBalancer IPPoolAllowedUse = "LoadBalancer"
)

// IPPoolStatus is the observed state of an IPPool.
type IPPoolStatus struct {
	// Conditions of the pool.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +patchStrategy=merge
	// +patchMergeKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// IPPoolList is a list of IPPools.
type IPPoolList struct {
	metav1.TypeMeta `json:",inline"`
	// Standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items is the list of IPPools.
	Items []IPPool `json:"items"`
}

// +genclient
// +genclient:nonNamespaced
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// IPAMBlock is a block of a pool handed to one node (its affinity), with the
// allocation record of each of its addresses, as Calico's IPAM keeps it:
// the node's CNI plugin allocates pod addresses from its own blocks and the
// agent routes each block to its node. Every change to a block is a
// compare-and-swap on its resourceVersion, so two allocations never get the
// same address.
type IPAMBlock struct {
	metav1.TypeMeta `json:",inline"`
	// Standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Specification of the block.
	// +optional
	Spec IPAMBlockSpec `json:"spec,omitempty"`
}

// IPAMBlockSpec is the specification of an IPAMBlock.
type IPAMBlockSpec struct {
	// CIDR of the block, e.g. "10.244.1.0/26".
	CIDR string `json:"cidr"`
	// Affinity is the owner of the block, "host:<node name>".
	// +optional
	Affinity *string `json:"affinity,omitempty"`
	// AffinityClaimTime is when the node claimed the block.
	// +optional
	AffinityClaimTime *metav1.Time `json:"affinityClaimTime,omitempty"`
	// StrictAffinity forbids borrowing addresses from this block.
	// +optional
	StrictAffinity bool `json:"strictAffinity,omitempty"`
	// Allocations has one entry per address of the block, by ordinal (the
	// address's offset from the block's first address): null for a free
	// address, else the index in attributes of the allocation that holds
	// it. Empty for a block that records no allocations (a block mirrored
	// from a remote cluster, or one made by hand).
	// +optional
	// +listType=atomic
	Allocations Allocations `json:"allocations,omitempty"`
	// Unallocated lists the ordinals of the free addresses, in the order
	// they are handed out (a released address goes to the end, so it is
	// reused last).
	// +optional
	// +listType=atomic
	Unallocated []int `json:"unallocated,omitempty"`
	// Attributes are the allocations' records: the handle that allocated
	// (and releases) the address and who holds it.
	// +optional
	// +listType=atomic
	Attributes []AllocationAttribute `json:"attributes,omitempty"`
	// SequenceNumber increases with every change of the block's
	// allocations.
	// +optional
	SequenceNumber int64 `json:"sequenceNumber,omitempty"`
	// Deleted marks a block that is being released.
	// +optional
	Deleted bool `json:"deleted,omitempty"`
}

// Allocations is an IPAMBlock's allocation table: per ordinal, nil (free)
// or the index of the allocation's attribute.
type Allocations []*int

// AllocationAttribute records one allocation of an IPAMBlock.
type AllocationAttribute struct {
	// HandleID names the allocation, "<network>.<containerID>" for a pod
	// or "vxlan-tunnel-addr-<node>" for a node's VXLAN tunnel address; it
	// releases the address.
	// +optional
	HandleID *string `json:"handle_id,omitempty"`
	// Secondary holds who the address is for: "namespace", "pod", "node"
	// and "type" ("pod" or "vxlanTunnelAddress"), "timestamp".
	// +optional
	Secondary map[string]string `json:"secondary,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// IPAMBlockList is a list of IPAMBlocks.
type IPAMBlockList struct {
	metav1.TypeMeta `json:",inline"`
	// Standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items is the list of IPAMBlocks.
	Items []IPAMBlock `json:"items"`
}
