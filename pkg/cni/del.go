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

	"github.com/meshapi/meshapi/pkg/ipamwire"
)

// Del removes the pod's interface and releases its addresses. It is
// idempotent: an unknown container, a missing namespace or an address
// already released is success.
func (e *Env) Del(ctx context.Context, args *skel.CmdArgs) error {
	w := Wiring{Netns: args.Netns, IfName: args.IfName}
	if err := w.Teardown(); err != nil {
		return types.NewError(types.ErrInternal, fmt.Sprintf("container %s: removing interface %s: %v", args.ContainerID, args.IfName, err), "")
	}
	_, err := e.call(ctx, ipamwire.Request{Op: ipamwire.OpDel, ContainerID: args.ContainerID})
	return err
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
	resp, err := e.call(ctx, ipamwire.Request{Op: ipamwire.OpCheck, ContainerID: args.ContainerID, Namespace: pod.Namespace, Pod: pod.Name})
	if err != nil {
		return err
	}
	w := Wiring{Netns: args.Netns, IfName: args.IfName, HostIf: resp.HostInterface}
	for _, ipc := range prev.IPs {
		a, ok := netip.AddrFromSlice(ipc.Address.IP)
		if !ok {
			return types.NewError(types.ErrDecodingFailure, fmt.Sprintf("prevResult: address %v", ipc.Address), "")
		}
		w.Addrs = append(w.Addrs, a.Unmap())
	}
	for _, a := range w.Addrs {
		if !slices.Contains(resp.Addrs, a) {
			return types.NewError(types.ErrInternal, fmt.Sprintf("address %s of the prevResult: IPAM has it under no handle %s (it holds %v)", a, Handle(e.Conf.Name, args.ContainerID), resp.Addrs), "")
		}
	}
	if err := w.Check(); err != nil {
		return types.NewError(types.ErrInternal, fmt.Sprintf("pod %s/%s: %v", pod.Namespace, pod.Name, err), "")
	}
	return nil
}

// Status reports whether the plugin can add pods: the IPAM service
// answers and sees at least one enabled local IPPool; otherwise error 50
// (or 11 while the service does not answer).
func (e *Env) Status(ctx context.Context) error {
	_, err := e.call(ctx, ipamwire.Request{Op: ipamwire.OpStatus})
	return err
}

// GC releases the allocations of this network on this node whose
// container is not among the valid attachments the runtime lists.
func (e *Env) GC(ctx context.Context) error {
	req := ipamwire.Request{Op: ipamwire.OpGC}
	for _, a := range e.Conf.ValidAttachments {
		req.Valid = append(req.Valid, a.ContainerID)
	}
	resp, err := e.call(ctx, req)
	if err != nil {
		return err
	}
	if len(resp.Addrs) > 0 {
		fmt.Fprintf(os.Stderr, "meshapi-cni: GC released %v (containers not in cni.dev/valid-attachments)\n", resp.Addrs)
	}
	return nil
}
