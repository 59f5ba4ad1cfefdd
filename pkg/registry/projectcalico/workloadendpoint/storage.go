// Package workloadendpoint stores WorkloadEndpoints. Besides the metadata
// fields, field selectors may use spec.node, so that a node agent can
// watch only its own endpoints.
package workloadendpoint

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

// NewREST returns the WorkloadEndpoint resource.
func NewREST(typer runtime.ObjectTyper, optsGetter generic.RESTOptionsGetter) (*registry.REST, error) {
	main, _, err := registry.NewStore(typer, optsGetter, &registry.Kind[*v3.WorkloadEndpoint]{
		Resource:   v3.Resource("workloadendpoints"),
		Singular:   v3.Resource("workloadendpoint"),
		ShortNames: []string{"wep", "weps"},
		Namespaced: true,
		New:        func() *v3.WorkloadEndpoint { return &v3.WorkloadEndpoint{} },
		NewList:    func() runtime.Object { return &v3.WorkloadEndpointList{} },
		Spec:       func(w *v3.WorkloadEndpoint) any { return &w.Spec },
		Validate: func(_ context.Context, w *v3.WorkloadEndpoint) field.ErrorList {
			return validation.ValidateWorkloadEndpoint(w)
		},
		SelectableFields: SelectableFields,
		Columns: []registry.Column[*v3.WorkloadEndpoint]{
			{Name: "Workload", Type: "string", Description: "The workload (pod).", Cell: func(w *v3.WorkloadEndpoint) any { return w.Spec.Workload }},
			{Name: "Node", Type: "string", Description: "The node; <cluster>/<node> for a remote endpoint.", Cell: func(w *v3.WorkloadEndpoint) any { return w.Spec.Node }},
			{Name: "Networks", Type: "string", Description: "The endpoint's addresses.", Cell: func(w *v3.WorkloadEndpoint) any { return strings.Join(w.Spec.IPNetworks, ",") }},
			{Name: "Interface", Type: "string", Description: "The host-side interface.", Cell: func(w *v3.WorkloadEndpoint) any { return w.Spec.InterfaceName }},
			{Name: "Cluster", Type: "string", Priority: 1, Description: "Remote cluster the endpoint is mirrored from.", Cell: func(w *v3.WorkloadEndpoint) any { return w.Labels[v3.LabelCluster] }},
		},
	})
	return main, err
}

// SelectableFields are the fields beyond metadata that field selectors on
// WorkloadEndpoints may use.
func SelectableFields(w *v3.WorkloadEndpoint) fields.Set {
	return fields.Set{"spec.node": w.Spec.Node}
}
