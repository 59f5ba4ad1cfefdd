package v3

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// +genclient
// +genclient:nonNamespaced
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// RemoteClusterConfiguration tells this cluster how to connect to a remote
// cluster of the mesh and what to sync from it. The remote cluster's
// endpoints, profiles and, with overlay routing, nodes, IP pools and IPAM
// blocks are mirrored into this cluster under the prefix "<name>/".
type RemoteClusterConfiguration struct {
	metav1.TypeMeta `json:",inline"`
	// Standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Specification of how to reach the remote cluster.
	// +optional
	Spec RemoteClusterConfigurationSpec `json:"spec,omitempty"`
	// Observed state of the connection to the remote cluster.
	// +optional
	Status RemoteClusterConfigurationStatus `json:"status,omitempty"`
}

// RemoteClusterConfigurationSpec says how to reach a remote cluster: either a
// reference to a Secret holding the connection data (recommended), or the
// connection fields inline.
type RemoteClusterConfigurationSpec struct {
	// ClusterAccessSecret references a Secret whose data holds the
	// connection: "datastoreType" and "kubeconfig" (or, for etcdv3,
	// "etcdEndpoints", "etcdUsername", "etcdPassword", "etcdCert",
	// "etcdKey", "etcdCACert"). When set, no other connection field may be set.
	// +optional
	ClusterAccessSecret *corev1.ObjectReference `json:"clusterAccessSecret,omitempty"`
	// DatastoreType is the remote cluster's datastore: "kubernetes" or "etcdv3".
	// +optional
	DatastoreType DatastoreType `json:"datastoreType,omitempty"`
	// Inline etcd connection, for datastoreType etcdv3.
	EtcdConfig `json:",inline"`
	// Inline Kubernetes connection, for datastoreType kubernetes.
	KubeConfig `json:",inline"`
	// SyncOptions selects what is synced from the remote cluster.
	// +optional
	SyncOptions RemoteClusterSyncOptions `json:"syncOptions,omitempty"`
}

// DatastoreType names the kind of datastore a remote cluster uses.
// +enum
type DatastoreType string

const (
	// DatastoreTypeKubernetes is a remote cluster reached through its
	// Kubernetes API server.
	DatastoreTypeKubernetes DatastoreType = "kubernetes"
	// DatastoreTypeEtcdV3 is a remote cluster whose datastore is etcd v3.
	DatastoreTypeEtcdV3 DatastoreType = "etcdv3"
)

// EtcdConfig is an inline etcd v3 connection.
type EtcdConfig struct {
	// EtcdEndpoints is a comma-separated list of etcd URLs, e.g.
	// "https://10.0.0.1:2379,https://10.0.0.2:2379".
	// +optional
	EtcdEndpoints string `json:"etcdEndpoints,omitempty"`
	// EtcdUsername is the etcd user name.
	// +optional
	EtcdUsername string `json:"etcdUsername,omitempty"`
	// EtcdPassword is the etcd password.
	// +optional
	EtcdPassword string `json:"etcdPassword,omitempty"`
	// EtcdKeyFile is the path of the client key file.
	// +optional
	EtcdKeyFile string `json:"etcdKeyFile,omitempty"`
	// EtcdCertFile is the path of the client certificate file.
	// +optional
	EtcdCertFile string `json:"etcdCertFile,omitempty"`
	// EtcdCACertFile is the path of the CA certificate file.
	// +optional
	EtcdCACertFile string `json:"etcdCACertFile,omitempty"`
}

// KubeConfig is an inline Kubernetes API connection.
type KubeConfig struct {
	// Kubeconfig is the path of a kubeconfig file.
	// +optional
	Kubeconfig string `json:"kubeconfig,omitempty"`
	// K8sAPIEndpoint is the URL of the remote Kubernetes API server.
	// +optional
	K8sAPIEndpoint string `json:"k8sAPIEndpoint,omitempty"`
	// K8sKeyFile is the path of the client key file.
	// +optional
	K8sKeyFile string `json:"k8sKeyFile,omitempty"`
	// K8sCertFile is the path of the client certificate file.
	// +optional
	K8sCertFile string `json:"k8sCertFile,omitempty"`
	// K8sCAFile is the path of the CA certificate file.
	// +optional
	K8sCAFile string `json:"k8sCAFile,omitempty"`
	// K8sAPIToken is a bearer token.
	// +optional
	K8sAPIToken string `json:"k8sAPIToken,omitempty"`
	// K8sInsecureSkipTLSVerify disables verification of the server's certificate.
	// +optional
	K8sInsecureSkipTLSVerify bool `json:"k8sInsecureSkipTLSVerify,omitempty"`
	// KubeconfigInline is a whole kubeconfig document.
	// +optional
	KubeconfigInline string `json:"kubeconfigInline,omitempty"`
}

