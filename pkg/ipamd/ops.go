package ipamd

import (
	"context"
	"fmt"
	"net/netip"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/ipam"
	"github.com/meshapi/meshapi/pkg/ipamwire"
	"github.com/meshapi/meshapi/pkg/podendpoints"
)

// handle answers one request.
func (s *Server) handle(ctx context.Context, req ipamwire.Request) *ipamwire.Response {
	if req.Node != s.cfg.Node {
		return fail(&ipamwire.Error{Code: errInvalidNetworkConfig, Msg: fmt.Sprintf(
			"nodename %q of the network configuration: the IPAM service on %s serves node %q", req.Node, s.cfg.Socket, s.cfg.Node)})
	}
	needPod := req.Op == ipamwire.OpAdd || req.Op == ipamwire.OpCheck
	switch {
	case req.Network == "":
		return fail(&ipamwire.Error{Code: errInvalidNetworkConfig, Msg: "the network name is empty (it prefixes every IPAM handle)"})
	case (needPod || req.Op == ipamwire.OpDel) && req.ContainerID == "":
		return fail(&ipamwire.Error{Code: errInvalidNetworkConfig, Msg: fmt.Sprintf("%s without a container ID", req.Op)})
	case needPod && (req.Namespace == "" || req.Pod == ""):
		return fail(&ipamwire.Error{Code: errInvalidNetworkConfig, Msg: fmt.Sprintf("%s of container %s without the pod's namespace and name", req.Op, req.ContainerID)})
	}
	if req.Op == ipamwire.OpAdd || req.Op == ipamwire.OpDel || req.Op == ipamwire.OpGC {
		if err := s.watched.wait(ctx, s.cfg.Node); err != nil {
			return fail(&ipamwire.Error{Code: errTryAgainLater, Msg: err.Error()})
		}
	}
	switch req.Op {
	case ipamwire.OpAdd:
		return s.add(ctx, req)
	case ipamwire.OpDel:
		handle := ipamwire.Handle(req.Network, req.ContainerID)
		r := s.do(ctx, ipam.Op{Release: handle})
		if r.Err != nil {
			return fail(APIError(r.Err, fmt.Sprintf("releasing handle %s on node %s", handle, s.cfg.Node)))
		}
		return &ipamwire.Response{Addrs: r.Addrs}
	case ipamwire.OpCheck:
		handle := ipamwire.Handle(req.Network, req.ContainerID)
		addrs, err := s.ipam.AddressesByHandle(ctx, handle)
		if err != nil {
			return fail(APIError(err, fmt.Sprintf("reading the addresses of handle %s", handle)))
		}
		return &ipamwire.Response{Addrs: addrs, HostInterface: podendpoints.InterfaceName(req.Namespace, req.Pod)}
	case ipamwire.OpStatus:
		return s.status(ctx)
	case ipamwire.OpGC:
		return s.gc(ctx, req)
	}
	return fail(&ipamwire.Error{Code: errInternal, Msg: fmt.Sprintf("unknown op %q", req.Op)})
}

func fail(e *ipamwire.Error) *ipamwire.Response { return &ipamwire.Response{Error: e} }

// add allocates the attachment's address: the pod's annotations and the
// MTU are read in parallel, then the allocation joins the next batch (or,
// for requested addresses, is done alone).
func (s *Server) add(ctx context.Context, req ipamwire.Request) *ipamwire.Response {
	args, requested, werr := s.assignArgs(ctx, req)
	if werr != nil {
		return fail(werr)
	}
	var out outcome
	if len(requested) > 0 {
		args.Requested = requested
		s.alone(func() { out.Addrs, out.Err = s.ipam.Assign(ctx, args) })
		if out.Err == nil {
			out.mtu, out.mtuErr = s.mtu()
		}
	} else {
		out = s.do(ctx, ipam.Op{Assign: &args})
	}
	if out.Err != nil {
		return fail(IPAMError(out.Err, s.cfg.Node))
	}
	if out.mtuErr != nil {
		// The address stays allocated to the handle: the runtime's retry
		// of the ADD gets it again.
		return fail(out.mtuErr)
	}
	return &ipamwire.Response{Addrs: out.Addrs, MTU: out.mtu, HostInterface: podendpoints.InterfaceName(req.Namespace, req.Pod)}
}

