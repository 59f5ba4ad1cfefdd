package registry

import (
	"context"
	"errors"
	"fmt"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/storage"
	storeerr "k8s.io/apiserver/pkg/storage/errors"
)

// deleteCollectionPageSize is how many objects a DeleteCollection lists at
// a time, as the generic store does.
const deleteCollectionPageSize = 10000

// errNeedsStoreDelete says that the object a collection delete is about to
// remove has finalizers or is already being deleted: the generic store's
// Delete, which handles both, deletes it instead.
var errNeedsStoreDelete = errors.New("the object has finalizers or a deletion timestamp")

// DeleteCollection deletes the objects a list with the options selects, as
// the generic store does (its DeleteCollectionWorkers at once, the listed
// objects returned), but deletes each one from the object its list
// returned: the generic store reads every object from etcd again before
// its delete, one more etcd request and decoding per object. Each delete
// is still conditional on the object being the one validated: etcd
// deletes it only at the revision that passed the preconditions and the
// delete admission, which run again on the current object when the listed
// one was stale. An object with finalizers or a deletion timestamp, a dry
// run, an orphan or foreground propagation policy and a kind with graceful
// deletion or a garbage collection policy of its own take the generic path.
func (r *REST) DeleteCollection(ctx context.Context, deleteValidation rest.ValidateObjectFunc, options *metav1.DeleteOptions,
	listOptions *metainternalversion.ListOptions) (runtime.Object, error) {
	if !r.deletesFromList(options) {
		return r.Store.DeleteCollection(ctx, deleteValidation, options, listOptions)
	}
	if errs := validation.ValidateDeleteOptions(options); len(errs) > 0 {
		return nil, apierrors.NewInvalid(schema.GroupKind{Group: metav1.GroupName, Kind: "DeleteOptions"}, "", errs)
	}
	list, items, err := r.listAll(ctx, listOptions)
	if err != nil {
		return nil, err
	}
	if err := r.deleteEach(ctx, items, deleteValidation, options); err != nil {
		return nil, err
	}
	return list, nil
}

// deletesFromList says whether a collection delete with the options may
// delete each object from its listed copy: only a plain delete, of a kind
// whose objects are deleted at once.
func (r *REST) deletesFromList(options *metav1.DeleteOptions) bool {
	if options == nil || len(options.DryRun) > 0 || options.OrphanDependents != nil { //nolint:staticcheck // SA1019: still honoured
		return false
	}
	if p := options.PropagationPolicy; p != nil && *p != metav1.DeletePropagationBackground {
		return false
	}
	if _, graceful := r.DeleteStrategy.(rest.RESTGracefulDeleteStrategy); graceful {
		return false
	}
	_, gcPolicy := r.DeleteStrategy.(rest.GarbageCollectionDeleteStrategy)
	return !gcPolicy
}

// listAll lists every object the options select, a page at a time, and
// returns the first page's list holding all of them.
func (r *REST) listAll(ctx context.Context, listOptions *metainternalversion.ListOptions) (runtime.Object, []runtime.Object, error) {
	opts := &metainternalversion.ListOptions{}
	if listOptions != nil {
		opts = listOptions.DeepCopy()
	}
	hasLimit := opts.Limit > 0
	if !hasLimit {
		opts.Limit = deleteCollectionPageSize
	}
	var first runtime.Object
	var items []runtime.Object
	for {
		page, err := r.List(ctx, opts)
		if err != nil {
			return nil, nil, err
		}
		pageItems, err := meta.ExtractList(page)
		if err != nil {
			return nil, nil, fmt.Errorf("reading the listed %s: %w", r.DefaultQualifiedResource, err)
		}
		items = append(items, pageItems...)
		if first == nil {
			first = page
		}
		m, err := meta.ListAccessor(page)
		if err != nil {
			return nil, nil, fmt.Errorf("reading the list of %s: %w", r.DefaultQualifiedResource, err)
		}
		if hasLimit || m.GetContinue() == "" {
			break
		}
		opts.Continue = m.GetContinue()
		opts.ResourceVersion = ""
		opts.ResourceVersionMatch = ""
	}
	if err := meta.SetList(first, items); err != nil {
		return nil, nil, fmt.Errorf("building the list of deleted %s: %w", r.DefaultQualifiedResource, err)
	}
	return first, items, nil
}

// deleteEach deletes the listed objects with the store's collection
// workers, each a goroutine for the whole request (a goroutine per object
// would grow a new stack through the delete's deep call chain every
// time); the first error (other than an object already gone) stops it.
func (r *REST) deleteEach(ctx context.Context, items []runtime.Object, deleteValidation rest.ValidateObjectFunc, options *metav1.DeleteOptions) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan runtime.Object)
	var wg sync.WaitGroup
	for range max(r.DeleteCollectionWorkers, 1) {
		wg.Go(func() {
			for item := range next {
				if err := r.deleteListed(ctx, item, deleteValidation, options); err != nil && !apierrors.IsNotFound(err) {
					cancel(err)
				}
			}
		})
	}
send:
	for _, item := range items {
		select {
		case next <- item:
		case <-ctx.Done():
			break send
		}
	}
	close(next)
	wg.Wait()
	return context.Cause(ctx)
}

// deleteListed deletes one listed object as the generic store's Delete
// would, from the listed copy instead of a fresh read.
func (r *REST) deleteListed(ctx context.Context, listed runtime.Object, deleteValidation rest.ValidateObjectFunc, options *metav1.DeleteOptions) error {
	accessor, err := meta.Accessor(listed)
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	name := accessor.GetName()
	key, err := r.KeyFunc(ctx, name)
	if err != nil {
		return err
	}
	var preconditions storage.Preconditions
	if options.Preconditions != nil {
		preconditions.UID = options.Preconditions.UID
		preconditions.ResourceVersion = options.Preconditions.ResourceVersion
	}
	validate := func(ctx context.Context, current runtime.Object) error {
		m, err := meta.Accessor(current)
		if err != nil {
			return err
		}
		if len(m.GetFinalizers()) > 0 || m.GetDeletionTimestamp() != nil {
			return errNeedsStoreDelete
		}
		return deleteValidation(ctx, current)
	}
	out := r.NewFunc()
	err = r.Storage.Delete(ctx, key, out, &preconditions, validate, false, listed, storage.DeleteOptions{})
	if errors.Is(err, errNeedsStoreDelete) {
		// The generic delete may change the options it is given.
		_, _, err = r.Store.Delete(ctx, name, deleteValidation, options.DeepCopy())
		return err
	}
	if err != nil {
		return storeerr.InterpretDeleteError(err, r.DefaultQualifiedResource, name)
	}
	if r.AfterDelete != nil {
		r.AfterDelete(out, options)
	}
	return nil
}

var _ rest.CollectionDeleter = (*REST)(nil)