// RemoteClusterSyncOptions selects what is synced from a remote cluster.
type RemoteClusterSyncOptions struct {
	// OverlayRoutingMode "Enabled" also syncs the remote cluster's nodes, IP
	// pools and IPAM blocks so that the overlay extends to its nodes;
	// "Disabled" relies on the underlay to route pod IPs. When unset, it
	// defaults to Enabled if the "default" FelixConfiguration enables
	// WireGuard or any IPPool uses VXLAN, else to Disabled.
	// +optional
	OverlayRoutingMode OverlayRoutingMode `json:"overlayRoutingMode,omitempty"`
	// DisconnectedTTL, if set, bounds how long the last known state of a
	// disconnected remote cluster is kept: once the connection has failed
	// (syncState ConnectionFailed or ConfigIncomplete) without a break for
	// longer than this, the remote cluster's mirrored endpoints, profiles,
	// nodes, pools and blocks are removed from this cluster, and with them
	// the routes and policy set members they made on every node. A
	// reconnect before it resets the clock, so a remote that drops for a
	// moment changes nothing; once reconnected, the mirror is listed anew.
	// Unset (the default, as in the original product) keeps the last
	// known state however long the outage lasts, e.g. "10m".
	// +optional
	DisconnectedTTL *metav1.Duration `json:"disconnectedTTL,omitempty"`
}

// OverlayRoutingMode toggles cross-cluster overlay routes.
// +enum
type OverlayRoutingMode string

const (
	// OverlayRoutingModeEnabled extends the overlay to the remote cluster's nodes.
	OverlayRoutingModeEnabled OverlayRoutingMode = "Enabled"
	// OverlayRoutingModeDisabled leaves routing of remote pod IPs to the underlay.
	OverlayRoutingModeDisabled OverlayRoutingMode = "Disabled"
)

// RemoteClusterSyncState is the state of the connection to a remote cluster.
// +enum
type RemoteClusterSyncState string

const (
	// SyncStateConnecting means the connection is being established.
	SyncStateConnecting RemoteClusterSyncState = "Connecting"
	// SyncStateResyncInProgress means the initial list is under way.
	SyncStateResyncInProgress RemoteClusterSyncState = "ResyncInProgress"
	// SyncStateInSync means the mirror matches the remote cluster.
	SyncStateInSync RemoteClusterSyncState = "InSync"
	// SyncStateConnectionFailed means the remote cluster cannot be reached;
	// the last known mirror is kept.
	SyncStateConnectionFailed RemoteClusterSyncState = "ConnectionFailed"
	// SyncStateConfigIncomplete means the configuration or its Secret is
	// missing data needed to connect.
	SyncStateConfigIncomplete RemoteClusterSyncState = "ConfigIncomplete"
)

// Condition types of a RemoteClusterConfiguration.
const (
	// RemoteClusterConditionConnected is True while the remote API answers.
	RemoteClusterConditionConnected = "Connected"
	// RemoteClusterConditionSynced is True while the mirror is in sync.
	RemoteClusterConditionSynced = "Synced"
	// RemoteClusterConditionRequirementsMet is True when the mesh's
	// requirements (non-overlapping pools, equal overlay settings, unique
	// node names) hold between this cluster and the remote one.
	RemoteClusterConditionRequirementsMet = "RequirementsMet"
	// RemoteClusterConditionMirrorRefused is True while remote objects are
	// not mirrored because they claim addresses the remote cluster does
	// not own (outside its pools, or a local pool, node or reserved
	// range); its message names them and why.
	RemoteClusterConditionMirrorRefused = "MirrorRefused"
)

// RemoteClusterConfigurationStatus is the observed state of the sync.
type RemoteClusterConfigurationStatus struct {
	// ObservedGeneration is the spec generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// ObservedSecretResourceVersion is the resourceVersion of the Secret
	// named by spec.clusterAccessSecret that the connection described here
	// was made with; empty when the Secret could not be read. A client that
	// changed the Secret waits for this to match before trusting syncState.
	// +optional
	ObservedSecretResourceVersion string `json:"observedSecretResourceVersion,omitempty"`
	// SyncState is the state of the connection: Connecting,
	// ResyncInProgress, InSync, ConnectionFailed or ConfigIncomplete.
	// +optional
	SyncState RemoteClusterSyncState `json:"syncState,omitempty"`
	// Conditions: Connected, Synced, RequirementsMet.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +patchStrategy=merge
	// +patchMergeKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`
	// MirroredObjects counts the objects mirrored from the remote cluster.
	// +optional
	MirroredObjects *MirroredObjectCounts `json:"mirroredObjects,omitempty"`
	// LastError is the last error met while syncing, empty when healthy.
	// +optional
	LastError string `json:"lastError,omitempty"`
	// LastSyncTime is when the mirror was last confirmed in sync.
	// +optional
	LastSyncTime *metav1.Time `json:"lastSyncTime,omitempty"`
}

// MirroredObjectCounts counts mirrored objects by kind.
type MirroredObjectCounts struct {
	// WorkloadEndpoints mirrored.
	// +optional
	WorkloadEndpoints int32 `json:"workloadEndpoints,omitempty"`
	// HostEndpoints mirrored.
	// +optional
	HostEndpoints int32 `json:"hostEndpoints,omitempty"`
	// Profiles mirrored.
	// +optional
	Profiles int32 `json:"profiles,omitempty"`
	// Nodes mirrored (overlay routing only).
	// +optional
	Nodes int32 `json:"nodes,omitempty"`
	// IPPools mirrored (overlay routing only).
	// +optional
	IPPools int32 `json:"ipPools,omitempty"`
	// IPAMBlocks mirrored (overlay routing only).
	// +optional
	IPAMBlocks int32 `json:"ipamBlocks,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// RemoteClusterConfigurationList is a list of RemoteClusterConfigurations.
type RemoteClusterConfigurationList struct {
	metav1.TypeMeta `json:",inline"`
	// Standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items is the list of RemoteClusterConfigurations.
	Items []RemoteClusterConfiguration `json:"items"`
}
