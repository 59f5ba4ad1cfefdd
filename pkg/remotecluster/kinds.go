package remotecluster

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/generated/clientset/versioned"
	"github.com/meshapi/meshapi/pkg/remoteaccess"
)

// object is what every projectcalico.org/v3 kind is.
type object interface {
	runtime.Object
	metav1.Object
}

// typedClient is what every generated typed client offers.
type typedClient[T object, L runtime.Object] interface {
	Create(ctx context.Context, obj T, opts metav1.CreateOptions) (T, error)
	Update(ctx context.Context, obj T, opts metav1.UpdateOptions) (T, error)
	Get(ctx context.Context, name string, opts metav1.GetOptions) (T, error)
	Delete(ctx context.Context, name string, opts metav1.DeleteOptions) error
	DeleteCollection(ctx context.Context, opts metav1.DeleteOptions, listOpts metav1.ListOptions) error
	List(ctx context.Context, opts metav1.ListOptions) (L, error)
	Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error)
}

// mirrorWriter is how a reconcile writes the local mirror: through the
// local API cs, creating endpoints with the Syncer's batcher (nil: each on
// its own), holding the write slot slot (nil: none).
type mirrorWriter struct {
	cs    versioned.Interface
	batch *mirrorBatcher
	slot  *heldSlot
}

// mirrorKind mirrors one kind. The syncer drives every kind through it.
type mirrorKind interface {
	// Name is the kind, e.g. "WorkloadEndpoint".
	Name() string
	// Overlay says the kind is mirrored only with overlay routing Enabled.
	Overlay() bool
	// Example is an empty object of the kind, for informers.
	Example() runtime.Object
	// RemoteListWatch lists and watches, in a remote cluster, the objects
	// of the kind that are mirrored: the cluster's own, never its mirrors
	// of other clusters (they would be mirrored onwards around the mesh).
	RemoteListWatch(cs versioned.Interface) *cache.ListWatch
	// MirrorListWatch lists and watches the local mirrors of the kind.
	MirrorListWatch(cs versioned.Interface) *cache.ListWatch
	// RemoteTransform is the transform of the syncer's informer of the
	// remote objects: what its cache keeps of each.
	RemoteTransform() cache.TransformFunc
	// RemoteObject returns the remote object that the syncer's cache
	// keeps as obj (what RemoteTransform made of it), ok false for
	// anything else. Whatever reads that cache reads it through this.
	RemoteObject(obj any) (runtime.Object, bool)
	// MirrorTransform is the transform of the informer of the local
	// mirrors: what the mirror cache keeps of each.
	MirrorTransform() cache.TransformFunc
	// EtcdListWatch is RemoteListWatch read from a remote meshapi's etcd.
	EtcdListWatch(src *etcdSource) *cache.ListWatch
	// Reconcile makes the local mirror of the remote object with key
	// remoteKey match it: created, updated, or deleted when the remote
	// object is gone (remote is nil when the kind is not mirrored now). It
	// returns what it wrote, nil when the mirror already matched.
	// pending is the Syncer's last write of the mirror whose echo the
	// mirror cache local has not shown yet, nil for none: the mirror is
	// then taken to be what it wrote, not what local holds.
	Reconcile(ctx context.Context, cluster, remoteKey string, remote, local cache.Indexer, pending *write, w mirrorWriter) (*write, error)
	// RemoteKey returns the remote key of a local mirror, ok false if obj
	// is not a mirror of cluster.
	RemoteKey(cluster string, obj any) (key string, ok bool)
	// DeleteMirror deletes every local mirror of cluster of the kind, one
	// deletecollection per namespace that local (the mirror cache) has one
	// in, several namespaces at once; it tries every namespace and returns
	// the errors of all that failed.
	DeleteMirror(ctx context.Context, cluster string, local cache.Indexer, client versioned.Interface) error
	// StatusCount returns the field of an RCC's status.mirroredObjects that
	// counts the kind's mirrors; nil when the status does not count them.
	StatusCount(counts *v3.MirroredObjectCounts) *int32
	// RequirementInput says the mesh's requirements compare the kind: the
	// local cluster's own objects are watched too, and a change of them or
	// of a mirror evaluates the requirements again.
	RequirementInput() bool
	// GuardInput says the kind's local objects and mirrors are what the
	// remote objects of other clusters are admitted against (meshguard).
	GuardInput() bool
}

