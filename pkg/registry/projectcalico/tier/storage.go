// Package tier stores Tiers.
package tier

import (
	"context"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/generic"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/apis/projectcalico/validation"
	"github.com/meshapi/meshapi/pkg/registry/projectcalico/registry"
)

// NewREST returns the Tier resource.
func NewREST(typer runtime.ObjectTyper, optsGetter generic.RESTOptionsGetter) (*registry.REST, error) {
	main, _, err := registry.NewStore(typer, optsGetter, &registry.Kind[*v3.Tier]{
		Resource: v3.Resource("tiers"),
		Singular: v3.Resource("tier"),
		New:      func() *v3.Tier { return &v3.Tier{} },
		NewList:  func() runtime.Object { return &v3.TierList{} },
		Spec:     func(t *v3.Tier) any { return &t.Spec },
		Validate: func(_ context.Context, t *v3.Tier) field.ErrorList {
			return validation.ValidateTier(t)
		},
		Columns: []registry.Column[*v3.Tier]{
			{Name: "Order", Type: "string", Description: "Order of the tier; lower applies first.", Cell: func(t *v3.Tier) any { return registry.FormatOrder(t.Spec.Order) }},
			{Name: "Default Action", Type: "string", Description: "Action for traffic no policy of the tier decides.", Cell: func(t *v3.Tier) any {
				if t.Spec.DefaultAction == nil {
					return string(v3.Deny)
				}
				return string(*t.Spec.DefaultAction)
			}},
		},
	})
	return main, err
}
