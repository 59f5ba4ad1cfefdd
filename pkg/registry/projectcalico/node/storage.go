// Package node stores Nodes, with a status subresource the node agent writes.
package node

import (
	"context"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/generic"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/apis/projectcalico/validation"
	"github.com/meshapi/meshapi/pkg/registry/projectcalico/registry"
)

// NewREST returns the Node resource and its status subresource.
func NewREST(typer runtime.ObjectTyper, optsGetter generic.RESTOptionsGetter) (*registry.REST, *registry.StatusREST, error) {
	validate := func(_ context.Context, n *v3.Node) field.ErrorList { return validation.ValidateNode(n) }
	return registry.NewStore(typer, optsGetter, &registry.Kind[*v3.Node]{
		Resource:       v3.Resource("nodes"),
		Singular:       v3.Resource("node"),
		ShortNames:     []string{"cnode"},
		New:            func() *v3.Node { return &v3.Node{} },
		NewList:        func() runtime.Object { return &v3.NodeList{} },
		Spec:           func(n *v3.Node) any { return &n.Spec },
		Status:         func(n *v3.Node) any { return &n.Status },
		Validate:       validate,
		ValidateStatus: validate,
		Columns: []registry.Column[*v3.Node]{
			{Name: "Address", Type: "string", Description: "The node's IPv4 address.", Cell: func(n *v3.Node) any {
				if n.Spec.BGP != nil && n.Spec.BGP.IPv4Address != "" {
					return n.Spec.BGP.IPv4Address
				}
				if len(n.Spec.Addresses) > 0 {
					return n.Spec.Addresses[0].Address
				}
				return ""
			}},
			{Name: "VTEP", Type: "string", Description: "The node's IPv4 VXLAN tunnel address.", Cell: func(n *v3.Node) any { return n.Spec.IPv4VXLANTunnelAddr }},
			{Name: "Cluster", Type: "string", Description: "Remote cluster the node is mirrored from.", Cell: func(n *v3.Node) any { return n.Labels[v3.LabelCluster] }},
			{Name: "VTEP MAC", Type: "string", Priority: 1, Description: "MAC of the node's VXLAN device.", Cell: func(n *v3.Node) any { return n.Spec.VXLANTunnelMACAddr }},
		},
	})
}
