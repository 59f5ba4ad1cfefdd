// Package felixconfiguration stores FelixConfigurations.
package felixconfiguration

import (
	"context"
	"strconv"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/generic"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/apis/projectcalico/validation"
	"github.com/meshapi/meshapi/pkg/registry/projectcalico/registry"
)

// NewREST returns the FelixConfiguration resource.
func NewREST(typer runtime.ObjectTyper, optsGetter generic.RESTOptionsGetter) (*registry.REST, error) {
	main, _, err := registry.NewStore(typer, optsGetter, &registry.Kind[*v3.FelixConfiguration]{
		Resource: v3.Resource("felixconfigurations"),
		Singular: v3.Resource("felixconfiguration"),
		New:      func() *v3.FelixConfiguration { return &v3.FelixConfiguration{} },
		NewList:  func() runtime.Object { return &v3.FelixConfigurationList{} },
		Spec:     func(f *v3.FelixConfiguration) any { return &f.Spec },
		Validate: func(_ context.Context, f *v3.FelixConfiguration) field.ErrorList {
			return validation.ValidateFelixConfiguration(f)
		},
		Columns: []registry.Column[*v3.FelixConfiguration]{
			{Name: "Route Source", Type: "string", Description: "Where workload routes come from.", Cell: func(f *v3.FelixConfiguration) any {
				if f.Spec.RouteSource == "" {
					return string(v3.RouteSourceCalicoIPAM)
				}
				return string(f.Spec.RouteSource)
			}},
			{Name: "VXLAN", Type: "string", Description: "Whether the VXLAN overlay is enabled.", Cell: func(f *v3.FelixConfiguration) any { return optBool(f.Spec.VXLANEnabled) }},
			{Name: "WireGuard", Type: "string", Description: "Whether WireGuard is enabled.", Cell: func(f *v3.FelixConfiguration) any { return optBool(f.Spec.WireguardEnabled) }},
		},
	})
	return main, err
}

// optBool renders an optional boolean, "<default>" when unset.
func optBool(b *bool) string {
	if b == nil {
		return "<default>"
	}
	return strconv.FormatBool(*b)
}
