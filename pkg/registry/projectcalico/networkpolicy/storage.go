// Package networkpolicy stores NetworkPolicies.
package networkpolicy

import (
	"context"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/generic"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/apis/projectcalico/validation"
	"github.com/meshapi/meshapi/pkg/registry/projectcalico/registry"
)

// NewREST returns the NetworkPolicy resource.
func NewREST(typer runtime.ObjectTyper, optsGetter generic.RESTOptionsGetter) (*registry.REST, error) {
	main, _, err := registry.NewStore(typer, optsGetter, &registry.Kind[*v3.NetworkPolicy]{
		Resource:   v3.Resource("networkpolicies"),
		Singular:   v3.Resource("networkpolicy"),
		ShortNames: []string{"cnp", "caliconetworkpolicy", "caliconetworkpolicies"},
		Namespaced: true,
		New:        func() *v3.NetworkPolicy { return &v3.NetworkPolicy{} },
		NewList:    func() runtime.Object { return &v3.NetworkPolicyList{} },
		Spec:       func(p *v3.NetworkPolicy) any { return &p.Spec },
		Normalize: func(p *v3.NetworkPolicy) []string {
			return append(registry.NormalizeRules("spec.ingress", p.Spec.Ingress), registry.NormalizeRules("spec.egress", p.Spec.Egress)...)
		},
		Validate: func(_ context.Context, p *v3.NetworkPolicy) field.ErrorList {
			return validation.ValidateNetworkPolicy(p)
		},
		Columns: []registry.Column[*v3.NetworkPolicy]{
			{Name: "Tier", Type: "string", Description: "Tier of the policy.", Cell: func(p *v3.NetworkPolicy) any { return p.Spec.Tier }},
			{Name: "Order", Type: "string", Description: "Order within the tier.", Cell: func(p *v3.NetworkPolicy) any { return registry.FormatOrder(p.Spec.Order) }},
			{Name: "Selector", Type: "string", Description: "Local endpoints the policy applies to.", Cell: func(p *v3.NetworkPolicy) any { return p.Spec.Selector }},
		},
	})
	return main, err
}
