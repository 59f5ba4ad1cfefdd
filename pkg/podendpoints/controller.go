package podendpoints

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/generated/clientset/versioned"
)

// ownSelector selects the endpoints and profiles this controller writes:
// from Kubernetes, and not mirrored from another cluster.
const ownSelector = LabelOrchestrator + "=" + OrchestratorK8s + ",!" + v3.LabelCluster

// podIndex indexes endpoints by "<namespace>/<pod>".
const podIndex = "pod"

// fieldManager is the field manager of the controller's writes.
const fieldManager = "meshapi-controller"

// Controller keeps the endpoints and namespace profiles in step with Pods
// and Namespaces.
type Controller struct {
	local      versioned.Interface
	pods       corelisters.PodLister
	namespaces corelisters.NamespaceLister
	endpoints  cache.Indexer
	profiles   cache.Indexer
	synced     []cache.InformerSynced
	factory    informers.SharedInformerFactory
	own        []cache.SharedIndexInformer
	queue      workqueue.TypedRateLimitingInterface[string]
}

// Keys of the work queue.
func podKey(ns, name string) string   { return "pod/" + ns + "/" + name }
func namespaceKey(name string) string { return "namespace/" + name }

// NewController returns a controller that reads Pods and Namespaces through
// kube and writes endpoints and profiles through local.
func NewController(kube kubernetes.Interface, local versioned.Interface) *Controller {
	f := informers.NewSharedInformerFactory(kube, 0)
	c := &Controller{
		local: local, factory: f,
		pods: f.Core().V1().Pods().Lister(), namespaces: f.Core().V1().Namespaces().Lister(),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "pod-endpoints"}),
	}
	podInf, nsInf := f.Core().V1().Pods().Informer(), f.Core().V1().Namespaces().Informer()
	_, _ = podInf.AddEventHandler(handler(func(obj any) (string, bool) {
		p, ok := obj.(*corev1.Pod)
		return podKey(p.Namespace, p.Name), ok
	}, c.queue))
	_, _ = nsInf.AddEventHandler(handler(func(obj any) (string, bool) {
		n, ok := obj.(*corev1.Namespace)
		return namespaceKey(n.Name), ok
	}, c.queue))

	wepInf := cache.NewSharedIndexInformer(&cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.LabelSelector = ownSelector
			return local.ProjectcalicoV3().WorkloadEndpoints("").List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.LabelSelector = ownSelector
			return local.ProjectcalicoV3().WorkloadEndpoints("").Watch(ctx, o)
		},
	}, &v3.WorkloadEndpoint{}, 0, cache.Indexers{podIndex: func(obj any) ([]string, error) {
		w := obj.(*v3.WorkloadEndpoint)
		return []string{w.Namespace + "/" + w.Spec.Pod}, nil
	}})
	_, _ = wepInf.AddEventHandler(handler(func(obj any) (string, bool) {
		w, ok := obj.(*v3.WorkloadEndpoint)
		return podKey(w.Namespace, w.Spec.Pod), ok
	}, c.queue))
	profileInf := cache.NewSharedIndexInformer(&cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.LabelSelector = ownSelector
			return local.ProjectcalicoV3().Profiles().List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.LabelSelector = ownSelector
			return local.ProjectcalicoV3().Profiles().Watch(ctx, o)
		},
	}, &v3.Profile{}, 0, cache.Indexers{})
	_, _ = profileInf.AddEventHandler(handler(func(obj any) (string, bool) {
		p, ok := obj.(*v3.Profile)
		if !ok || !strings.HasPrefix(p.Name, NamespaceProfile) {
			return "", false
		}
		return namespaceKey(strings.TrimPrefix(p.Name, NamespaceProfile)), true
	}, c.queue))
	c.endpoints, c.profiles = wepInf.GetIndexer(), profileInf.GetIndexer()
	c.own = []cache.SharedIndexInformer{wepInf, profileInf}
	c.synced = []cache.InformerSynced{podInf.HasSynced, nsInf.HasSynced, wepInf.HasSynced, profileInf.HasSynced}
	return c
}

