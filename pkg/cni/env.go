package cni

import (
	"context"
	"time"

	"github.com/containernetworking/cni/pkg/types"

	"github.com/meshapi/meshapi/pkg/ipamwire"
)

// Timeout bounds one invocation of the plugin.
const Timeout = 2 * time.Minute

// Plugin-specific error codes (see the package documentation).
const (
	ErrPoolsExhausted = ipamwire.ErrPoolsExhausted
	ErrNoPool         = ipamwire.ErrNoPool
	ErrAddressInUse   = ipamwire.ErrAddressInUse
)

// Env is what one invocation works with: its configuration and the
// client of the node's IPAM service.
type Env struct {
	// Conf is the network configuration.
	Conf *NetConf
	// IPAM reaches meshapi-agent's IPAM service on Conf.IPAMSocket.
	IPAM ipamwire.Client
}

// NewEnv is the invocation's Env for conf.
func NewEnv(conf *NetConf) *Env {
	return &Env{Conf: conf, IPAM: ipamwire.Client{Socket: conf.IPAMSocket}}
}

// call sends req (with this node and network) to the IPAM service; its
// errors are CNI errors.
func (e *Env) call(ctx context.Context, req ipamwire.Request) (*ipamwire.Response, error) {
	req.Node, req.Network = e.Conf.NodeName, e.Conf.Name
	resp, err := e.IPAM.Call(ctx, req)
	if err != nil {
		if we, ok := ipamwire.AsError(err); ok {
			return nil, types.NewError(we.Code, we.Msg, we.Details)
		}
		return nil, types.NewError(types.ErrInternal, string(req.Op)+" through "+e.Conf.IPAMSocket, err.Error())
	}
	return resp, nil
}
