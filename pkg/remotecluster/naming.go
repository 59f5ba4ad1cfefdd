package remotecluster

import (
	"strings"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

// objectNameSeparator joins a cluster and a name in metadata.name, where
// "/" is not allowed.
const objectNameSeparator = "."

// RemoteName is how a remote node or profile is referred to locally:
// "<cluster>/<name>", e.g. "cluster-b/host-1".
func RemoteName(cluster, name string) string {
	return cluster + v3.RemoteNameSeparator + name
}

// SplitRemoteName splits "<cluster>/<name>"; ok is false for a local name.
func SplitRemoteName(ref string) (cluster, name string, ok bool) {
	return strings.Cut(ref, v3.RemoteNameSeparator)
}

// MirrorObjectName is the metadata.name of the mirror of a remote object:
// "<cluster>.<name>".
func MirrorObjectName(cluster, name string) string {
	return cluster + objectNameSeparator + name
}
