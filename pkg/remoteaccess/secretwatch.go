package remoteaccess

import (
	"context"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// SecretWatcher watches the access Secrets that RemoteClusterConfigurations
// name and calls changed with the name of every RCC whose Secret was
// created, updated or deleted, so that new credentials are used within a
// watch event, not at the next periodic read.
//
// Each Secret is listed and watched alone, with a metadata.name field
// selector: RBAC authorizes such a list or watch by resourceNames, which is
// all the access Role (SecretAccessRole) grants. Only each Secret's name,
// UID and resourceVersion are kept.
type SecretWatcher struct {
	kube    kubernetes.Interface
	changed func(rcc string)

	mu sync.Mutex
	// watches holds one running watch per named Secret.
	watches map[types.NamespacedName]*secretWatch
	// refs holds the Secret each RCC names.
	refs map[string]types.NamespacedName
}

// secretWatch is the watch of one Secret and the RCCs that name it.
type secretWatch struct {
	cancel context.CancelFunc
	rccs   map[string]struct{}
}

// NewSecretWatcher returns a watcher that reads Secrets through kube and
// calls changed (from the watches' goroutines) when one changes.
func NewSecretWatcher(kube kubernetes.Interface, changed func(rcc string)) *SecretWatcher {
	return &SecretWatcher{
		kube:    kube,
		changed: changed,
		watches: map[types.NamespacedName]*secretWatch{},
		refs:    map[string]types.NamespacedName{},
	}
}

// Set records that rcc names the access Secret ref (nil: none, or the RCC
// is gone), starting the Secret's watch if it is the first RCC to name it
// and stopping the watch of the Secret rcc named before if it was the
// last. Watches started here run until ctx ends or they are stopped.
func (w *SecretWatcher) Set(ctx context.Context, rcc string, ref *corev1.ObjectReference) {
	var want types.NamespacedName
	if ref != nil {
		want = types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	cur, had := w.refs[rcc]
	if had && cur == want {
		return
	}
	if had {
		delete(w.refs, rcc)
		if sw := w.watches[cur]; sw != nil {
			delete(sw.rccs, rcc)
			if len(sw.rccs) == 0 {
				sw.cancel()
				delete(w.watches, cur)
			}
		}
	}
	if ref == nil {
		return
	}
	w.refs[rcc] = want
	sw := w.watches[want]
	if sw == nil {
		wctx, cancel := context.WithCancel(ctx)
		sw = &secretWatch{cancel: cancel, rccs: map[string]struct{}{}}
		w.watches[want] = sw
		go w.run(wctx, want)
	}
	sw.rccs[rcc] = struct{}{}
}

// Watched returns how many Secrets are watched.
func (w *SecretWatcher) Watched() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.watches)
}

// run lists and watches one Secret until ctx ends, with the reflector's
// backoff on failures (e.g. while the RBAC that grants it is missing).
func (w *SecretWatcher) run(ctx context.Context, ref types.NamespacedName) {
	secrets := w.kube.CoreV1().Secrets(ref.Namespace)
	selector := fields.OneTermEqualSelector("metadata.name", ref.Name).String()
	lw := cache.ToListWatcherWithWatchListSemantics(&cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector = selector
			return secrets.List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = selector
			return secrets.Watch(ctx, o)
		},
	}, w.kube)
	notify := func(obj any) {
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
		}
		if s, ok := obj.(*corev1.Secret); !ok || s.Name != ref.Name {
			return
		}
		w.notify(ref)
	}
	_, informer := cache.NewInformerWithOptions(cache.InformerOptions{
		ListerWatcher: lw,
		ObjectType:    &corev1.Secret{},
		Handler: cache.ResourceEventHandlerFuncs{
			AddFunc:    notify,
			UpdateFunc: func(_, obj any) { notify(obj) },
			DeleteFunc: notify,
		},
		Transform: metadataOnly,
	})
	informer.RunWithContext(ctx)
}

// notify calls changed for every RCC that names ref now.
func (w *SecretWatcher) notify(ref types.NamespacedName) {
	w.mu.Lock()
	var rccs []string
	if sw := w.watches[ref]; sw != nil {
		for rcc := range sw.rccs {
			rccs = append(rccs, rcc)
		}
	}
	w.mu.Unlock()
	for _, rcc := range rccs {
		w.changed(rcc)
	}
}

// metadataOnly keeps a Secret's identity and version only: the watch
// just says when it changed, and the reader gets it afresh. Its data, and
// annotations that may copy it (kubectl's last-applied-configuration), are
// not kept.
func metadataOnly(obj any) (any, error) {
	if s, ok := obj.(*corev1.Secret); ok {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{
			Namespace: s.Namespace, Name: s.Name, UID: s.UID, ResourceVersion: s.ResourceVersion,
		}}, nil
	}
	return obj, nil
}
