package federation

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"

	"github.com/meshapi/meshapi/pkg/remotecluster"
	"github.com/meshapi/meshapi/pkg/sliceapply"
)

// AnnotationError on a federated Service says why no endpoints are written
// for it; it is removed once the Service is fixed.
const AnnotationError = "projectcalico.org/federation-error"

// RemoteSource gives the Services and EndpointSlices of remote clusters;
// remotecluster.Controller is one.
type RemoteSource interface {
	// RemoteServices returns every remote cluster, synced or not.
	RemoteServices() []remotecluster.RemoteServices
	// HasSynced reports whether RemoteServices knows every remote cluster.
	HasSynced() bool
}

// Controller writes the EndpointSlices and Endpoints of every federated
// Service of the local cluster.
type Controller struct {
	kube    kubernetes.Interface
	remotes RemoteSource
	// grace is how long a failed remote cluster's addresses are kept; 0
	// keeps them until the cluster is back or its RCC is deleted.
	grace time.Duration

	factory  informers.SharedInformerFactory
	services corelisters.ServiceLister
	svcIndex cache.Indexer
	slices   cache.Indexer
	synced   []cache.InformerSynced
	queue    workqueue.TypedRateLimitingInterface[string]
	recorder record.EventRecorder
	events   record.EventBroadcaster
}

// NewController returns a federation controller for the local cluster
// behind kube, reading remote clusters from remotes.
func NewController(kube kubernetes.Interface, remotes RemoteSource, grace time.Duration) *Controller {
	f := informers.NewSharedInformerFactory(kube, 0)
	svcInf, sliceInf := f.Core().V1().Services().Informer(), f.Discovery().V1().EndpointSlices().Informer()
	_ = sliceInf.AddIndexers(cache.Indexers{remotecluster.SliceServiceIndex: func(obj any) ([]string, error) {
		s, ok := obj.(*discoveryv1.EndpointSlice)
		if !ok {
			return nil, nil
		}
		return []string{s.Namespace + "/" + s.Labels[discoveryv1.LabelServiceName]}, nil
	}})
	events := record.NewBroadcaster()
	c := &Controller{
		kube: kube, remotes: remotes, grace: grace, factory: f,
		services: f.Core().V1().Services().Lister(), svcIndex: svcInf.GetIndexer(), slices: sliceInf.GetIndexer(),
		synced: []cache.InformerSynced{svcInf.HasSynced, sliceInf.HasSynced},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "federated-services"}),
		events: events, recorder: events.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "meshapi-controller"}),
	}
	_, _ = svcInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.serviceChanged,
		UpdateFunc: func(_, obj any) { c.serviceChanged(obj) },
		DeleteFunc: c.serviceChanged,
	})
	_, _ = sliceInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.sliceChanged,
		UpdateFunc: func(_, obj any) { c.sliceChanged(obj) },
		DeleteFunc: c.sliceChanged,
	})
	return c
}

// ClusterChanged re-evaluates every federated Service after a remote
// cluster's Services, EndpointSlices or connection changed.
func (c *Controller) ClusterChanged(string) {
	svcs, err := c.services.List(labels.Everything())
	if err != nil {
		return
	}
	for _, s := range svcs {
		if IsFederated(s) {
			c.queue.AddAfter(s.Namespace+"/"+s.Name, 200*time.Millisecond)
		}
	}
}

func (c *Controller) serviceChanged(obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	s, ok := obj.(*corev1.Service)
	if !ok {
		return
	}
	if IsFederated(s) {
		c.queue.Add(s.Namespace + "/" + s.Name)
		return
	}
	c.enqueueNamespace(s.Namespace)
}

func (c *Controller) sliceChanged(obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	if s, ok := obj.(*discoveryv1.EndpointSlice); ok && s.Labels[discoveryv1.LabelManagedBy] != ManagedBy {
		c.enqueueNamespace(s.Namespace)
	}
}

