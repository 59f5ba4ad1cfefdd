package cni

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"slices"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/podendpoints"
)

// Del removes the pod's interface and releases its addresses. It is
// idempotent: an unknown container, a missing namespace or an address
// already released is success.
func (e *Env) Del(ctx context.Context, args *skel.CmdArgs) error {
	w := Wiring{Netns: args.Netns, IfName: args.IfName}
	if err := w.Teardown(); err != nil {
		return types.NewError(types.ErrInternal, fmt.Sprintf("container %s: removing interface %s: %v", args.ContainerID, args.IfName, err), "")
	}
	handle := Handle(e.Conf.Name, args.ContainerID)
	if _, err := e.IPAM.ReleaseByHandle(ctx, handle); err != nil {
		return APIError(err, fmt.Sprintf("releasing handle %s on node %s", handle, e.Conf.NodeName))
	}
	return nil
}

// Check verifies the pod's interface, addresses and routes against the
// prevResult, and that the IPAM still records those addresses for the
// attachment.
func (e *Env) Check(ctx context.Context, args *skel.CmdArgs) error {
	pod, err := ParseArgs(args.Args)
	if err != nil {
		return err
	}
	if e.Conf.PrevResult == nil {
		return types.NewError(types.ErrInvalidNetworkConfig, "prevResult: required by CHECK", "")
	}
	prev, err := current.NewResultFromResult(e.Conf.PrevResult)
	if err != nil {
		return types.NewError(types.ErrDecodingFailure, fmt.Sprintf("prevResult: %v", err), "")
	}
	w := Wiring{Netns: args.Netns, IfName: args.IfName, HostIf: podendpoints.InterfaceName(pod.Namespace, pod.Name)}
	for _, ipc := range prev.IPs {
		a, ok := netip.AddrFromSlice(ipc.Address.IP)
		if !ok {
			return types.NewError(types.ErrDecodingFailure, fmt.Sprintf("prevResult: address %v", ipc.Address), "")
		}
		w.Addrs = append(w.Addrs, a.Unmap())
	}
	handle := Handle(e.Conf.Name, args.ContainerID)
	held, err := e.IPAM.AddressesByHandle(ctx, handle)
	if err != nil {
		return APIError(err, fmt.Sprintf("reading the addresses of handle %s", handle))
	}
	for _, a := range w.Addrs {
		if !slices.Contains(held, a) {
			return types.NewError(types.ErrInternal, fmt.Sprintf("address %s of the prevResult: IPAM has it under no handle %s (it holds %v)", a, handle, held), "")
		}
	}
	if err := w.Check(); err != nil {
		return types.NewError(types.ErrInternal, fmt.Sprintf("pod %s/%s: %v", pod.Namespace, pod.Name, err), "")
	}
	return nil
}

// Status reports whether the plugin can add pods: the API answers and at
// least one enabled local IPPool exists; otherwise error 50.
func (e *Env) Status(ctx context.Context) error {
	pools, err := e.Calico.ProjectcalicoV3().IPPools().List(ctx, metav1.ListOptions{})
	if err != nil {
		return types.NewError(types.ErrPluginNotAvailable, fmt.Sprintf("listing IPPools through %s: %v", e.Conf.Kubeconfig, err), "")
	}
	for _, p := range pools.Items {
		if _, mirror := p.Labels[v3.LabelCluster]; !mirror && !p.Spec.Disabled {
			return nil
		}
	}
	return types.NewError(types.ErrPluginNotAvailable, fmt.Sprintf("no enabled IPPool: node %s cannot allocate pod addresses (%d pools, all disabled or mirrored)", e.Conf.NodeName, len(pools.Items)), "")
}

// GC releases the allocations of this network on this node whose
// container is not among the valid attachments the runtime lists.
func (e *Env) GC(ctx context.Context) error {
	valid := map[string]bool{}
	for _, a := range e.Conf.ValidAttachments {
		valid[a.ContainerID] = true
	}
	handles, err := e.IPAM.PodHandles(ctx, e.Conf.NodeName)
	if err != nil {
		return APIError(err, fmt.Sprintf("listing the allocations of node %s", e.Conf.NodeName))
	}
	for _, h := range handles {
		id, ours := ContainerOfHandle(e.Conf.Name, h)
		if !ours || valid[id] {
			continue
		}
		addrs, err := e.IPAM.ReleaseByHandle(ctx, h)
		if err != nil {
			return APIError(err, fmt.Sprintf("releasing stale handle %s on node %s", h, e.Conf.NodeName))
		}
		fmt.Fprintf(os.Stderr, "meshapi-cni: GC released %v of handle %s (container not in cni.dev/valid-attachments)\n", addrs, h)
	}
	return nil
}
