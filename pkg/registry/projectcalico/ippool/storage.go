// Package ippool stores IPPools: validation including overlap with the
// other local pools, a status subresource, and kubectl columns.
package ippool

import (
	"context"
	"sync"

	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/registry/rest"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/apis/projectcalico/validation"
	"github.com/meshapi/meshapi/pkg/registry/projectcalico/registry"
)

// REST is the IPPool resource. Creates and updates are serialized within
// the server: the overlap check reads a consistent list of the pools, so
// holding the lock from the check to the write keeps two overlapping pools
// written at the same moment from both passing it. (Several API server
// replicas each hold their own lock; a cross-replica race stays possible.)
type REST struct {
	*registry.REST
	writes sync.Mutex
}

// Create creates a pool, one write at a time.
func (r *REST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	r.writes.Lock()
	defer r.writes.Unlock()
	return r.REST.Create(ctx, obj, createValidation, options)
}

// Update updates a pool, one write at a time.
func (r *REST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc,
	updateValidation rest.ValidateObjectUpdateFunc, forceAllowCreate bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	r.writes.Lock()
	defer r.writes.Unlock()
	return r.REST.Update(ctx, name, objInfo, createValidation, updateValidation, forceAllowCreate, options)
}

// NewREST returns the IPPool resource and its status subresource.
func NewREST(typer runtime.ObjectTyper, optsGetter generic.RESTOptionsGetter) (*REST, *registry.StatusREST, error) {
	kind := &registry.Kind[*v3.IPPool]{
		Resource:   v3.Resource("ippools"),
		Singular:   v3.Resource("ippool"),
		ShortNames: []string{"ippl"},
		New:        func() *v3.IPPool { return &v3.IPPool{} },
		NewList:    func() runtime.Object { return &v3.IPPoolList{} },
		Spec:       func(p *v3.IPPool) any { return &p.Spec },
		Status:     func(p *v3.IPPool) any { return &p.Status },
		ValidateUpdate: func(_ context.Context, p, old *v3.IPPool) field.ErrorList {
			return validation.ValidateIPPoolUpdate(p, old)
		},
		ValidateStatus: func(_ context.Context, p *v3.IPPool) field.ErrorList {
			return validation.ValidateIPPoolStatus(p)
		},
		Columns: []registry.Column[*v3.IPPool]{
			{Name: "CIDR", Type: "string", Description: "The pool's CIDR.", Cell: func(p *v3.IPPool) any { return p.Spec.CIDR }},
			{Name: "VXLAN", Type: "string", Description: "When traffic is VXLAN-encapsulated.", Cell: func(p *v3.IPPool) any { return string(p.Spec.VXLANMode) }},
			{Name: "IPIP", Type: "string", Description: "When traffic is IP-in-IP-encapsulated.", Cell: func(p *v3.IPPool) any { return string(p.Spec.IPIPMode) }},
			{Name: "NAT", Type: "boolean", Description: "Whether traffic leaving the mesh is masqueraded.", Cell: func(p *v3.IPPool) any { return p.Spec.NATOutgoing }},
			{Name: "Disabled", Type: "boolean", Description: "Whether IPAM allocates from the pool.", Cell: func(p *v3.IPPool) any { return p.Spec.Disabled }},
			{Name: "Block Size", Type: "integer", Priority: 1, Description: "Prefix length of the pool's blocks.", Cell: func(p *v3.IPPool) any { return int64(p.Spec.BlockSize) }},
			{Name: "Selector", Type: "string", Priority: 1, Description: "Nodes that may allocate from the pool.", Cell: func(p *v3.IPPool) any { return p.Spec.NodeSelector }},
			{Name: "Cluster", Type: "string", Priority: 1, Description: "Remote cluster the pool is mirrored from.", Cell: func(p *v3.IPPool) any { return p.Labels[v3.LabelCluster] }},
		},
	}
	main, status, err := registry.NewStore(typer, optsGetter, kind)
	if err != nil {
		return nil, nil, err
	}
	kind.Validate = func(ctx context.Context, p *v3.IPPool) field.ErrorList {
		errs := validation.ValidateIPPool(p)
		if len(errs) > 0 {
			return errs
		}
		list, err := main.List(ctx, &metainternalversion.ListOptions{})
		if err != nil {
			return field.ErrorList{field.InternalError(field.NewPath("spec", "cidr"), err)}
		}
		return validation.ValidateIPPoolOverlap(p, list.(*v3.IPPoolList).Items)
	}
	return &REST{REST: main}, status, nil
}