// enqueueNamespace queues the federated Services of a namespace, which a
// change of a backing Service or slice there may affect.
func (c *Controller) enqueueNamespace(ns string) {
	objs, err := c.svcIndex.ByIndex(cache.NamespaceIndex, ns)
	if err != nil {
		return
	}
	for _, obj := range objs {
		if s := obj.(*corev1.Service); IsFederated(s) {
			c.queue.Add(s.Namespace + "/" + s.Name)
		}
	}
}

// Run runs the controller until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) error {
	defer c.queue.ShutDown()
	c.events.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: c.kube.CoreV1().Events("")})
	defer c.events.Shutdown()
	c.factory.Start(ctx.Done())
	defer c.factory.Shutdown()
	// The remote clusters must be known too: a cluster missing from
	// RemoteServices has its addresses removed.
	if !cache.WaitForCacheSync(ctx.Done(), append(c.synced, c.remotes.HasSynced)...) {
		return fmt.Errorf("service caches did not sync")
	}
	klog.FromContext(ctx).Info("Federated service controller started", "remoteGracePeriod", c.grace)
	c.ClusterChanged("")
	for i := 0; i < workers; i++ {
		go wait.UntilWithContext(ctx, c.worker, time.Second)
	}
	<-ctx.Done()
	return nil
}

func (c *Controller) worker(ctx context.Context) {
	for {
		key, shutdown := c.queue.Get()
		if shutdown {
			return
		}
		if err := c.reconcile(ctx, key); err != nil {
			klog.FromContext(ctx).Error(err, "Federating service", "service", key)
			c.queue.AddRateLimited(key)
		} else {
			c.queue.Forget(key)
		}
		c.queue.Done(key)
	}
}

// reconcile writes the endpoints of one federated Service.
func (c *Controller) reconcile(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return err
	}
	fed, err := c.services.Services(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil // its slices and Endpoints are owned by it: collected
	}
	if err != nil {
		return err
	}
	if !IsFederated(fed) {
		return c.apply(ctx, fed, nil, nil)
	}
	sel, err := Selector(fed)
	if err != nil {
		if fed.Annotations[AnnotationError] != err.Error() {
			c.recorder.Event(fed, corev1.EventTypeWarning, "FederationInvalid", err.Error())
		}
		if err := c.setError(ctx, fed, err.Error()); err != nil {
			return err
		}
		return c.apply(ctx, fed, nil, nil)
	}
	if err := c.setError(ctx, fed, ""); err != nil {
		return err
	}

	var backings []Backing
	local, err := c.services.Services(ns).List(labels.Everything())
	if err != nil {
		return err
	}
	for _, b := range local {
		if Selects(fed, sel, b) {
			backings = append(backings, Backing{Service: b, Slices: slicesOf(c.slices, ns, b.Name)})
		}
	}
	var kept []*discoveryv1.EndpointSlice
	for _, r := range c.remotes.RemoteServices() {
		if r.Expired {
			// Disconnected for longer than its disconnectedTTL: its
			// endpoints go with its mirror, until it reconnects.
			continue
		}
		if !r.Synced {
			// Not listed yet since its syncer (re)started: keep what
			// was written from it rather than act on an empty cache.
			kept = append(kept, keptSlices(slicesOfManaged(c.slices, fed), r.Cluster)...)
			continue
		}
		if c.grace > 0 && !r.FailedSince.IsZero() {
			if left := c.grace - time.Since(r.FailedSince); left <= 0 {
				continue // failed for longer than the grace period
			} else {
				c.queue.AddAfter(key, left)
			}
		}
		objs, err := r.Services.ByIndex(cache.NamespaceIndex, ns)
		if err != nil {
			return err
		}
		for _, obj := range objs {
			if b := obj.(*corev1.Service); Selects(fed, sel, b) {
				backings = append(backings, Backing{Cluster: r.Cluster, Service: b, Slices: slicesOf(r.Slices, ns, b.Name)})
			}
		}
	}
	want := append(Slices(fed, backings), kept...)
	return c.apply(ctx, fed, want, Endpoints(fed, want))
}

