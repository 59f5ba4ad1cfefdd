// Package globalnetworkpolicy stores GlobalNetworkPolicies.
package globalnetworkpolicy

import (
	"context"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/generic"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/apis/projectcalico/validation"
	"github.com/meshapi/meshapi/pkg/registry/projectcalico/registry"
)

// NewREST returns the GlobalNetworkPolicy resource.
func NewREST(typer runtime.ObjectTyper, optsGetter generic.RESTOptionsGetter) (*registry.REST, error) {
	main, _, err := registry.NewStore(typer, optsGetter, &registry.Kind[*v3.GlobalNetworkPolicy]{
		Resource:   v3.Resource("globalnetworkpolicies"),
		Singular:   v3.Resource("globalnetworkpolicy"),
		ShortNames: []string{"gnp"},
		New:        func() *v3.GlobalNetworkPolicy { return &v3.GlobalNetworkPolicy{} },
		NewList:    func() runtime.Object { return &v3.GlobalNetworkPolicyList{} },
		Spec:       func(p *v3.GlobalNetworkPolicy) any { return &p.Spec },
		Normalize: func(p *v3.GlobalNetworkPolicy) []string {
			return append(registry.NormalizeRules("spec.ingress", p.Spec.Ingress), registry.NormalizeRules("spec.egress", p.Spec.Egress)...)
		},
		Validate: func(_ context.Context, p *v3.GlobalNetworkPolicy) field.ErrorList {
			return validation.ValidateGlobalNetworkPolicy(p)
		},
		Columns: []registry.Column[*v3.GlobalNetworkPolicy]{
			{Name: "Tier", Type: "string", Description: "Tier of the policy.", Cell: func(p *v3.GlobalNetworkPolicy) any { return p.Spec.Tier }},
			{Name: "Order", Type: "string", Description: "Order within the tier.", Cell: func(p *v3.GlobalNetworkPolicy) any { return registry.FormatOrder(p.Spec.Order) }},
			{Name: "Selector", Type: "string", Description: "Local endpoints the policy applies to.", Cell: func(p *v3.GlobalNetworkPolicy) any { return p.Spec.Selector }},
		},
	})
	return main, err
}
