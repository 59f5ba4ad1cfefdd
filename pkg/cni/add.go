package cni

import (
	"context"
	"fmt"
	"net"
	"os"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/plugins/pkg/ns"

	"github.com/meshapi/meshapi/pkg/ipamwire"
)

// DefaultMTU is the pod MTU when neither the configuration nor the IPAM
// service names one (a 1500-byte underlay less VXLAN's overhead).
const DefaultMTU = 1450

// Add asks the node's IPAM service for the pod's addresses and wires its
// interface; on failure it releases what was allocated.
func (e *Env) Add(ctx context.Context, args *skel.CmdArgs) (*current.Result, error) {
	pod, err := ParseArgs(args.Args)
	if err != nil {
		return nil, err
	}
	if err := ns.IsNSorErr(args.Netns); err != nil {
		return nil, types.NewError(types.ErrInvalidNetNS, fmt.Sprintf("CNI_NETNS %q: %v", args.Netns, err), "")
	}
	resp, err := e.call(ctx, ipamwire.Request{Op: ipamwire.OpAdd, ContainerID: args.ContainerID, Namespace: pod.Namespace, Pod: pod.Name})
	if err != nil {
		return nil, err
	}
	mtu := e.Conf.MTU
	if mtu == 0 {
		mtu = resp.MTU
	}
	if mtu == 0 {
		mtu = DefaultMTU
	}
	w := Wiring{Netns: args.Netns, IfName: args.IfName, HostIf: resp.HostInterface, Addrs: resp.Addrs, MTU: mtu}
	if w.HostIf == "" || len(w.Addrs) == 0 {
		return nil, types.NewError(types.ErrInternal, fmt.Sprintf("pod %s/%s: the IPAM service on %s answered without an address or a host interface (%v, %q)", pod.Namespace, pod.Name, e.Conf.IPAMSocket, w.Addrs, w.HostIf), "")
	}
	links, err := w.Setup()
	if err != nil {
		if _, rerr := e.call(ctx, ipamwire.Request{Op: ipamwire.OpDel, ContainerID: args.ContainerID}); rerr != nil {
			fmt.Fprintf(os.Stderr, "meshapi-cni: releasing %s after a failed ADD: %v\n", Handle(e.Conf.Name, args.ContainerID), rerr)
		}
		return nil, types.NewError(types.ErrInternal, fmt.Sprintf("wiring pod %s/%s (interface %s): %v", pod.Namespace, pod.Name, w.HostIf, err), "")
	}
	return result(e.Conf.CNIVersion, w, links), nil
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
