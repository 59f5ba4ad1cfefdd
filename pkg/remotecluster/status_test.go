package remotecluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

func TestConnectionStatus(t *testing.T) {
	// The values documented in the help of remote_cluster_connection_status.
	cases := []struct {
		state v3.RemoteClusterSyncState
		want  float64
	}{
		{state: v3.SyncStateConnectionFailed, want: 0},
		{state: v3.SyncStateConnecting, want: 1},
		{state: v3.SyncStateInSync, want: 2},
		{state: v3.SyncStateResyncInProgress, want: 3},
		{state: v3.SyncStateConfigIncomplete, want: 5},
		{state: "", want: 0},
		{state: "SomethingElse", want: 0},
	}
	for _, tc := range cases {
		if got := ConnectionStatus(tc.state); got != tc.want {
			t.Errorf("ConnectionStatus(%q) = %v, want %v", tc.state, got, tc.want)
		}
	}
}

// refusedDial returns the error of a real TCP dial to a port nobody listens on.
func refusedDial(t *testing.T) (addr string, err error) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr = l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", addr)
	if err == nil {
		_ = conn.Close()
		t.Skipf("something listens on %s again", addr)
	}
	return addr, err
}

func TestDescribeRemoteError(t *testing.T) {
	addr, dialErr := refusedDial(t)
	var opErr *net.OpError
	if !errors.As(dialErr, &opErr) {
		t.Fatalf("dialing a closed port gave %T %v, want a *net.OpError", dialErr, dialErr)
	}
	// What client-go gets from its transport: a *url.Error around the dial error.
	resp, httpErr := (&http.Client{}).Get("http://" + addr + "/apis/projectcalico.org/v3/workloadendpoints")
	if httpErr == nil {
		_ = resp.Body.Close()
		t.Skipf("something listens on %s again", addr)
	}

	gr := schema.GroupResource{Group: v3.GroupName, Resource: "workloadendpoints"}
	cases := []struct {
		name       string
		err        error
		wantReason string
	}{
		{name: "forbidden", err: apierrors.NewForbidden(gr, "", errors.New(`User "system:serviceaccount:calico-system:remote" cannot list resource`)), wantReason: "RemoteForbidden"},
		{name: "forbidden, wrapped", err: fmt.Errorf("listing: %w", apierrors.NewForbidden(gr, "", errors.New("no"))), wantReason: "RemoteForbidden"},
		{name: "unauthorized", err: apierrors.NewUnauthorized("Unauthorized"), wantReason: "RemoteUnauthorized"},
		{name: "not found", err: apierrors.NewNotFound(gr, ""), wantReason: "RemoteAPIMissing"},
		{name: "404 response", err: apierrors.NewGenericServerResponse(http.StatusNotFound, "get", gr, "", "", 0, true), wantReason: "RemoteAPIMissing"},
		{name: "resource not served", err: errors.New("the server could not find the requested resource"), wantReason: "RemoteAPIMissing"},
		{name: "dial tcp connection refused", err: dialErr, wantReason: "RemoteUnreachable"},
		{name: "connection refused through net/http", err: httpErr, wantReason: "RemoteUnreachable"},
		{name: "op error, wrapped", err: fmt.Errorf("Get %q: %w", "https://x", dialErr), wantReason: "RemoteUnreachable"},
		{name: "no such host", err: &net.DNSError{Err: "no such host", Name: "cluster-b.example.com", IsNotFound: true}, wantReason: "RemoteUnreachable"},
		{name: "connection refused only in the text", err: errors.New("dial tcp 10.0.0.1:6443: connect: connection refused"), wantReason: "RemoteUnreachable"},
		{name: "service unavailable", err: apierrors.NewServiceUnavailable("the meshapi-apiserver is not ready"), wantReason: "RemoteUnavailable"},
		{name: "503 response", err: apierrors.NewGenericServerResponse(http.StatusServiceUnavailable, "list", gr, "", "", 0, true), wantReason: "RemoteUnavailable"},
		{name: "other", err: errors.New("boom"), wantReason: "RemoteError"},
		{name: "internal error", err: apierrors.NewInternalError(errors.New("etcd down")), wantReason: "RemoteError"},
		{name: "bad request", err: apierrors.NewBadRequest("bad selector"), wantReason: "RemoteError"},
		{name: "canceled", err: context.Canceled, wantReason: "RemoteError"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			reason, msg := describeRemoteError("cluster-b", tc.err)
			if reason != tc.wantReason {
				t.Errorf("reason = %q, want %q (message %q)", reason, tc.wantReason, msg)
			}
			if !strings.Contains(msg, `remote cluster "cluster-b"`) {
				t.Errorf("message %q does not name the cluster", msg)
			}
			if !strings.Contains(msg, tc.err.Error()) {
				t.Errorf("message %q does not carry the error %q", msg, tc.err.Error())
			}
		})
	}
}
