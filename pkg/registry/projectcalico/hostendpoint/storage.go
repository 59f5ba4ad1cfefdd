// Package hostendpoint stores HostEndpoints.
package hostendpoint

import (
	"context"
	"strings"

	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/generic"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/apis/projectcalico/validation"
	"github.com/meshapi/meshapi/pkg/registry/projectcalico/registry"
)

// NewREST returns the HostEndpoint resource.
func NewREST(typer runtime.ObjectTyper, optsGetter generic.RESTOptionsGetter) (*registry.REST, error) {
	main, _, err := registry.NewStore(typer, optsGetter, &registry.Kind[*v3.HostEndpoint]{
		Resource:   v3.Resource("hostendpoints"),
		Singular:   v3.Resource("hostendpoint"),
		ShortNames: []string{"hep", "heps"},
		New:        func() *v3.HostEndpoint { return &v3.HostEndpoint{} },
		NewList:    func() runtime.Object { return &v3.HostEndpointList{} },
		Spec:       func(h *v3.HostEndpoint) any { return &h.Spec },
		Validate: func(_ context.Context, h *v3.HostEndpoint) field.ErrorList {
			return validation.ValidateHostEndpoint(h)
		},
		SelectableFields: func(h *v3.HostEndpoint) fields.Set { return fields.Set{"spec.node": h.Spec.Node} },
		Columns: []registry.Column[*v3.HostEndpoint]{
			{Name: "Node", Type: "string", Description: "The host.", Cell: func(h *v3.HostEndpoint) any { return h.Spec.Node }},
			{Name: "Interface", Type: "string", Description: "The host's interface.", Cell: func(h *v3.HostEndpoint) any { return h.Spec.InterfaceName }},
			{Name: "IPs", Type: "string", Description: "The interface's addresses.", Cell: func(h *v3.HostEndpoint) any { return strings.Join(h.Spec.ExpectedIPs, ",") }},
		},
	})
	return main, err
}
