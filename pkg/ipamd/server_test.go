package ipamd

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"

	"github.com/meshapi/meshapi/pkg/generated/clientset/versioned"
	"github.com/meshapi/meshapi/pkg/ipamwire"
)

// newTestServer is a Server of node n1 on a socket in a temporary
// directory, with clients of an API server nobody listens on: the
// requests these tests send are answered before any API call.
func newTestServer(t *testing.T) (*Server, string) {
	t.Helper()
	cfg := &rest.Config{Host: "https://127.0.0.1:1", Timeout: time.Second}
	cs, err := versioned.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	core, err := corev1client.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "run", "ipam.sock")
	s, err := New(Config{Node: "n1", Socket: sock, Client: cs, Pods: core})
	if err != nil {
		t.Fatal(err)
	}
	return s, sock
}

// serve runs s until the test ends.
func serve(t *testing.T, s *Server) {
	t.Helper()
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
}

// TestRequestsRefused: requests the service refuses before asking the
// API, over its socket, with the CNI code and a message naming the
// field.
func TestRequestsRefused(t *testing.T) {
	s, sock := newTestServer(t)
	serve(t, s)
	c := ipamwire.Client{Socket: sock}
	tests := []struct {
		name string
		req  ipamwire.Request
		code uint
		msg  string
	}{
		{"another node", ipamwire.Request{Op: ipamwire.OpAdd, Node: "n2", Network: "net", ContainerID: "c", Namespace: "ns", Pod: "p"}, 7, `nodename "n2"`},
		{"no network", ipamwire.Request{Op: ipamwire.OpDel, Node: "n1", ContainerID: "c"}, 7, "network name"},
		{"ADD without a container", ipamwire.Request{Op: ipamwire.OpAdd, Node: "n1", Network: "net", Namespace: "ns", Pod: "p"}, 7, "container ID"},
		{"DEL without a container", ipamwire.Request{Op: ipamwire.OpDel, Node: "n1", Network: "net"}, 7, "container ID"},
		{"CHECK without the pod", ipamwire.Request{Op: ipamwire.OpCheck, Node: "n1", Network: "net", ContainerID: "c"}, 7, "pod's namespace and name"},
		{"unknown op", ipamwire.Request{Op: "VERSION", Node: "n1", Network: "net"}, 999, `"VERSION"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Call(t.Context(), tt.req)
			we, ok := ipamwire.AsError(err)
			if !ok || we.Code != tt.code || !strings.Contains(we.Msg, tt.msg) {
				t.Errorf("got %v, want code %d naming %q", err, tt.code, tt.msg)
			}
		})
	}
}

// TestListen: the socket is created with mode 0600, a stale socket is
// replaced, a path that is not a socket is refused, and a client finds no
// service (code 11, naming the socket) once Serve returned.
func TestListen(t *testing.T) {
	s, sock := newTestServer(t)
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(sock)
	if err != nil || fi.Mode().Perm() != 0o600 || fi.Mode().Type() != os.ModeSocket {
		t.Fatalf("socket %s: %v, mode %v; want a socket of mode 0600", sock, err, fi)
	}
	s.ln.(interface{ SetUnlinkOnClose(bool) }).SetUnlinkOnClose(false)
	s.ln.Close() // a process that died: its socket is left behind

	again, _ := newTestServerAt(t, sock)
	if err := again.Listen(); err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- again.Serve(ctx) }()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	_, err = ipamwire.Client{Socket: sock}.Call(context.Background(), ipamwire.Request{Op: ipamwire.OpStatus, Node: "n1", Network: "net"})
	if we, ok := ipamwire.AsError(err); !ok || we.Code != 11 || !strings.Contains(we.Msg, sock) {
		t.Errorf("after Serve returned: %v, want code 11 naming %s", err, sock)
	}

	file := filepath.Join(t.TempDir(), "not-a-socket")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	bad, _ := newTestServerAt(t, file)
	if err := bad.Listen(); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("Listen on a regular file: %v, want an error saying it is not a socket", err)
	}
}

// newTestServerAt is newTestServer on socket.
func newTestServerAt(t *testing.T, socket string) (*Server, string) {
	t.Helper()
	s, _ := newTestServer(t)
	s.cfg.Socket = socket
	return s, socket
}

// TestNotSyncedYet: while the service's informers have not listed what
// a batch decides on (here: no API server answers), ADD, DEL and GC wait
// for them and, when the request's time runs out, fail with code 11
// naming every kind not yet listed.
func TestNotSyncedYet(t *testing.T) {
	s, sock := newTestServer(t)
	s.cfg.RequestTimeout = 300 * time.Millisecond
	serve(t, s)
	c := ipamwire.Client{Socket: sock}
	for _, req := range []ipamwire.Request{
		{Op: ipamwire.OpAdd, Node: "n1", Network: "net", ContainerID: "c", Namespace: "ns", Pod: "p"},
		{Op: ipamwire.OpDel, Node: "n1", Network: "net", ContainerID: "c"},
		{Op: ipamwire.OpGC, Node: "n1", Network: "net"},
	} {
		_, err := c.Call(t.Context(), req)
		we, ok := ipamwire.AsError(err)
		if !ok || we.Code != 11 || !strings.Contains(we.Msg, "IPPools, IPAMConfigurations, FelixConfigurations, Node n1") {
			t.Errorf("%s before the informers synced: %v, want code 11 naming the kinds not listed", req.Op, err)
		}
	}
}