// write is what a reconcile wrote to a mirror.
type write struct {
	// resourceVersions are those the mirror's writes returned, in order
	// (a Node's update and status update return one each).
	resourceVersions []string
	// deleted says the mirror was deleted.
	deleted bool
	// mirror is the mirror written as the API server answered it (a
	// *digestedMirror for a kind compared by digest, as in the mirror
	// cache), nil when deleted or not known: until the cache shows the
	// write, the next reconcile takes the mirror to be this.
	mirror metav1.Object
	// earlier are the events of the Syncer's earlier writes of the mirror
	// that this one overtook before their echoes came back.
	earlier []mirrorChange
}

// events returns the informer events that echo w itself.
func (w *write) events() []mirrorChange {
	if w.deleted {
		return []mirrorChange{{deleted: true}}
	}
	out := make([]mirrorChange, len(w.resourceVersions))
	for i, rv := range w.resourceVersions {
		out[i] = mirrorChange{resourceVersion: rv}
	}
	return out
}

// overtook reports whether ev echoes one of the earlier writes w
// overtook. A delete's echo is any delete event: a tombstone carries the
// last resourceVersion the cache saw, not the delete's.
func (w *write) overtook(ev mirrorChange) bool {
	return slices.ContainsFunc(w.earlier, func(e mirrorChange) bool {
		return e == ev || (e.deleted && ev.deleted)
	})
}

// kindSpec describes one kind; it implements mirrorKind.
type kindSpec[T object, L runtime.Object] struct {
	kind       string
	overlay    bool
	namespaced bool
	example    T
	// resource is the plural resource name, e.g. "workloadendpoints".
	resource string
	// newList returns an empty list of the kind.
	newList func() L
	// onlyName narrows what is mirrored to the one object of that name,
	// e.g. the FelixConfiguration "default".
	onlyName string
	// client returns the typed client of the kind in namespace ns ("" for
	// all namespaces or a cluster-scoped kind).
	client func(cs versioned.Interface, ns string) typedClient[T, L]
	// mirror returns the local mirror of a remote object.
	mirror func(cluster string, remote T) T
	// same reports whether a stored mirror already matches the desired one
	// (metadata labels and annotations are compared by the caller).
	same func(have, want T) bool
	// digest, when set, is the mirrorDigest of a mirror's spec and
	// annotations, and the mirror cache keeps digestedMirrors: the kind's
	// mirrors are compared by digest (same and the annotations agree with
	// it exactly). Nil for kinds whose whole mirrors are cached, e.g. those
	// the requirements and meshguard read.
	digest func(T) mirrorDigest
	// cached, when set, is what the syncer's cache keeps of a remote
	// object in place of the object decoded (for the kind of which a
	// cluster has thousands), and uncached turns that back into a T,
	// ok false for anything else.
	cached   func(T) metav1.Object
	uncached func(metav1.Object) (T, bool)
	// compressed says the remote cluster may compress the kind's lists
	// and watch streams (set for the kind of which a cluster has
	// thousands). The other kinds' are asked for uncompressed
	// (remoteaccess.WithoutCompression): small, and a compressed stream
	// holds a decompressor in the controller for its life, per remote
	// cluster and kind.
	compressed bool
	// batched says the kind's mirrors are created in batches
	// (mirrorBatcher; WorkloadEndpoints, of which a cluster has thousands).
	batched bool
	// updateStatus writes the status of a mirror, for kinds whose status is
	// mirrored too; nil otherwise.
	updateStatus func(cs versioned.Interface, ctx context.Context, obj T) (resourceVersion string, err error)
	// statusCount is the field of status.mirroredObjects that counts the
	// kind; nil when it is not counted.
	statusCount func(*v3.MirroredObjectCounts) *int32
	// requirement and guard: see RequirementInput and GuardInput.
	requirement, guard bool
}

