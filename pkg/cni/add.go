package cni

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/plugins/pkg/ns"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshapi/meshapi/pkg/podendpoints"
)

// Calico's pod annotations that the plugin honours.
const (
	AnnotationIPv4Pools = "cni.projectcalico.org/ipv4pools"
	AnnotationIPAddrs   = "cni.projectcalico.org/ipAddrs"
)

// Attribute keys and values recorded with a pod's allocation.
const (
	AttrNamespace = "namespace"
	AttrPod       = "pod"
	AttrNode      = "node"
	AttrType      = "type"
	TypePod       = "pod"
)

// AnnotationParser turns the two pod annotations into an AssignRequest's
// Pools and Requested (pkg/ipam's parsers).
type AnnotationParser struct {
	// Pools parses cni.projectcalico.org/ipv4pools.
	Pools func(string) ([]string, error)
	// Addrs parses cni.projectcalico.org/ipAddrs.
	Addrs func(string) ([]netip.Addr, error)
}

// Add allocates the pod's addresses and wires its interface; on failure
// it releases what it allocated.
func (e *Env) Add(ctx context.Context, args *skel.CmdArgs, parse AnnotationParser) (*current.Result, error) {
	pod, err := ParseArgs(args.Args)
	if err != nil {
		return nil, err
	}
	if err := ns.IsNSorErr(args.Netns); err != nil {
		return nil, types.NewError(types.ErrInvalidNetNS, fmt.Sprintf("CNI_NETNS %q: %v", args.Netns, err), "")
	}
	// The pod's annotations and the MTU are independent reads: in
	// parallel, both before anything is allocated.
	type mtuResult struct {
		mtu int
		err error
	}
	mtuCh := make(chan mtuResult, 1)
	go func() {
		m, err := e.mtu(ctx)
		mtuCh <- mtuResult{m, err}
	}()
	req, err := e.request(ctx, pod, Handle(e.Conf.Name, args.ContainerID), parse)
	m := <-mtuCh
	if err != nil {
		return nil, err
	}
	if m.err != nil {
		return nil, m.err
	}
	mtu := m.mtu
	addrs, err := e.IPAM.Assign(ctx, req)
	if err != nil {
		return nil, IPAMError(err, e.Conf.NodeName)
	}
	w := Wiring{Netns: args.Netns, IfName: args.IfName, HostIf: podendpoints.InterfaceName(pod.Namespace, pod.Name), Addrs: addrs, MTU: mtu}
	links, err := w.Setup()
	if err != nil {
		if _, rerr := e.IPAM.ReleaseByHandle(ctx, req.Handle); rerr != nil {
			fmt.Fprintf(os.Stderr, "meshapi-cni: releasing %s after a failed ADD: %v\n", req.Handle, rerr)
		}
		return nil, types.NewError(types.ErrInternal, fmt.Sprintf("wiring pod %s/%s (interface %s): %v", pod.Namespace, pod.Name, w.HostIf, err), "")
	}
	return result(e.Conf.CNIVersion, w, links), nil
}

// request builds the IPAM request from the pod's annotations.
func (e *Env) request(ctx context.Context, pod PodRef, handle string, parse AnnotationParser) (AssignRequest, error) {
	req := AssignRequest{
		Handle: handle,
		Node:   e.Conf.NodeName,
		Attrs:  map[string]string{AttrNamespace: pod.Namespace, AttrPod: pod.Name, AttrNode: e.Conf.NodeName, AttrType: TypePod},
	}
	p, err := e.Pods.Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		// Not a Kubernetes pod the API knows (or no core API): no annotations.
		return req, nil
	case err != nil:
		return req, APIError(err, fmt.Sprintf("reading pod %s/%s", pod.Namespace, pod.Name))
	}
	if v, ok := p.Annotations[AnnotationIPv4Pools]; ok {
		if req.Pools, err = parse.Pools(v); err != nil {
			return req, types.NewError(types.ErrInvalidNetworkConfig,
				fmt.Sprintf("pod %s/%s: %v", pod.Namespace, pod.Name, err), "")
		}
	}
	if v, ok := p.Annotations[AnnotationIPAddrs]; ok {
		if req.Requested, err = parse.Addrs(v); err != nil {
			return req, types.NewError(types.ErrInvalidNetworkConfig,
				fmt.Sprintf("pod %s/%s: %v", pod.Namespace, pod.Name, err), "")
		}
	}
	return req, nil
}

// mtu is the configured MTU, or the one the default FelixConfiguration
// implies.
func (e *Env) mtu(ctx context.Context) (int, error) {
	if e.Conf.MTU > 0 {
		return e.Conf.MTU, nil
	}
	fc, err := e.Calico.ProjectcalicoV3().FelixConfigurations().Get(ctx, "default", metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		fc, err = nil, nil
	}
	if err != nil {
		return 0, APIError(err, "reading FelixConfiguration default for the MTU")
	}
	// From the watch cache (resourceVersion "0"): a consistent LIST waits
	// for the cache to catch up with etcd after any write in the cluster
	// (50-80 ms here), and the MTU does not need the very latest pools.
	pools, err := e.Calico.ProjectcalicoV3().IPPools().List(ctx, metav1.ListOptions{ResourceVersion: "0"})
	if err != nil {
		return 0, APIError(err, "listing IPPools for the MTU")
	}
	return MTUFor(fc, pools.Items), nil
}

// result is the CNI result of a wired pod.
func result(cniVersion string, w Wiring, links *Links) *current.Result {
	podIdx := 1
	r := &current.Result{
		CNIVersion: cniVersion,
		Interfaces: []*current.Interface{
			{Name: w.HostIf, Mac: links.Host.Attrs().HardwareAddr.String()},
			{Name: w.IfName, Mac: links.Pod.Attrs().HardwareAddr.String(), Sandbox: w.Netns},
		},
	}
	for _, a := range w.Addrs {
		r.IPs = append(r.IPs, &current.IPConfig{Address: *hostPrefix(a), Gateway: net.IP(Gateway.AsSlice()), Interface: &podIdx})
	}
	_, def, _ := net.ParseCIDR("0.0.0.0/0")
	r.Routes = []*types.Route{{Dst: *def, GW: net.IP(Gateway.AsSlice())}}
	return r
}