// slicesOf returns the EndpointSlices of a Service from an index, leaving
// out the ones meshapi wrote.
func slicesOf(idx cache.Indexer, ns, svc string) []*discoveryv1.EndpointSlice {
	objs, _ := idx.ByIndex(remotecluster.SliceServiceIndex, ns+"/"+svc)
	var out []*discoveryv1.EndpointSlice
	for _, obj := range objs {
		if s := obj.(*discoveryv1.EndpointSlice); s.Labels[discoveryv1.LabelManagedBy] != ManagedBy {
			out = append(out, s)
		}
	}
	return out
}

// apply makes the Service's meshapi-managed EndpointSlices and Endpoints
// the wanted ones (none when want is nil).
func (c *Controller) apply(ctx context.Context, fed *corev1.Service, want []*discoveryv1.EndpointSlice, endpoints *corev1.Endpoints) error {
	if _, err := sliceapply.Apply(ctx, c.kube.DiscoveryV1().EndpointSlices(fed.Namespace), fed.Namespace, slicesOfManaged(c.slices, fed), want,
		sliceapply.Options{FieldManager: "meshapi-controller"}); err != nil {
		return err
	}
	return c.applyEndpoints(ctx, fed, endpoints)
}

// slicesOfManaged returns the slices meshapi wrote for fed.
func slicesOfManaged(idx cache.Indexer, fed *corev1.Service) []*discoveryv1.EndpointSlice {
	objs, _ := idx.ByIndex(remotecluster.SliceServiceIndex, fed.Namespace+"/"+fed.Name)
	var out []*discoveryv1.EndpointSlice
	for _, obj := range objs {
		if s := obj.(*discoveryv1.EndpointSlice); s.Labels[discoveryv1.LabelManagedBy] == ManagedBy {
			out = append(out, s)
		}
	}
	return out
}

// applyEndpoints writes (or, for nil, removes) the Endpoints meshapi keeps
// for fed. The EndpointSlice mirroring controller is told to skip it: the
// slices are written directly.
func (c *Controller) applyEndpoints(ctx context.Context, fed *corev1.Service, want *corev1.Endpoints) error {
	client := c.kube.CoreV1().Endpoints(fed.Namespace) //nolint:staticcheck // Endpoints are still what kubectl get endpoints shows
	old, err := client.Get(ctx, fed.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		if want == nil {
			return nil
		}
		want.Labels[discoveryv1.LabelSkipMirror] = "true"
		controller := true
		want.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Service", Name: fed.Name, UID: fed.UID, Controller: &controller}}
		_, err = client.Create(ctx, want, metav1.CreateOptions{FieldManager: "meshapi-controller"})
		return err
	case err != nil:
		return err
	case old.Labels[discoveryv1.LabelManagedBy] != ManagedBy:
		return nil // not ours
	case want == nil:
		return client.Delete(ctx, fed.Name, metav1.DeleteOptions{})
	case apiequality.Semantic.DeepEqual(old.Subsets, want.Subsets):
		return nil
	}
	old.Subsets = want.Subsets
	_, err = client.Update(ctx, old, metav1.UpdateOptions{FieldManager: "meshapi-controller"})
	return err
}

// setError sets or clears the error annotation of a federated Service.
func (c *Controller) setError(ctx context.Context, svc *corev1.Service, msg string) error {
	if svc.Annotations[AnnotationError] == msg {
		return nil
	}
	var value any
	if msg != "" {
		value = msg
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]any{AnnotationError: value}}})
	if err != nil {
		return err
	}
	_, err = c.kube.CoreV1().Services(svc.Namespace).Patch(ctx, svc.Name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: "meshapi-controller"})
	return err
}
