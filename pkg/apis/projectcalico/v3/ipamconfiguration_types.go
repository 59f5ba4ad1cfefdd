package v3

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// IPAMConfigurationName is the name of the one IPAMConfiguration IPAM
// reads.
const IPAMConfigurationName = "default"

// +genclient
// +genclient:nonNamespaced
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// IPAMConfiguration configures IPAM for the whole cluster, as Calico's
// IPAMConfiguration does. Only the object named "default" exists; without
// it IPAM uses the defaults of its fields.
type IPAMConfiguration struct {
	metav1.TypeMeta `json:",inline"`
	// Standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Specification of the IPAM configuration.
	// +optional
	Spec IPAMConfigurationSpec `json:"spec,omitempty"`
}

// IPAMConfigurationSpec is the specification of an IPAMConfiguration.
type IPAMConfigurationSpec struct {
	// StrictAffinity forbids a node to borrow addresses from another
	// node's block when the pools have no free block left.
	// +optional
	StrictAffinity bool `json:"strictAffinity,omitempty"`
	// AutoAllocateBlocks lets nodes claim new blocks; false leaves them
	// the blocks they have (and borrowing, without strict affinity).
	// +optional
	// +default=true
	AutoAllocateBlocks *bool `json:"autoAllocateBlocks,omitempty"`
	// MaxBlocksPerHost caps the blocks one node claims; 0 is no limit.
	// +optional
	MaxBlocksPerHost int32 `json:"maxBlocksPerHost,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// IPAMConfigurationList is a list of IPAMConfigurations.
type IPAMConfigurationList struct {
	metav1.TypeMeta `json:",inline"`
	// Standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items is the list of IPAMConfigurations.
	Items []IPAMConfiguration `json:"items"`
}