func (k *kindSpec[T, L]) Name() string            { return k.kind }
func (k *kindSpec[T, L]) resourceName() string    { return k.resource }
func (k *kindSpec[T, L]) Overlay() bool           { return k.overlay }
func (k *kindSpec[T, L]) Example() runtime.Object { return k.example }
func (k *kindSpec[T, L]) RequirementInput() bool  { return k.requirement }
func (k *kindSpec[T, L]) GuardInput() bool        { return k.guard }

func (k *kindSpec[T, L]) StatusCount(counts *v3.MirroredObjectCounts) *int32 {
	if k.statusCount == nil {
		return nil
	}
	return k.statusCount(counts)
}

func (k *kindSpec[T, L]) RemoteListWatch(cs versioned.Interface) *cache.ListWatch {
	fieldSelector := ""
	if k.onlyName != "" {
		fieldSelector = "metadata.name=" + k.onlyName
	}
	lw := k.listWatch(cs, "!"+v3.LabelCluster, fieldSelector)
	if k.compressed {
		return lw
	}
	list, watchFn := lw.ListWithContextFunc, lw.WatchFuncWithContext
	lw.ListWithContextFunc = func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
		return list(remoteaccess.WithoutCompression(ctx), opts)
	}
	lw.WatchFuncWithContext = func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
		return watchFn(remoteaccess.WithoutCompression(ctx), opts)
	}
	return lw
}

func (k *kindSpec[T, L]) EtcdListWatch(src *etcdSource) *cache.ListWatch {
	keep := func(obj runtime.Object) bool {
		o, ok := obj.(T)
		if !ok {
			return false
		}
		_, mirrored := o.GetLabels()[v3.LabelCluster]
		return !mirrored && (k.onlyName == "" || o.GetName() == k.onlyName)
	}
	return src.listWatch(k.resource, func() runtime.Object { return k.newList() }, keep)
}

func (k *kindSpec[T, L]) MirrorListWatch(cs versioned.Interface) *cache.ListWatch {
	return k.listWatch(cs, v3.LabelCluster, "")
}

func (k *kindSpec[T, L]) RemoteTransform() cache.TransformFunc {
	if k.cached == nil {
		return compactThen[T](nil)
	}
	return compactThen(func(o T) any { return k.cached(o) })
}

// compactThen is a transform that compacts what it is given (a new
// compactor's) and then, for a T and when keep is set, returns keep of
// it in place of it. (The compactor changes no value, so keep reads what
// the object decoded held.)
func compactThen[T object](keep func(T) any) cache.TransformFunc {
	compact := newCompactor().transform
	if keep == nil {
		return compact
	}
	return func(obj any) (any, error) {
		o, ok := obj.(T)
		if !ok {
			return compact(obj) // a tombstone
		}
		if _, err := compact(o); err != nil {
			return nil, err
		}
		return keep(o), nil
	}
}

func (k *kindSpec[T, L]) RemoteObject(obj any) (runtime.Object, bool) {
	o, ok := k.remoteObject(obj)
	if !ok {
		return nil, false
	}
	return o, true
}

// remoteObject returns the remote object that the syncer's cache keeps as
// obj, ok false if obj is neither a T nor what the kind caches of one.
func (k *kindSpec[T, L]) remoteObject(obj any) (T, bool) {
	if o, ok := obj.(T); ok {
		return o, true
	}
	if m, ok := obj.(metav1.Object); ok && k.uncached != nil {
		return k.uncached(m)
	}
	var zero T
	return zero, false
}

func (k *kindSpec[T, L]) MirrorTransform() cache.TransformFunc {
	if k.digest == nil {
		return compactThen[T](nil)
	}
	return compactThen(func(o T) any { return newDigestedMirror(o, k.digest(o)) })
}

func (k *kindSpec[T, L]) listWatch(cs versioned.Interface, labelSelector, fieldSelector string) *cache.ListWatch {
	c := k.client(cs, metav1.NamespaceAll)
	return &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			opts.LabelSelector, opts.FieldSelector = labelSelector, fieldSelector
			return c.List(ctx, opts)
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			opts.LabelSelector, opts.FieldSelector = labelSelector, fieldSelector
			return c.Watch(ctx, opts)
		},
	}
}

