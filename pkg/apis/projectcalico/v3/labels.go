package v3

// Labels and names shared by meshapi's components.
const (
	// LabelCluster marks an object mirrored from a remote cluster; its
	// value is the name of the RemoteClusterConfiguration it came from.
	LabelCluster = "projectcalico.org/cluster"
	// RemoteNameSeparator separates a remote cluster's name from a node or
	// profile name: "cluster-b/host-1".
	RemoteNameSeparator = "/"
)
