package v3

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// +genclient
// +genclient:nonNamespaced
// +genclient:onlyVerbs=create
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// MirrorBatch creates, in one request, mirrors of one remote cluster's
// WorkloadEndpoints: the remote cluster controller's write path for the
// thousands of endpoints of an initial sync, where a request per mirror
// cost the API server as much again as the mirror itself. It is never
// stored: a create answers with the batch's status, which says per
// endpoint whether it was stored, and at which resourceVersion, or why
// not. Every endpoint is authorized (create of workloadendpoints in its
// namespace), admitted and validated as its own create would be; the
// batch skips only what a user's write needs and a mirror does not
// (managed fields: a mirror is owned whole by the controller).
type MirrorBatch struct {
	metav1.TypeMeta `json:",inline"`
	// Standard object metadata; a batch needs no name.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`
	// Spec holds the mirrors to create.
	Spec MirrorBatchSpec `json:"spec"`
	// Status is the answer: one result per mirror of the spec.
	// +optional
	Status MirrorBatchStatus `json:"status,omitempty"`
}

// MirrorBatchSpec holds the mirrors a batch creates.
type MirrorBatchSpec struct {
	// Cluster is the remote cluster (the name of its
	// RemoteClusterConfiguration) the mirrors come from: each one must
	// carry it in the label projectcalico.org/cluster and be named
	// "<cluster>.<its name in the remote cluster>".
	Cluster string `json:"cluster"`
	// WorkloadEndpoints are the mirrors to create, each with its
	// namespace; at most MaxMirrorBatchItems.
	// +optional
	// +listType=atomic
	WorkloadEndpoints []WorkloadEndpoint `json:"workloadEndpoints,omitempty"`
}

// MaxMirrorBatchItems bounds the mirrors of one batch, so that one request
// holds the API server for a bounded time.
const MaxMirrorBatchItems = 1000

// MirrorBatchStatus is what a batch's create answers.
type MirrorBatchStatus struct {
	// Results has one entry per mirror of the spec, in its order.
	// +optional
	// +listType=atomic
	Results []MirrorResult `json:"results,omitempty"`
}

// MirrorResult is the outcome of one mirror of a batch.
type MirrorResult struct {
	// Namespace and Name are the mirror's.
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// Code is the HTTP status code a create of the mirror on its own
	// would have answered: 201 when it was stored.
	Code int32 `json:"code"`
	// UID and ResourceVersion are the stored mirror's, when stored.
	// +optional
	UID types.UID `json:"uid,omitempty"`
	// +optional
	ResourceVersion string `json:"resourceVersion,omitempty"`
	// Reason and Message say why the mirror was not stored, as the
	// Status of a create of it on its own would.
	// +optional
	Reason metav1.StatusReason `json:"reason,omitempty"`
	// +optional
	Message string `json:"message,omitempty"`
}