func (k *kindSpec[T, L]) RemoteKey(cluster string, obj any) (string, bool) {
	var o metav1.Object
	var name string
	switch m := obj.(type) {
	case T:
		o, name = m, m.GetAnnotations()[v3.AnnotationRemoteName]
	case *digestedMirror:
		if k.digest == nil {
			return "", false
		}
		o, name = m, m.remoteName
	default:
		return "", false
	}
	if o.GetLabels()[v3.LabelCluster] != cluster || name == "" {
		return "", false
	}
	if k.namespaced {
		return o.GetNamespace() + "/" + name, true
	}
	return name, true
}

// localKey is the local key of the mirror of the remote object remoteKey.
func (k *kindSpec[T, L]) localKey(cluster, remoteKey string) (namespace, name, key string, err error) {
	ns, remoteName, err := cache.SplitMetaNamespaceKey(remoteKey)
	if err != nil {
		return "", "", "", err
	}
	name = v3.MirrorName(cluster, remoteName)
	if ns == "" {
		return "", name, name, nil
	}
	return ns, name, ns + "/" + name, nil
}

func (k *kindSpec[T, L]) Reconcile(ctx context.Context, cluster, remoteKey string, remote, local cache.Indexer, pending *write, w mirrorWriter) (*write, error) {
	ns, name, lkey, err := k.localKey(cluster, remoteKey)
	if err != nil {
		return nil, err
	}
	cs := w.cs
	client := k.client(cs, ns)
	have, haveExists, err := k.have(local, lkey, pending)
	if err != nil {
		return nil, err
	}
	var want T
	wantExists := false
	if remote != nil {
		obj, exists, err := remote.GetByKey(remoteKey)
		if err != nil {
			return nil, err
		}
		if exists {
			o, ok := k.remoteObject(obj)
			if !ok {
				return nil, fmt.Errorf("reading the cached remote %s %s: a %T is not one", k.kind, remoteKey, obj)
			}
			want, wantExists = k.mirror(cluster, o), true
		}
	}

	switch {
	case !wantExists && !haveExists:
		return nil, nil
	case !wantExists:
		if have.GetLabels()[v3.LabelCluster] != cluster {
			return nil, nil // not ours
		}
		uid := have.GetUID()
		err := client.Delete(ctx, name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
		if err != nil && !apierrors.IsNotFound(err) {
			return nil, staleOr(fmt.Errorf("deleting mirrored %s %s: %w", k.kind, lkey, err))
		}
		return &write{deleted: true}, nil
	case !haveExists:
		created, err := k.create(ctx, client, w, want)
		if apierrors.IsAlreadyExists(err) {
			// The local cache may not have seen our own create yet (the
			// same key can be queued twice during the initial resync):
			// look at what is really there before calling it foreign.
			live, gerr := client.Get(ctx, name, metav1.GetOptions{})
			if gerr != nil {
				return nil, fmt.Errorf("creating mirrored %s %s: it exists, but reading it failed: %w", k.kind, lkey, gerr)
			}
			if live.GetLabels()[v3.LabelCluster] != cluster {
				return nil, fmt.Errorf("cannot mirror %s %s of cluster %q: a local %s named %q exists and is not a mirror; rename or delete it", k.kind, remoteKey, cluster, k.kind, lkey)
			}
			return k.update(ctx, cs, client, live, want, lkey)
		}
		if err != nil {
			return nil, fmt.Errorf("creating mirrored %s %s: %w", k.kind, lkey, err)
		}
		return k.written(ctx, cs, created, want, lkey)
	default:
		if have.GetLabels()[v3.LabelCluster] != cluster {
			return nil, fmt.Errorf("cannot mirror %s %s of cluster %q: the local %s %q is not its mirror (label %s=%q)",
				k.kind, remoteKey, cluster, k.kind, lkey, v3.LabelCluster, have.GetLabels()[v3.LabelCluster])
		}
		return k.update(ctx, cs, client, have, want, lkey)
	}
}

// create creates the mirror want: with the Syncer's next batch for a
// batched kind, else on its own.
func (k *kindSpec[T, L]) create(ctx context.Context, client typedClient[T, L], w mirrorWriter, want T) (T, error) {
	if ep, ok := any(want).(*v3.WorkloadEndpoint); ok && k.batched && w.batch != nil {
		created, err := w.batch.create(ctx, ep, w.slot)
		if err != nil {
			var none T
			return none, err
		}
		return any(created).(T), nil
	}
	return client.Create(ctx, want, metav1.CreateOptions{FieldManager: FieldManager})
}

// have returns the mirror of lkey as the Syncer knows it last, a T or,
// for a kind compared by digest, a *digestedMirror: what its pending
// write left, else what the mirror cache local holds.
func (k *kindSpec[T, L]) have(local cache.Indexer, lkey string, pending *write) (metav1.Object, bool, error) {
	switch {
	case pending != nil && pending.deleted:
		return nil, false, nil
	case pending != nil && pending.mirror != nil:
		return pending.mirror, true, nil
	}
	obj, exists, err := local.GetByKey(lkey)
	if err != nil || !exists {
		return nil, false, err
	}
	have, err := meta.Accessor(obj)
	if err != nil {
		return nil, false, fmt.Errorf("reading the cached mirror %s %s: %w", k.kind, lkey, err)
	}
	return have, true, nil
}

// written returns the write of the mirror obj, as the API server answered
// it, after its status, if the kind has one, was written too.
func (k *kindSpec[T, L]) written(ctx context.Context, cs versioned.Interface, obj, want T, lkey string) (*write, error) {
	w := &write{resourceVersions: []string{obj.GetResourceVersion()}}
	if k.updateStatus != nil {
		copyStatus(obj, want)
		rv, err := k.updateStatus(cs, ctx, obj)
		if err != nil {
			return w, fmt.Errorf("writing the status of mirrored %s %s: %w", k.kind, lkey, err)
		}
		w.resourceVersions = append(w.resourceVersions, rv)
		obj.SetResourceVersion(rv)
	}
	w.mirror = obj
	if k.digest != nil {
		w.mirror = newDigestedMirror(obj, k.digest(obj))
	}
	return w, nil
}

// update makes the existing mirror have (of this cluster) match want.
func (k *kindSpec[T, L]) update(ctx context.Context, cs versioned.Interface, client typedClient[T, L], have metav1.Object, want T, lkey string) (*write, error) {
	if k.matches(have, want) {
		return nil, nil
	}
	want.SetResourceVersion(have.GetResourceVersion())
	want.SetUID(have.GetUID())
	updated, err := client.Update(ctx, want, metav1.UpdateOptions{FieldManager: FieldManager})
	if err != nil {
		return nil, staleOr(fmt.Errorf("updating mirrored %s %s: %w", k.kind, lkey, err))
	}
	return k.written(ctx, cs, updated, want, lkey)
}

// matches reports whether the mirror have, a T or a *digestedMirror,
// already matches want: spec, labels and annotations.
func (k *kindSpec[T, L]) matches(have metav1.Object, want T) bool {
	if !apiequality.Semantic.DeepEqual(have.GetLabels(), want.GetLabels()) {
		return false
	}
	switch h := have.(type) {
	case T:
		return k.same(h, want) && apiequality.Semantic.DeepEqual(h.GetAnnotations(), want.GetAnnotations())
	case *digestedMirror:
		return k.digest != nil && h.digest == k.digest(want)
	}
	return false
}

// staleCacheError is a write of an existing mirror that the API server
// refused because the local cache it was computed from is behind: the
// mirror was deleted (NotFound) or changed (Conflict: a resourceVersion or
// UID precondition) since the cache saw it, by the syncer's own previous
// write whose watch event has not arrived yet, or while the cache's watch
// was re-established (a meshapi-apiserver replica that served it died).
// Neither the remote cluster nor the write failed: the syncer retries it
// once the cache has caught up, without counting or reporting an error.
type staleCacheError struct{ err error }

func (e *staleCacheError) Error() string { return e.err.Error() }
func (e *staleCacheError) Unwrap() error { return e.err }

// staleOr returns err, a refused update or delete of an existing
// mirror, as a staleCacheError when the API server refused it as NotFound
// or Conflict.
func staleOr(err error) error {
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return &staleCacheError{err: err}
	}
	return err
}

