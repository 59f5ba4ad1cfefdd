// Package bgppeer stores BGPPeers.
package bgppeer

import (
	"context"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/generic"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/apis/projectcalico/validation"
	"github.com/meshapi/meshapi/pkg/registry/projectcalico/registry"
)

// NewREST returns the BGPPeer resource.
func NewREST(typer runtime.ObjectTyper, optsGetter generic.RESTOptionsGetter) (*registry.REST, error) {
	main, _, err := registry.NewStore(typer, optsGetter, kind())
	return main, err
}

// kind describes BGPPeers to the generic machinery.
func kind() *registry.Kind[*v3.BGPPeer] {
	return &registry.Kind[*v3.BGPPeer]{
		Resource: v3.Resource("bgppeers"),
		Singular: v3.Resource("bgppeer"),
		New:      func() *v3.BGPPeer { return &v3.BGPPeer{} },
		NewList:  func() runtime.Object { return &v3.BGPPeerList{} },
		Spec:     func(p *v3.BGPPeer) any { return &p.Spec },
		Validate: func(_ context.Context, p *v3.BGPPeer) field.ErrorList {
			return validation.ValidateBGPPeer(p)
		},
		Columns: []registry.Column[*v3.BGPPeer]{
			{Name: "Peer IP", Type: "string", Description: "The peer's address.", Cell: func(p *v3.BGPPeer) any { return p.Spec.PeerIP }},
			{Name: "AS Number", Type: "integer", Description: "The peer's AS number.", Cell: func(p *v3.BGPPeer) any { return p.Spec.ASNumber }},
			{Name: "Nodes", Type: "string", Description: "The nodes that peer: a node, a selector or all.", Cell: func(p *v3.BGPPeer) any {
				switch {
				case p.Spec.Node != "":
					return p.Spec.Node
				case p.Spec.NodeSelector != "":
					return p.Spec.NodeSelector
				}
				return "all()"
			}},
			{Name: "Peer Selector", Type: "string", Description: "The nodes peered with, e.g. route reflectors.", Cell: func(p *v3.BGPPeer) any { return p.Spec.PeerSelector }},
			{Name: "Keep Next Hop", Type: "boolean", Priority: 1, Description: "Whether routes keep their original next hop.", Cell: func(p *v3.BGPPeer) any { return p.Spec.KeepOriginalNextHop }},
		},
	}
}
