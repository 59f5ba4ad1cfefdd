package remotecluster

import (
	"errors"
	"fmt"
	"net"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

// ConnectionStatus is the value of the gauge
// remote_cluster_connection_status for each state, as in the original.
func ConnectionStatus(state v3.RemoteClusterSyncState) float64 {
	switch state {
	case v3.SyncStateConnectionFailed:
		return 0
	case v3.SyncStateConnecting:
		return 1
	case v3.SyncStateInSync:
		return 2
	case v3.SyncStateResyncInProgress:
		return 3
	case v3.SyncStateConfigIncomplete:
		return 5
	}
	return 0
}

// describeRemoteError turns an error talking to a remote cluster into a
// reason and a message that says what to check.
func describeRemoteError(cluster string, err error) (reason, message string) {
	var netErr net.Error
	var opErr *net.OpError
	switch {
	case apierrors.IsForbidden(err):
		return "RemoteForbidden", fmt.Sprintf("forbidden by the RBAC of remote cluster %q (apply federation-rem-rbac-kdd.yaml there): %v", cluster, err)
	case apierrors.IsUnauthorized(err):
		return "RemoteUnauthorized", fmt.Sprintf("remote cluster %q refused the credentials of the access Secret: %v", cluster, err)
	case apierrors.IsNotFound(err) || isResourceMissing(err):
		return "RemoteAPIMissing", fmt.Sprintf("remote cluster %q does not serve projectcalico.org/v3 (is meshapi installed there?): %v", cluster, err)
	case errors.As(err, &opErr), errors.As(err, &netErr), strings.Contains(err.Error(), "connection refused"):
		return "RemoteUnreachable", fmt.Sprintf("remote cluster %q is unreachable: %v", cluster, err)
	case apierrors.IsServiceUnavailable(err):
		return "RemoteUnavailable", fmt.Sprintf("remote cluster %q answers 503 for projectcalico.org (its meshapi-apiserver is down?): %v", cluster, err)
	}
	return "RemoteError", fmt.Sprintf("syncing remote cluster %q: %v", cluster, err)
}

// isResourceMissing recognises the 404 text of a server that does not
// serve the resource at all.
func isResourceMissing(err error) bool {
	return strings.Contains(err.Error(), "the server could not find the requested resource")
}