// copyStatus copies the status of a Node mirror; other kinds have none
// that is mirrored.
func copyStatus(dst, src runtime.Object) {
	if d, ok := dst.(*v3.Node); ok {
		d.Status = src.(*v3.Node).Status
	}
}

// FieldManager is the field manager of the controller's writes.
const FieldManager = "meshapi-controller"

// mirrorKinds are the kinds a syncer mirrors, endpoints first: one entry
// per kind says all there is to know about mirroring it.
func mirrorKinds() []mirrorKind {
	return []mirrorKind{
		&kindSpec[*v3.WorkloadEndpoint, *v3.WorkloadEndpointList]{
			kind: "WorkloadEndpoint", namespaced: true, example: &v3.WorkloadEndpoint{},
			resource: "workloadendpoints", newList: func() *v3.WorkloadEndpointList { return &v3.WorkloadEndpointList{} },
			client: func(cs versioned.Interface, ns string) typedClient[*v3.WorkloadEndpoint, *v3.WorkloadEndpointList] {
				return cs.ProjectcalicoV3().WorkloadEndpoints(ns)
			},
			mirror:      MirrorWorkloadEndpoint,
			same:        func(a, b *v3.WorkloadEndpoint) bool { return apiequality.Semantic.DeepEqual(a.Spec, b.Spec) },
			digest:      endpointDigest,
			cached:      cacheEndpoint,
			uncached:    cachedEndpointObject,
			compressed:  true,
			batched:     true,
			statusCount: func(c *v3.MirroredObjectCounts) *int32 { return &c.WorkloadEndpoints },
		},
		&kindSpec[*v3.HostEndpoint, *v3.HostEndpointList]{
			kind: "HostEndpoint", example: &v3.HostEndpoint{},
			resource: "hostendpoints", newList: func() *v3.HostEndpointList { return &v3.HostEndpointList{} },
			client: func(cs versioned.Interface, _ string) typedClient[*v3.HostEndpoint, *v3.HostEndpointList] {
				return cs.ProjectcalicoV3().HostEndpoints()
			},
			mirror:      MirrorHostEndpoint,
			same:        func(a, b *v3.HostEndpoint) bool { return apiequality.Semantic.DeepEqual(a.Spec, b.Spec) },
			statusCount: func(c *v3.MirroredObjectCounts) *int32 { return &c.HostEndpoints },
		},
		&kindSpec[*v3.Profile, *v3.ProfileList]{
			kind: "Profile", example: &v3.Profile{},
			resource: "profiles", newList: func() *v3.ProfileList { return &v3.ProfileList{} },
			client: func(cs versioned.Interface, _ string) typedClient[*v3.Profile, *v3.ProfileList] {
				return cs.ProjectcalicoV3().Profiles()
			},
			mirror:      MirrorProfile,
			same:        func(a, b *v3.Profile) bool { return apiequality.Semantic.DeepEqual(a.Spec, b.Spec) },
			statusCount: func(c *v3.MirroredObjectCounts) *int32 { return &c.Profiles },
		},
		&kindSpec[*v3.Node, *v3.NodeList]{
			kind: "Node", overlay: true, example: &v3.Node{},
			resource: "nodes", newList: func() *v3.NodeList { return &v3.NodeList{} },
			client: func(cs versioned.Interface, _ string) typedClient[*v3.Node, *v3.NodeList] {
				return cs.ProjectcalicoV3().Nodes()
			},
			mirror: MirrorNode,
			same: func(a, b *v3.Node) bool {
				return apiequality.Semantic.DeepEqual(a.Spec, b.Spec) && apiequality.Semantic.DeepEqual(a.Status, b.Status)
			},
			updateStatus: func(cs versioned.Interface, ctx context.Context, n *v3.Node) (string, error) {
				updated, err := cs.ProjectcalicoV3().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{FieldManager: FieldManager})
				if err != nil {
					return "", err
				}
				return updated.ResourceVersion, nil
			},
			statusCount: func(c *v3.MirroredObjectCounts) *int32 { return &c.Nodes },
			requirement: true, guard: true,
		},
		&kindSpec[*v3.IPPool, *v3.IPPoolList]{
			kind: "IPPool", overlay: true, example: &v3.IPPool{},
			resource: "ippools", newList: func() *v3.IPPoolList { return &v3.IPPoolList{} },
			client: func(cs versioned.Interface, _ string) typedClient[*v3.IPPool, *v3.IPPoolList] {
				return cs.ProjectcalicoV3().IPPools()
			},
			mirror:      MirrorIPPool,
			same:        func(a, b *v3.IPPool) bool { return apiequality.Semantic.DeepEqual(a.Spec, b.Spec) },
			statusCount: func(c *v3.MirroredObjectCounts) *int32 { return &c.IPPools },
			requirement: true, guard: true,
		},
		&kindSpec[*v3.FelixConfiguration, *v3.FelixConfigurationList]{
			kind: "FelixConfiguration", overlay: true, example: &v3.FelixConfiguration{},
			resource: "felixconfigurations", newList: func() *v3.FelixConfigurationList { return &v3.FelixConfigurationList{} },
			// Only the cluster-wide settings: the mesh's requirements
			// compare them. Mirrored as "<cluster>.default", which no node
			// reads as its own configuration.
			onlyName: "default",
			client: func(cs versioned.Interface, _ string) typedClient[*v3.FelixConfiguration, *v3.FelixConfigurationList] {
				return cs.ProjectcalicoV3().FelixConfigurations()
			},
			mirror: MirrorFelixConfiguration,
			same:   func(a, b *v3.FelixConfiguration) bool { return apiequality.Semantic.DeepEqual(a.Spec, b.Spec) },
			// Mirrored for the requirements check only: not counted.
			requirement: true,
		},
		&kindSpec[*v3.IPAMBlock, *v3.IPAMBlockList]{
			kind: "IPAMBlock", overlay: true, example: &v3.IPAMBlock{},
			resource: "ipamblocks", newList: func() *v3.IPAMBlockList { return &v3.IPAMBlockList{} },
			client: func(cs versioned.Interface, _ string) typedClient[*v3.IPAMBlock, *v3.IPAMBlockList] {
				return cs.ProjectcalicoV3().IPAMBlocks()
			},
			mirror:      MirrorIPAMBlock,
			same:        func(a, b *v3.IPAMBlock) bool { return apiequality.Semantic.DeepEqual(a.Spec, b.Spec) },
			statusCount: func(c *v3.MirroredObjectCounts) *int32 { return &c.IPAMBlocks },
		},
	}
}

