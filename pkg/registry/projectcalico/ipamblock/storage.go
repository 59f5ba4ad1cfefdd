// Package ipamblock stores IPAMBlocks.
package ipamblock

import (
	"context"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/generic"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/apis/projectcalico/validation"
	"github.com/meshapi/meshapi/pkg/registry/projectcalico/registry"
)

// NewREST returns the IPAMBlock resource.
func NewREST(typer runtime.ObjectTyper, optsGetter generic.RESTOptionsGetter) (*registry.REST, error) {
	main, _, err := registry.NewStore(typer, optsGetter, &registry.Kind[*v3.IPAMBlock]{
		Resource: v3.Resource("ipamblocks"),
		Singular: v3.Resource("ipamblock"),
		New:      func() *v3.IPAMBlock { return &v3.IPAMBlock{} },
		NewList:  func() runtime.Object { return &v3.IPAMBlockList{} },
		Spec:     func(b *v3.IPAMBlock) any { return &b.Spec },
		Validate: func(_ context.Context, b *v3.IPAMBlock) field.ErrorList {
			return validation.ValidateIPAMBlock(b)
		},
		Columns: []registry.Column[*v3.IPAMBlock]{
			{Name: "CIDR", Type: "string", Description: "The block's CIDR.", Cell: func(b *v3.IPAMBlock) any { return b.Spec.CIDR }},
			{Name: "Affinity", Type: "string", Description: "The block's owner, host:<node>.", Cell: func(b *v3.IPAMBlock) any {
				if b.Spec.Affinity == nil {
					return ""
				}
				return *b.Spec.Affinity
			}},
			{Name: "Cluster", Type: "string", Priority: 1, Description: "Remote cluster the block is mirrored from.", Cell: func(b *v3.IPAMBlock) any { return b.Labels[v3.LabelCluster] }},
		},
	})
	return main, err
}
