package registry

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/storage/names"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
)

// REST is the main resource of a kind: the generic etcd store plus the
// kubectl short names.
type REST struct {
	*genericregistry.Store
	shortNames []string
}

var _ rest.ShortNamesProvider = &REST{}

// ShortNames returns the kubectl short names of the resource.
func (r *REST) ShortNames() []string { return r.shortNames }

// StatusREST is the status subresource of a kind.
type StatusREST struct {
	store *genericregistry.Store
}

var (
	_ rest.Patcher             = &StatusREST{}
	_ rest.ResetFieldsStrategy = &StatusREST{}
	_ rest.TableConvertor      = &StatusREST{}
)

// New returns an empty object.
func (r *StatusREST) New() runtime.Object { return r.store.New() }

// Destroy does nothing: the store is destroyed by the main resource.
func (r *StatusREST) Destroy() {}

// Get returns the object, for patches of the status.
func (r *StatusREST) Get(ctx context.Context, name string, options *metav1.GetOptions) (runtime.Object, error) {
	return r.store.Get(ctx, name, options)
}

// Update writes the status only; the status strategy keeps the rest as stored.
func (r *StatusREST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc,
	updateValidation rest.ValidateObjectUpdateFunc, _ bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	// Subresources never create: force is always false.
	return r.store.Update(ctx, name, objInfo, createValidation, updateValidation, false, options)
}

// GetResetFields returns the fields the status subresource never writes.
func (r *StatusREST) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return r.store.GetResetFields()
}

// ConvertToTable renders the object as the main resource does.
func (r *StatusREST) ConvertToTable(ctx context.Context, object runtime.Object, tableOptions runtime.Object) (*metav1.Table, error) {
	return r.store.ConvertToTable(ctx, object, tableOptions)
}

// NewStore builds the etcd-backed store of a kind (with the watch cache when
// the options enable it) and, for kinds with a status, its status
// subresource; status is nil otherwise.
func NewStore[T Object](typer runtime.ObjectTyper, optsGetter generic.RESTOptionsGetter, kind *Kind[T]) (main *REST, status *StatusREST, err error) {
	s := strategy[T]{ObjectTyper: typer, NameGenerator: names.SimpleNameGenerator, kind: kind}
	store := &genericregistry.Store{
		NewFunc:                   func() runtime.Object { return kind.New() },
		NewListFunc:               kind.NewList,
		PredicateFunc:             s.matcher,
		DefaultQualifiedResource:  kind.Resource,
		SingularQualifiedResource: kind.Singular,
		CreateStrategy:            s,
		UpdateStrategy:            s,
		DeleteStrategy:            s,
		ResetFieldsStrategy:       s,
		TableConvertor:            tableConvertor[T]{kind: kind},
	}
	if err := store.CompleteWithOptions(&generic.StoreOptions{RESTOptions: optsGetter, AttrFunc: s.getAttrs}); err != nil {
		return nil, nil, fmt.Errorf("building the %s store: %w", kind.Resource, err)
	}
	main = &REST{Store: store, shortNames: kind.ShortNames}
	if kind.Status == nil {
		return main, nil, nil
	}
	statusStore := *store
	ss := statusStrategy[T]{strategy: s}
	statusStore.UpdateStrategy = ss
	statusStore.ResetFieldsStrategy = ss
	return main, &StatusREST{store: &statusStore}, nil
}