func (k *kindSpec[T, L]) DeleteMirror(ctx context.Context, cluster string, local cache.Indexer, client versioned.Interface) error {
	objs, err := local.ByIndex(ClusterIndex, cluster)
	if err != nil || len(objs) == 0 {
		return err
	}
	namespaces := map[string]bool{}
	for _, obj := range objs {
		if o, err := meta.Accessor(obj); err == nil {
			namespaces[o.GetNamespace()] = true
		}
	}
	selector := labels.SelectorFromSet(labels.Set{v3.LabelCluster: cluster}).String()
	nss := slices.Sorted(maps.Keys(namespaces))
	errs := make([]error, len(nss))
	slots := newWriteSlots(DeleteCollectionsInFlight)
	var wg sync.WaitGroup
	for i, ns := range nss {
		if !slots.acquire(ctx) {
			errs[i] = ctx.Err()
			break
		}
		wg.Go(func() {
			defer slots.release()
			errs[i] = k.deleteCollection(ctx, client, ns, cluster, selector)
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// DeleteCollectionsInFlight bounds the namespaces whose mirrors a teardown
// deletes at once. The API server deletes a collection's objects with a few
// workers of its own (meshapi-apiserver: 8), one after another per
// worker, so one namespace at a time kept only those few deletes in
// flight.
const DeleteCollectionsInFlight = 8

// deleteCollection deletes the mirrors of the kind in namespace ns that
// selector (cluster's label) selects; a kind or namespace that is gone is
// no error.
func (k *kindSpec[T, L]) deleteCollection(ctx context.Context, client versioned.Interface, ns, cluster, selector string) error {
	err := k.client(client, ns).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: selector})
	if err == nil || apierrors.IsNotFound(err) {
		return nil
	}
	where := ""
	if ns != "" {
		where = " in namespace " + ns
	}
	return fmt.Errorf("deleting the %ss mirrored from %s%s: %w", k.kind, cluster, where, err)
}
