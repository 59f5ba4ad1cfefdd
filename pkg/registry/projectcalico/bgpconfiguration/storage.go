// Package bgpconfiguration stores BGPConfigurations.
package bgpconfiguration

import (
	"context"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/generic"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/apis/projectcalico/validation"
	"github.com/meshapi/meshapi/pkg/registry/projectcalico/registry"
)

// NewREST returns the BGPConfiguration resource.
func NewREST(typer runtime.ObjectTyper, optsGetter generic.RESTOptionsGetter) (*registry.REST, error) {
	main, _, err := registry.NewStore(typer, optsGetter, kind())
	return main, err
}

// kind describes BGPConfigurations to the generic machinery.
func kind() *registry.Kind[*v3.BGPConfiguration] {
	return &registry.Kind[*v3.BGPConfiguration]{
		Resource: v3.Resource("bgpconfigurations"),
		Singular: v3.Resource("bgpconfiguration"),
		New:      func() *v3.BGPConfiguration { return &v3.BGPConfiguration{} },
		NewList:  func() runtime.Object { return &v3.BGPConfigurationList{} },
		Spec:     func(c *v3.BGPConfiguration) any { return &c.Spec },
		Validate: func(_ context.Context, c *v3.BGPConfiguration) field.ErrorList {
			return validation.ValidateBGPConfiguration(c)
		},
		Columns: []registry.Column[*v3.BGPConfiguration]{
			{Name: "AS Number", Type: "string", Description: "The AS number of nodes that set none.", Cell: func(c *v3.BGPConfiguration) any {
				if c.Spec.ASNumber == nil {
					return "<default>"
				}
				return strconv.FormatInt(*c.Spec.ASNumber, 10)
			}},
			{Name: "Node Mesh", Type: "string", Description: "Whether every node peers with every other node.", Cell: func(c *v3.BGPConfiguration) any {
				if c.Spec.NodeToNodeMeshEnabled == nil {
					return "<default>"
				}
				return strconv.FormatBool(*c.Spec.NodeToNodeMeshEnabled)
			}},
			{Name: "Listen Port", Type: "integer", Description: "The TCP port BGP listens on.", Cell: func(c *v3.BGPConfiguration) any { return int64(c.Spec.ListenPort) }},
			{Name: "Service Cluster IPs", Type: "string", Priority: 1, Description: "Service CIDRs every node advertises.", Cell: func(c *v3.BGPConfiguration) any {
				cidrs := make([]string, len(c.Spec.ServiceClusterIPs))
				for i, b := range c.Spec.ServiceClusterIPs {
					cidrs[i] = b.CIDR
				}
				return strings.Join(cidrs, ",")
			}},
		},
	}
}
