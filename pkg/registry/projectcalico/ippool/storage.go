// Package ippool stores IPPools: validation including overlap with the
// other local pools, a status subresource, and kubectl columns.
//
// The overlap check holds across API server replicas on one etcd: every
// create and update runs its check and its write under a lock in etcd
// (package guard), so of two overlapping pools written at the same moment
// through two replicas exactly one is stored, and the other is refused
// naming spec.cidr, its value and the stored pool. Deletes need no lock:
// removing a pool cannot create an overlap. The status subresource does not
// change the spec and is not locked either.
package ippool

import (
	"context"
	"fmt"
	"path"

	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/registry/rest"

	clientv3 "go.etcd.io/etcd/client/v3"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/apis/projectcalico/validation"
	"github.com/meshapi/meshapi/pkg/registry/projectcalico/guard"
	"github.com/meshapi/meshapi/pkg/registry/projectcalico/registry"
)

// REST is the IPPool resource. Creates and updates hold a lock in etcd
// from the overlap check, which reads a consistent list of the pools, to
// the write, so that two overlapping pools written at the same moment, to
// the same replica or to two, cannot both pass the check.
type REST struct {
	*registry.REST
	reader *registry.REST
	writes *guard.Lock
	etcd   *clientv3.Client
}

// Create creates a pool under the cross-replica lock.
func (r *REST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	var out runtime.Object
	err := r.writes.Do(ctx, func(ctx context.Context) error {
		var err error
		out, err = r.REST.Create(ctx, obj, createValidation, options)
		return err
	})
	return out, err
}

// Update updates a pool under the cross-replica lock.
func (r *REST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc,
	updateValidation rest.ValidateObjectUpdateFunc, forceAllowCreate bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	var (
		out     runtime.Object
		created bool
	)
	err := r.writes.Do(ctx, func(ctx context.Context) error {
		var err error
		out, created, err = r.REST.Update(ctx, name, objInfo, createValidation, updateValidation, forceAllowCreate, options)
		return err
	})
	return out, created, err
}

// Destroy closes the lock's etcd client and the stores.
func (r *REST) Destroy() {
	_ = r.etcd.Close()
	r.reader.Destroy()
	r.REST.Destroy()
}

// newLock returns the overlap lock on the etcd the pools are stored in,
// under <storage prefix>/meshapi-locks/ippools.
func newLock(optsGetter generic.RESTOptionsGetter) (*guard.Lock, *clientv3.Client, error) {
	opts, err := optsGetter.GetRESTOptions(v3.Resource("ippools"), &v3.IPPool{})
	if err != nil {
		return nil, nil, fmt.Errorf("storage options of ippools: %w", err)
	}
	client, err := guard.NewClient(opts.StorageConfig.Transport)
	if err != nil {
		return nil, nil, fmt.Errorf("etcd client for the IPPool overlap lock: %w", err)
	}
	lock, err := guard.New(client, path.Join("/", opts.StorageConfig.Prefix, "meshapi-locks", "ippools"), guard.DefaultTTL)
	if err != nil {
		_ = client.Close()
		return nil, nil, err
	}
	return lock, client, nil
}

// NewREST returns the IPPool resource and its status subresource.
func NewREST(typer runtime.ObjectTyper, optsGetter generic.RESTOptionsGetter) (*REST, *registry.StatusREST, error) {
	kind := poolKind()
	main, status, err := registry.NewStore(typer, optsGetter, kind)
	if err != nil {
		return nil, nil, err
	}
	// The overlap check lists from etcd, not the watch cache: the lock's
	// own writes move etcd's revision, and a consistent list from the cache
	// would wait for the cache's next progress notification to catch up.
	reader, _, err := registry.NewStore(typer, registry.Uncached{RESTOptionsGetter: optsGetter}, kind)
	if err != nil {
		main.Destroy()
		return nil, nil, fmt.Errorf("building the uncached IPPool reader: %w", err)
	}
	kind.Validate = func(ctx context.Context, p *v3.IPPool) field.ErrorList {
		errs := validation.ValidateIPPool(p)
		if len(errs) > 0 {
			return errs
		}
		list, err := reader.List(ctx, &metainternalversion.ListOptions{})
		if err != nil {
			return field.ErrorList{field.InternalError(field.NewPath("spec", "cidr"), err)}
		}
		return validation.ValidateIPPoolOverlap(p, list.(*v3.IPPoolList).Items)
	}
	lock, client, err := newLock(optsGetter)
	if err != nil {
		reader.Destroy()
		main.Destroy()
		return nil, nil, err
	}
	return &REST{REST: main, reader: reader, writes: lock, etcd: client}, status, nil
}

// poolKind describes IPPools to the generic machinery; NewREST adds the
// validation, which needs the store.
func poolKind() *registry.Kind[*v3.IPPool] {
	return &registry.Kind[*v3.IPPool]{
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
}
