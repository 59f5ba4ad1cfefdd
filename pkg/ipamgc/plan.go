// Package ipamgc finds and frees what IPAM leaks: allocations whose pod no
// longer exists (or runs on another node), VXLAN tunnel addresses and
// empty blocks of nodes that are gone. The pure core (Leaks, Plan) decides
// from a snapshot of blocks, pods and nodes; the Controller applies the
// plan through pkg/ipam, which owns every write of an allocation record.
package ipamgc

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/ipam"
)

// Attribute keys and values of an allocation's secondary attributes: the
// ones pkg/ipam writes, as Calico's IPAM does.
const (
	// AttrNamespace is the pod's namespace.
	AttrNamespace = ipam.AttrNamespace
	// AttrPod is the pod's name.
	AttrPod = ipam.AttrPod
	// AttrNode is the node that allocated the address.
	AttrNode = ipam.AttrNode
	// AttrType is TypePod or TypeVXLANTunnel.
	AttrType = ipam.AttrType
	// AttrTimestamp is when the address was allocated (RFC 3339).
	AttrTimestamp = ipam.AttrTimestamp
	// TypePod marks a pod's address.
	TypePod = ipam.TypePod
	// TypeVXLANTunnel marks a node's VXLAN tunnel (VTEP) address.
	TypeVXLANTunnel = ipam.TypeVXLANTunnel
)

// Reason says why an allocation or block is leaked.
type Reason string

// Reasons of a leak.
const (
	// ReasonPodGone: the pod named by the allocation does not exist.
	ReasonPodGone Reason = "PodGone"
	// ReasonPodOnOtherNode: a pod of that name exists, scheduled to
	// another node than the one that allocated (a new pod, same name).
	ReasonPodOnOtherNode Reason = "PodOnOtherNode"
	// ReasonNodeGone: the node of a tunnel address or block is gone.
	ReasonNodeGone Reason = "NodeGone"
	// ReasonNotPodAddress: a pod of that name exists on that node and
	// lists its addresses, and this is not one of them: an earlier pod of
	// the same name held it and its DEL never came.
	ReasonNotPodAddress Reason = "NotPodAddress"
)

// State is a snapshot of what decides whether an allocation is live.
type State struct {
	// Blocks are the IPAMBlocks; mirrored ones (label v3.LabelCluster)
	// are skipped.
	Blocks []v3.IPAMBlock
	// Pods maps "<namespace>/<name>" of every pod to where it runs and
	// which addresses it has.
	Pods map[string]Pod
	// Nodes are the names of the nodes that exist (see LiveNodes).
	Nodes map[string]bool
}

// Pod is what decides whether a pod holds an allocation.
type Pod struct {
	// Node is the pod's spec.nodeName ("" while unscheduled).
	Node string
	// IPs are the pod's status.podIPs (none until the kubelet has
	// reported the sandbox's addresses).
	IPs []netip.Addr
}

// Allocation is one allocated address of a local block.
type Allocation struct {
	// Handle is the allocation's handle ("" when the record has none).
	Handle string `json:"handle"`
	// Addr is the address.
	Addr netip.Addr `json:"address"`
	// Block is the IPAMBlock's name.
	Block string `json:"block"`
	// Attrs are the secondary attributes (namespace, pod, node, type,
	// timestamp).
	Attrs map[string]string `json:"attributes,omitempty"`
}

// Pod returns "<namespace>/<pod>" of a pod's allocation, or "".
func (a Allocation) Pod() string {
	if a.Attrs[AttrNamespace] == "" || a.Attrs[AttrPod] == "" {
		return ""
	}
	return a.Attrs[AttrNamespace] + "/" + a.Attrs[AttrPod]
}

// Leak is an allocation that nothing holds any more.
type Leak struct {
	Allocation `json:",inline"`
	// Reason says why.
	Reason Reason `json:"reason"`
}

// Describe says who held the leaked address and why it is leaked.
func (l Leak) Describe() string {
	switch l.Reason {
	case ReasonPodGone:
		return fmt.Sprintf("pod %s (node %s) no longer exists", l.Pod(), l.Attrs[AttrNode])
	case ReasonPodOnOtherNode:
		return fmt.Sprintf("pod %s was allocated on node %s but now runs on another node", l.Pod(), l.Attrs[AttrNode])
	case ReasonNotPodAddress:
		return fmt.Sprintf("pod %s (node %s) has other addresses: an earlier pod of that name held this one", l.Pod(), l.Attrs[AttrNode])
	default:
		return fmt.Sprintf("node %s, whose VXLAN tunnel address this is, no longer exists", l.Attrs[AttrNode])
	}
}

