package v3

import "strings"

// How an object mirrored from a remote cluster is named and marked: the one
// definition that meshapi-controller (which writes mirrors), the API server,
// the node agent, policy and meshctl (which read them) share.
//
//   - metadata.name of a mirror is "<cluster>.<name>" (MirrorName):
//     metadata.name cannot hold a "/";
//   - every node or profile reference inside a mirror, and every reference to
//     a mirror from elsewhere, is "<cluster>/<name>" (RemoteName);
//   - a mirror carries the label LabelCluster naming its cluster and the
//     annotations AnnotationRemoteName and AnnotationRemoteUID with its name
//     and UID in its own cluster.
const (
	// LabelCluster marks an object mirrored from a remote cluster; its
	// value is the name of the RemoteClusterConfiguration it came from.
	LabelCluster = "projectcalico.org/cluster"
	// AnnotationRemoteName is a mirrored object's name in its own cluster.
	AnnotationRemoteName = "projectcalico.org/remote-name"
	// AnnotationRemoteUID is a mirrored object's UID in its own cluster.
	AnnotationRemoteUID = "projectcalico.org/remote-uid"
	// RemoteNameSeparator separates a remote cluster's name from a node or
	// profile name: "cluster-b/host-1".
	RemoteNameSeparator = "/"
	// MirrorNameSeparator separates a remote cluster's name from an object's
	// name in the metadata.name of its mirror: "cluster-b.host-1".
	MirrorNameSeparator = "."
)

// RemoteName is how a remote node or profile is referred to locally:
// "<cluster>/<name>", e.g. "cluster-b/host-1".
func RemoteName(cluster, name string) string {
	return cluster + RemoteNameSeparator + name
}

// SplitRemoteName splits "<cluster>/<name>"; ok is false for a local name.
func SplitRemoteName(ref string) (cluster, name string, ok bool) {
	return strings.Cut(ref, RemoteNameSeparator)
}

// MirrorName is the metadata.name of the mirror of a remote object:
// "<cluster>.<name>".
func MirrorName(cluster, name string) string {
	return cluster + MirrorNameSeparator + name
}

// TrimMirrorName returns the name a mirror named "<cluster>.<name>" has in
// its own cluster; a name without the prefix is returned unchanged.
func TrimMirrorName(cluster, mirrorName string) string {
	return strings.TrimPrefix(mirrorName, cluster+MirrorNameSeparator)
}

// MirroredFrom returns the cluster an object was mirrored from, read from
// its labels; ok is false for an object of this cluster.
func MirroredFrom(labels map[string]string) (cluster string, ok bool) {
	cluster, ok = labels[LabelCluster]
	return cluster, ok
}

// NameInOwnCluster returns an object's name in the cluster it belongs to:
// the AnnotationRemoteName of a mirror, else name.
func NameInOwnCluster(annotations map[string]string, name string) string {
	if n := annotations[AnnotationRemoteName]; n != "" {
		return n
	}
	return name
}
