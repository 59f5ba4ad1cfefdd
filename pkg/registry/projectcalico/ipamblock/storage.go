// Package ipamblock stores IPAMBlocks.
//
// IPAMBlocks go through the watch cache, as every other kind: every
// node's agent and the IPAM garbage collector watch them, and an
// allocation's compare-and-swap update starts from the cached block
// instead of reading it from etcd first. Consistent lists are the
// exception: the allocators list the blocks with resourceVersion "" when
// they must see every write (on start, and when a release finds nothing
// to release), and from the watch cache such a list waits for the
// cache's next progress notification after a write to any other
// resource (up to 100 ms); they are read from etcd, one range read.
package ipamblock

import (
	"context"
	"fmt"

	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/generic"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/apis/projectcalico/validation"
	"github.com/meshapi/meshapi/pkg/registry/projectcalico/registry"
)

// REST is the IPAMBlock resource: the watch-cached store, with a store
// on etcd alone for consistent lists.
type REST struct {
	*registry.REST
	etcd *registry.REST
}

// NewREST returns the IPAMBlock resource.
func NewREST(typer runtime.ObjectTyper, optsGetter generic.RESTOptionsGetter) (*REST, error) {
	main, _, err := registry.NewStore(typer, optsGetter, blockKind())
	if err != nil {
		return nil, err
	}
	direct, _, err := registry.NewStore(typer, registry.Uncached{RESTOptionsGetter: optsGetter}, blockKind())
	if err != nil {
		main.Destroy()
		return nil, fmt.Errorf("building the IPAMBlock store for consistent lists: %w", err)
	}
	return &REST{REST: main, etcd: direct}, nil
}

// List serves a consistent list (resourceVersion "", including the
// continuation of one) from etcd, and any other from the watch cache.
func (r *REST) List(ctx context.Context, opts *metainternalversion.ListOptions) (runtime.Object, error) {
	if consistent(opts) {
		return r.etcd.List(ctx, opts)
	}
	return r.REST.List(ctx, opts)
}

// consistent reports whether opts ask for a consistent list: no
// resourceVersion (a continue token comes without one, and continues
// such a list).
func consistent(opts *metainternalversion.ListOptions) bool {
	return opts == nil || (opts.ResourceVersion == "" && opts.ResourceVersionMatch == "")
}

// Destroy stops both stores.
func (r *REST) Destroy() {
	r.etcd.Destroy()
	r.REST.Destroy()
}

// blockKind describes IPAMBlocks to the generic machinery.
func blockKind() *registry.Kind[*v3.IPAMBlock] {
	return &registry.Kind[*v3.IPAMBlock]{
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
	}
}
