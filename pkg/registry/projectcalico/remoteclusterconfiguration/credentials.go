package remoteclusterconfiguration

import (
	"context"
	"slices"

	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/registry/projectcalico/registry"
)

// CredentialPolicy says who may store inline credentials in a
// RemoteClusterConfiguration and who reads them back.
type CredentialPolicy struct {
	// AllowInline admits k8sAPIToken, kubeconfigInline, etcdPassword and
	// the files on the controller's host (meshapi-apiserver
	// --allow-inline-remote-credentials); without it validation refuses
	// them.
	AllowInline bool
	// Readers are the user names that read inline credentials back:
	// meshapi-controller's identity (--mirror-writers). Every other user,
	// administrators and remote clusters included, gets them stripped from
	// get, list, watch and the objects writes return.
	Readers []string
}

// mayRead reports whether the user of ctx reads inline credentials.
func (p CredentialPolicy) mayRead(ctx context.Context) bool {
	u, ok := genericapirequest.UserFrom(ctx)
	return ok && slices.Contains(p.Readers, u.GetName())
}

// HasInlineCredentials reports whether spec holds an inline secret.
func HasInlineCredentials(spec *v3.RemoteClusterConfigurationSpec) bool {
	return spec.K8sAPIToken != "" || spec.KubeconfigInline != "" || spec.EtcdPassword != ""
}

// StripInlineCredentials clears the inline secrets of spec: k8sAPIToken,
// kubeconfigInline and etcdPassword.
func StripInlineCredentials(spec *v3.RemoteClusterConfigurationSpec) {
	spec.K8sAPIToken, spec.KubeconfigInline, spec.EtcdPassword = "", "", ""
}

// strip returns obj, or a copy without inline credentials when the user of
// ctx may not read them. obj may be a RemoteClusterConfiguration, a list of
// them, or the watch cache's wrapper of one (runtime.CacheableObject);
// anything else is returned as is. Objects from the watch cache are
// shared, so they are never changed in place.
func (p CredentialPolicy) strip(ctx context.Context, obj runtime.Object) runtime.Object {
	if p.mayRead(ctx) {
		return obj
	}
	if c, ok := obj.(runtime.CacheableObject); ok {
		if inner, ok := c.GetObject().(*v3.RemoteClusterConfiguration); ok && HasInlineCredentials(&inner.Spec) {
			StripInlineCredentials(&inner.Spec) // GetObject returns a copy
			return inner
		}
		return obj
	}
	switch o := obj.(type) {
	case *v3.RemoteClusterConfiguration:
		if !HasInlineCredentials(&o.Spec) {
			return o
		}
		c := o.DeepCopy()
		StripInlineCredentials(&c.Spec)
		return c
	case *v3.RemoteClusterConfigurationList:
		if !slices.ContainsFunc(o.Items, func(r v3.RemoteClusterConfiguration) bool { return HasInlineCredentials(&r.Spec) }) {
			return o
		}
		c := o.DeepCopy()
		for i := range c.Items {
			StripInlineCredentials(&c.Items[i].Spec)
		}
		return c
	}
	return obj
}

// keepHidden restores, in an update by a user who may not read them, the
// inline credentials the update omits: that user read the object without
// them, and writing it back must not drop them. Only the fields of the
// datastore the update keeps are restored, and none when it switches to
// clusterAccessSecret, so that a user can still move to a Secret.
func (p CredentialPolicy) keepHidden(ctx context.Context, obj, old runtime.Object) {
	n, ok1 := obj.(*v3.RemoteClusterConfiguration)
	o, ok2 := old.(*v3.RemoteClusterConfiguration)
	if !ok1 || !ok2 || p.mayRead(ctx) || n.Spec.ClusterAccessSecret != nil || n.Spec.DatastoreType != o.Spec.DatastoreType {
		return
	}
	for _, f := range []struct{ dst, src *string }{
		{&n.Spec.K8sAPIToken, &o.Spec.K8sAPIToken},
		{&n.Spec.KubeconfigInline, &o.Spec.KubeconfigInline},
		{&n.Spec.EtcdPassword, &o.Spec.EtcdPassword},
	} {
		if *f.dst == "" {
			*f.dst = *f.src
		}
	}
}

// strippingWatch strips every event's object for the watching user.
func (p CredentialPolicy) strippingWatch(ctx context.Context, w watch.Interface) watch.Interface {
	if p.mayRead(ctx) {
		return w
	}
	return watch.Filter(w, func(ev watch.Event) (watch.Event, bool) {
		ev.Object = p.strip(ctx, ev.Object)
		return ev, true
	})
}

// Get returns the object, without inline credentials for other users than
// the readers.
func (r *REST) Get(ctx context.Context, name string, options *metav1.GetOptions) (runtime.Object, error) {
	obj, err := r.REST.Get(ctx, name, options)
	return r.creds.strip(ctx, obj), err
}

// List returns the objects, without inline credentials for other users
// than the readers.
func (r *REST) List(ctx context.Context, options *metainternalversion.ListOptions) (runtime.Object, error) {
	obj, err := r.REST.List(ctx, options)
	return r.creds.strip(ctx, obj), err
}

// Watch streams the objects, without inline credentials for other users
// than the readers.
func (r *REST) Watch(ctx context.Context, options *metainternalversion.ListOptions) (watch.Interface, error) {
	w, err := r.REST.Watch(ctx, options)
	if err != nil {
		return nil, err
	}
	return r.creds.strippingWatch(ctx, w), nil
}

// Delete deletes the object and returns it stripped.
func (r *REST) Delete(ctx context.Context, name string, deleteValidation rest.ValidateObjectFunc, options *metav1.DeleteOptions) (runtime.Object, bool, error) {
	obj, done, err := r.REST.Delete(ctx, name, deleteValidation, options)
	return r.creds.strip(ctx, obj), done, err
}

// DeleteCollection deletes the objects and returns them stripped.
func (r *REST) DeleteCollection(ctx context.Context, deleteValidation rest.ValidateObjectFunc, options *metav1.DeleteOptions,
	listOptions *metainternalversion.ListOptions) (runtime.Object, error) {
	obj, err := r.REST.DeleteCollection(ctx, deleteValidation, options, listOptions)
	return r.creds.strip(ctx, obj), err
}

// StatusREST is the status subresource, returning objects stripped as the
// main resource does.
type StatusREST struct {
	*registry.StatusREST
	creds CredentialPolicy
}

// Get returns the object, stripped for other users than the readers.
func (r *StatusREST) Get(ctx context.Context, name string, options *metav1.GetOptions) (runtime.Object, error) {
	obj, err := r.StatusREST.Get(ctx, name, options)
	return r.creds.strip(ctx, obj), err
}

// Update writes the status and returns the object, stripped for other
// users than the readers. A patch of the status by such a user applies to
// the stored object, whose spec the status strategy keeps anyway.
func (r *StatusREST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc,
	updateValidation rest.ValidateObjectUpdateFunc, forceAllowCreate bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	obj, created, err := r.StatusREST.Update(ctx, name, objInfo, createValidation, updateValidation, forceAllowCreate, options)
	return r.creds.strip(ctx, obj), created, err
}