// assignArgs builds the allocation of req from the pod's Calico IPAM
// annotations; requested are the addresses its ipAddrs annotation asks.
func (s *Server) assignArgs(ctx context.Context, req ipamwire.Request) (ipam.AssignArgs, []netip.Addr, *ipamwire.Error) {
	args := ipam.AssignArgs{
		Handle: ipamwire.Handle(req.Network, req.ContainerID),
		Node:   s.cfg.Node,
		Attrs:  map[string]string{ipam.AttrNamespace: req.Namespace, ipam.AttrPod: req.Pod, ipam.AttrNode: s.cfg.Node, ipam.AttrType: ipam.TypePod},
	}
	p, err := s.cfg.Pods.Pods(req.Namespace).Get(ctx, req.Pod, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		// Not a Kubernetes pod the API knows (or no core API): no annotations.
		return args, nil, nil
	case err != nil:
		return args, nil, APIError(err, fmt.Sprintf("reading pod %s/%s", req.Namespace, req.Pod))
	}
	invalid := func(err error) *ipamwire.Error {
		return &ipamwire.Error{Code: errInvalidNetworkConfig, Msg: fmt.Sprintf("pod %s/%s: %v", req.Namespace, req.Pod, err)}
	}
	if v, ok := p.Annotations[ipam.AnnotationIPv4Pools]; ok {
		if args.Pools, err = ipam.ParsePoolsAnnotation(v); err != nil {
			return args, nil, invalid(err)
		}
	}
	var requested []netip.Addr
	if v, ok := p.Annotations[ipam.AnnotationIPAddrs]; ok {
		if requested, err = ipam.ParseAddrsAnnotation(v); err != nil {
			return args, nil, invalid(err)
		}
	}
	return args, requested, nil
}

// mtu is the pod MTU the default FelixConfiguration and the pools imply,
// both from the service's informers.
func (s *Server) mtu() (int, *ipamwire.Error) {
	fc, werr := s.felixConfiguration()
	if werr != nil {
		return 0, werr
	}
	pools, err := s.watched.IPPools()
	if err != nil {
		return 0, APIError(err, "listing IPPools for the MTU")
	}
	return MTUFor(fc, derefPools(pools)), nil
}

// felixConfiguration is the default FelixConfiguration, from the
// service's informer; nil when there is none.
func (s *Server) felixConfiguration() (*v3.FelixConfiguration, *ipamwire.Error) {
	fc, err := s.watched.felixConfiguration()
	if err != nil {
		return nil, APIError(err, "reading FelixConfiguration default for the MTU")
	}
	return fc, nil
}

// derefPools copies pools into a slice of values, as MTUFor takes them.
func derefPools(pools []*v3.IPPool) []v3.IPPool {
	out := make([]v3.IPPool, len(pools))
	for i, p := range pools {
		out[i] = *p
	}
	return out
}

// status answers STATUS: the API answers and at least one enabled local
// IPPool exists; otherwise error 50.
func (s *Server) status(ctx context.Context) *ipamwire.Response {
	pools, err := s.cfg.Client.ProjectcalicoV3().IPPools().List(ctx, metav1.ListOptions{})
	if err != nil {
		return fail(&ipamwire.Error{Code: errPluginNotAvailable, Msg: fmt.Sprintf("node %s: listing IPPools: %v", s.cfg.Node, err)})
	}
	for _, p := range pools.Items {
		if _, mirror := p.Labels[v3.LabelCluster]; !mirror && !p.Spec.Disabled {
			return &ipamwire.Response{}
		}
	}
	return fail(&ipamwire.Error{Code: errPluginNotAvailable, Msg: fmt.Sprintf("no enabled IPPool: node %s cannot allocate pod addresses (%d pools, all disabled or mirrored)", s.cfg.Node, len(pools.Items))})
}

// gc releases, in one batch, the pod allocations of req.Network made for
// this node (in any block) whose container is not among req.Valid.
func (s *Server) gc(ctx context.Context, req ipamwire.Request) *ipamwire.Response {
	valid := map[string]bool{}
	for _, id := range req.Valid {
		valid[id] = true
	}
	// Every block: a pod of this node may hold an address borrowed from
	// another node's block.
	allocs, err := s.ipam.Handles(ctx, "")
	if err != nil {
		return fail(APIError(err, fmt.Sprintf("listing the allocations of node %s", s.cfg.Node)))
	}
	seen := map[string]bool{}
	resp := &ipamwire.Response{}
	for _, a := range allocs {
		id, ours := ipamwire.ContainerOfHandle(req.Network, a.Handle)
		if !ours || valid[id] || seen[a.Handle] || a.Attrs[ipam.AttrType] != ipam.TypePod || a.Attrs[ipam.AttrNode] != s.cfg.Node {
			continue
		}
		seen[a.Handle] = true
		r := s.do(ctx, ipam.Op{Release: a.Handle})
		if r.Err != nil {
			return fail(APIError(r.Err, fmt.Sprintf("releasing stale handle %s on node %s", a.Handle, s.cfg.Node)))
		}
		s.log.Info("GC released an allocation whose container the runtime does not list", "handle", a.Handle, "addrs", r.Addrs)
		resp.Addrs = append(resp.Addrs, r.Addrs...)
	}
	return resp
}
