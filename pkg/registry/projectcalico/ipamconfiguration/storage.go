// Package ipamconfiguration stores IPAMConfigurations.
package ipamconfiguration

import (
	"context"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/generic"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/apis/projectcalico/validation"
	"github.com/meshapi/meshapi/pkg/registry/projectcalico/registry"
)

// NewREST returns the IPAMConfiguration resource.
func NewREST(typer runtime.ObjectTyper, optsGetter generic.RESTOptionsGetter) (*registry.REST, error) {
	main, _, err := registry.NewStore(typer, optsGetter, &registry.Kind[*v3.IPAMConfiguration]{
		Resource: v3.Resource("ipamconfigurations"),
		Singular: v3.Resource("ipamconfiguration"),
		New:      func() *v3.IPAMConfiguration { return &v3.IPAMConfiguration{} },
		NewList:  func() runtime.Object { return &v3.IPAMConfigurationList{} },
		Spec:     func(c *v3.IPAMConfiguration) any { return &c.Spec },
		Validate: func(_ context.Context, c *v3.IPAMConfiguration) field.ErrorList {
			return validation.ValidateIPAMConfiguration(c)
		},
		Columns: []registry.Column[*v3.IPAMConfiguration]{
			{Name: "Strict Affinity", Type: "boolean", Description: "Whether nodes never borrow from another node's block.", Cell: func(c *v3.IPAMConfiguration) any { return c.Spec.StrictAffinity }},
			{Name: "Auto Allocate Blocks", Type: "boolean", Description: "Whether nodes claim new blocks.", Cell: func(c *v3.IPAMConfiguration) any {
				return c.Spec.AutoAllocateBlocks == nil || *c.Spec.AutoAllocateBlocks
			}},
			{Name: "Max Blocks Per Host", Type: "integer", Description: "The most blocks one node claims; 0 is no limit.", Cell: func(c *v3.IPAMConfiguration) any {
				return int64(c.Spec.MaxBlocksPerHost)
			}},
		},
	})
	return main, err
}
