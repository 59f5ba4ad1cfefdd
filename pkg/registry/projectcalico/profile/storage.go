// Package profile stores Profiles.
package profile

import (
	"context"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/generic"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/apis/projectcalico/validation"
	"github.com/meshapi/meshapi/pkg/registry/projectcalico/registry"
)

// NewREST returns the Profile resource.
func NewREST(typer runtime.ObjectTyper, optsGetter generic.RESTOptionsGetter) (*registry.REST, error) {
	main, _, err := registry.NewStore(typer, optsGetter, &registry.Kind[*v3.Profile]{
		Resource: v3.Resource("profiles"),
		Singular: v3.Resource("profile"),
		New:      func() *v3.Profile { return &v3.Profile{} },
		NewList:  func() runtime.Object { return &v3.ProfileList{} },
		Spec:     func(p *v3.Profile) any { return &p.Spec },
		Normalize: func(p *v3.Profile) []string {
			return append(registry.NormalizeRules("spec.ingress", p.Spec.Ingress), registry.NormalizeRules("spec.egress", p.Spec.Egress)...)
		},
		Validate: func(_ context.Context, p *v3.Profile) field.ErrorList {
			return validation.ValidateProfile(p)
		},
		Columns: []registry.Column[*v3.Profile]{
			{Name: "Cluster", Type: "string", Description: "Remote cluster the profile is mirrored from.", Cell: func(p *v3.Profile) any { return p.Labels[v3.LabelCluster] }},
		},
	})
	return main, err
}