// handler queues the key of every added, updated or deleted object.
func handler(key func(any) (string, bool), q workqueue.TypedInterface[string]) cache.ResourceEventHandler {
	add := func(obj any) {
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
		}
		if k, ok := key(obj); ok {
			q.Add(k)
		}
	}
	return cache.ResourceEventHandlerFuncs{AddFunc: add, UpdateFunc: func(_, obj any) { add(obj) }, DeleteFunc: add}
}

// Run runs the controller with workers until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) error {
	defer c.queue.ShutDown()
	c.factory.Start(ctx.Done())
	defer c.factory.Shutdown()
	for _, inf := range c.own {
		go inf.RunWithContext(ctx)
	}
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return fmt.Errorf("pod and endpoint caches did not sync")
	}
	klog.FromContext(ctx).Info("Pod endpoint controller started")
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
		var err error
		if rest, ok := strings.CutPrefix(key, "pod/"); ok {
			ns, name, _ := strings.Cut(rest, "/")
			err = c.syncPod(ctx, ns, name)
		} else if name, ok := strings.CutPrefix(key, "namespace/"); ok {
			err = c.syncNamespace(ctx, name)
		}
		if err != nil {
			klog.FromContext(ctx).Error(err, "Syncing", "key", key)
			c.queue.AddRateLimited(key)
		} else {
			c.queue.Forget(key)
		}
		c.queue.Done(key)
	}
}

// syncPod makes the pod's endpoints be exactly its one desired endpoint.
func (c *Controller) syncPod(ctx context.Context, ns, name string) error {
	pod, err := c.pods.Pods(ns).Get(name)
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	var want *v3.WorkloadEndpoint
	if err == nil && hasEndpoint(pod) {
		want = WorkloadEndpoint(pod)
	}
	existing, err := c.endpoints.ByIndex(podIndex, ns+"/"+name)
	if err != nil {
		return err
	}
	client := c.local.ProjectcalicoV3().WorkloadEndpoints(ns)
	var have *v3.WorkloadEndpoint
	for _, obj := range existing {
		w := obj.(*v3.WorkloadEndpoint)
		if want != nil && w.Name == want.Name {
			have = w
			continue
		}
		// A finished or deleted pod, or one rescheduled to another node.
		if err := client.Delete(ctx, w.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting WorkloadEndpoint %s/%s: %w", ns, w.Name, err)
		}
	}
	switch {
	case want == nil:
		return nil
	case have == nil:
		if _, err := client.Create(ctx, want, metav1.CreateOptions{FieldManager: fieldManager}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating WorkloadEndpoint %s/%s: %w", ns, want.Name, err)
		}
		return nil
	case apiequality.Semantic.DeepEqual(have.Spec, want.Spec) && apiequality.Semantic.DeepEqual(have.Labels, want.Labels):
		return nil
	}
	updated := have.DeepCopy()
	updated.Labels, updated.Spec, updated.OwnerReferences = want.Labels, want.Spec, want.OwnerReferences
	if _, err := client.Update(ctx, updated, metav1.UpdateOptions{FieldManager: fieldManager}); err != nil {
		return fmt.Errorf("updating WorkloadEndpoint %s/%s: %w", ns, want.Name, err)
	}
	return nil
}

// syncNamespace makes the namespace's profile match its labels.
func (c *Controller) syncNamespace(ctx context.Context, name string) error {
	ns, err := c.namespaces.Get(name)
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	profiles := c.local.ProjectcalicoV3().Profiles()
	obj, exists, err := c.profiles.GetByKey(NamespaceProfile + name)
	if err != nil {
		return err
	}
	if ns == nil || ns.DeletionTimestamp != nil {
		if exists {
			if err := profiles.Delete(ctx, NamespaceProfile+name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				return err
			}
		}
		return nil
	}
	want := NamespaceProfileFor(ns)
	if !exists {
		if _, err := profiles.Create(ctx, want, metav1.CreateOptions{FieldManager: fieldManager}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating Profile %s: %w", want.Name, err)
		}
		return nil
	}
	have := obj.(*v3.Profile)
	if apiequality.Semantic.DeepEqual(have.Spec, want.Spec) {
		return nil
	}
	updated := have.DeepCopy()
	updated.Spec = want.Spec
	_, err = profiles.Update(ctx, updated, metav1.UpdateOptions{FieldManager: fieldManager})
	return err
}
