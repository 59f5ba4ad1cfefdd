// Package ipamwire is the protocol between meshapi's CNI plugin and the
// node-local IPAM service of meshapi-agent (pkg/ipamd): the request and
// response types and the client of the service's Unix socket. It imports
// nothing of Kubernetes, so that the plugin binary, executed once per
// ADD and DEL, does not link client-go.
//
// One connection carries one request and its response, each a JSON
// object. The socket is the service's only access control: it is created
// with mode 0600 in a directory of mode 0700 (root only), as the plugin
// runs as root.
package ipamwire

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"
)

// DefaultSocket is the service's socket on a node (a hostPath shared by
// the agent's pod and the container runtime).
const DefaultSocket = "/var/run/meshapi/ipam.sock"

// Op names what a Request asks.
type Op string

// The operations of the service.
const (
	// OpAdd allocates the addresses of an attachment (or returns those it
	// holds) and tells the pod's MTU and host-side interface name.
	OpAdd Op = "ADD"
	// OpDel releases the attachment's addresses; an unknown attachment is
	// not an error.
	OpDel Op = "DEL"
	// OpCheck lists the attachment's addresses and its host-side
	// interface name.
	OpCheck Op = "CHECK"
	// OpStatus reports whether the node can allocate (an enabled pool).
	OpStatus Op = "STATUS"
	// OpGC releases the node's attachments of the network whose
	// container is not in Valid.
	OpGC Op = "GC"
)

// Plugin-specific CNI error codes the service returns (the CNI
// specification's own codes, such as 11 "try again later", are used as
// the specification defines them).
const (
	// ErrPoolsExhausted: every pool the pod may use is full.
	ErrPoolsExhausted uint = 100
	// ErrNoPool: no enabled pool admits the node (or the annotation names
	// pools that do not exist).
	ErrNoPool uint = 101
	// ErrAddressInUse: an address the ipAddrs annotation requests is held
	// by another handle.
	ErrAddressInUse uint = 102
)

// CNI specification error codes the client itself returns.
const (
	// ErrTryAgainLater is the specification's code 11: the service is not
	// answering (yet); the runtime retries.
	ErrTryAgainLater uint = 11
	// ErrInternal is the specification's code 999.
	ErrInternal uint = 999
)

// Request is one call of the plugin.
type Request struct {
	// Op is the operation.
	Op Op `json:"op"`
	// Node is the node the plugin's configuration names; the service
	// refuses a request for another node than its own.
	Node string `json:"node"`
	// Network is the network's name (the handle's prefix).
	Network string `json:"network"`
	// ContainerID is the sandbox's ID (ADD, DEL, CHECK).
	ContainerID string `json:"containerID,omitempty"`
	// Namespace and Pod name the pod (ADD, CHECK).
	Namespace string `json:"namespace,omitempty"`
	Pod       string `json:"pod,omitempty"`
	// Valid are the container IDs of the attachments the runtime still
	// has (GC).
	Valid []string `json:"valid,omitempty"`
}

// Response is the service's answer.
type Response struct {
	// Addrs are the addresses assigned (ADD), held (CHECK) or released
	// (DEL, GC).
	Addrs []netip.Addr `json:"addrs,omitempty"`
	// MTU is the pod's MTU from the cluster's configuration (ADD).
	MTU int `json:"mtu,omitempty"`
	// HostInterface is the host side's name of the pod's veth (ADD,
	// CHECK).
	HostInterface string `json:"hostInterface,omitempty"`
	// Error is set when the request failed.
	Error *Error `json:"error,omitempty"`
}

// Error is a failed request, as a CNI error: Code is a CNI error code.
type Error struct {
	Code    uint   `json:"code"`
	Msg     string `json:"msg"`
	Details string `json:"details,omitempty"`
}

func (e *Error) Error() string {
	if e.Details == "" {
		return fmt.Sprintf("code %d: %s", e.Code, e.Msg)
	}
	return fmt.Sprintf("code %d: %s; %s", e.Code, e.Msg, e.Details)
}

// Handle is the IPAM handle of an attachment: "<network>.<containerID>".
func Handle(network, containerID string) string {
	return network + "." + containerID
}

// ContainerOfHandle returns the container ID of a handle of network, and
// whether the handle belongs to network at all.
func ContainerOfHandle(network, handle string) (string, bool) {
	id, ok := strings.CutPrefix(handle, network+".")
	if !ok || id == "" {
		return "", false
	}
	return id, true
}

// Client calls the service on its socket.
type Client struct {
	// Socket is the path of the service's Unix socket.
	Socket string
}

// Call sends req and returns the service's response. A service that
// cannot be reached, or that closes the connection without answering, is
// an *Error with code 11 (try again later) naming the socket; a request
// the service refused is its *Error.
func (c Client) Call(ctx context.Context, req Request) (*Response, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", c.Socket)
	if err != nil {
		return nil, &Error{Code: ErrTryAgainLater, Msg: fmt.Sprintf("meshapi-agent's IPAM service is not answering on %s (is meshapi-agent running on this node with --ipam-socket=%s?)", c.Socket, c.Socket), Details: err.Error()}
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if err := json.NewEncoder(conn).Encode(req); err != nil {
		return nil, &Error{Code: ErrTryAgainLater, Msg: fmt.Sprintf("sending %s to the IPAM service on %s", req.Op, c.Socket), Details: err.Error()}
	}
	var resp Response
	if err := json.NewDecoder(conn).Decode(&resp); err != nil {
		return nil, &Error{Code: ErrTryAgainLater, Msg: fmt.Sprintf("reading the IPAM service's answer to %s on %s", req.Op, c.Socket), Details: err.Error()}
	}
	if resp.Error != nil {
		return nil, resp.Error
	}
	return &resp, nil
}

// AsError returns the *Error in err, if any.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