// IsLocal reports whether a block is this cluster's own, not mirrored
// from a remote cluster.
func IsLocal(b *v3.IPAMBlock) bool {
	_, mirrored := b.Labels[v3.LabelCluster]
	return !mirrored
}

// BlockNode returns the node of a block's "host:<node>" affinity, or "".
func BlockNode(b *v3.IPAMBlock) string {
	if b.Spec.Affinity == nil {
		return ""
	}
	node, _ := strings.CutPrefix(*b.Spec.Affinity, "host:")
	return node
}

// Allocations lists the allocated addresses of a block that records its
// allocations, in address order. Entries that name no attribute are
// skipped (the API server refuses such blocks).
func Allocations(b *v3.IPAMBlock) ([]Allocation, error) {
	prefix, err := netip.ParsePrefix(b.Spec.CIDR)
	if err != nil {
		return nil, fmt.Errorf("IPAMBlock %q: spec.cidr %q: %w", b.Name, b.Spec.CIDR, err)
	}
	var out []Allocation
	addr := prefix.Masked().Addr()
	for _, idx := range b.Spec.Allocations {
		if idx != nil && *idx >= 0 && *idx < len(b.Spec.Attributes) {
			attr := b.Spec.Attributes[*idx]
			a := Allocation{Addr: addr, Block: b.Name, Attrs: attr.Secondary}
			if attr.HandleID != nil {
				a.Handle = *attr.HandleID
			}
			out = append(out, a)
		}
		addr = addr.Next()
	}
	return out, nil
}

// leakReason says whether an allocation is leaked in state s.
func leakReason(a Allocation, s *State) (Reason, bool) {
	switch a.Attrs[AttrType] {
	case TypeVXLANTunnel:
		node := a.Attrs[AttrNode]
		if node != "" && !s.Nodes[node] {
			return ReasonNodeGone, true
		}
	case TypePod, "":
		pod := a.Pod()
		if pod == "" {
			return "", false // no pod recorded: not ours to judge
		}
		p, exists := s.Pods[pod]
		switch {
		case !exists:
			return ReasonPodGone, true
		case p.Node != "" && a.Attrs[AttrNode] != "" && p.Node != a.Attrs[AttrNode]:
			return ReasonPodOnOtherNode, true
		case len(p.IPs) > 0 && !slices.Contains(p.IPs, a.Addr):
			return ReasonNotPodAddress, true
		}
	}
	return "", false
}

// Leaks lists the leaked allocations of the local blocks of s, whatever
// their age, sorted by handle and address. Allocations without a handle
// are never leaks here: nothing could release them.
func Leaks(s *State) ([]Leak, error) {
	var out []Leak
	for i := range s.Blocks {
		b := &s.Blocks[i]
		if !IsLocal(b) {
			continue
		}
		allocs, err := Allocations(b)
		if err != nil {
			return nil, err
		}
		for _, a := range allocs {
			if a.Handle == "" {
				continue
			}
			if r, leaked := leakReason(a, s); leaked {
				out = append(out, Leak{Allocation: a, Reason: r})
			}
		}
	}
	slices.SortFunc(out, func(x, y Leak) int { return cmp.Or(cmp.Compare(x.Handle, y.Handle), x.Addr.Compare(y.Addr)) })
	return out, nil
}

// EmptyBlocksOfGoneNodes lists the local blocks that record allocations,
// hold none, and whose affinity names a node that is gone. A block without
// an allocation record (made by hand) is never empty here.
func EmptyBlocksOfGoneNodes(s *State) []v3.IPAMBlock {
	var out []v3.IPAMBlock
	for _, b := range s.Blocks {
		node := BlockNode(&b)
		if !IsLocal(&b) || node == "" || s.Nodes[node] || len(b.Spec.Allocations) == 0 {
			continue
		}
		if !slices.ContainsFunc(b.Spec.Allocations, func(p *int) bool { return p != nil }) {
			out = append(out, b)
		}
	}
	slices.SortFunc(out, func(x, y v3.IPAMBlock) int { return cmp.Compare(x.Name, y.Name) })
	return out
}

// ParseTimestamp reads an allocation's timestamp attribute: RFC 3339 (with
// or without fractions) or Go's time.Time.String form, as Calico writes it.
func ParseTimestamp(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999 -0700 MST"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	// time.Time.String may end with a monotonic clock reading.
	if i := strings.Index(s, " m="); i > 0 {
		return ParseTimestamp(s[:i])
	}
	return time.Time{}, false
}
