// Package controller runs Multi-Cluster Services (KEP-1645) in
// meshapi-controller: it reads the ServiceExports, Services and
// EndpointSlices of the local cluster and, through pkg/remotecluster, of
// every remote cluster of the mesh, computes with pkg/mcs what they
// amount to, and writes in the local cluster the ServiceImports, their
// derived Services (the ClusterSetIP), one EndpointSlice per source
// cluster and the conditions of the local ServiceExports.
package controller

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	mcsv1alpha1 "sigs.k8s.io/mcs-api/pkg/apis/v1alpha1"
	mcsclientset "sigs.k8s.io/mcs-api/pkg/client/clientset/versioned"
	mcsinformers "sigs.k8s.io/mcs-api/pkg/client/informers/externalversions"
	mcslisters "sigs.k8s.io/mcs-api/pkg/client/listers/apis/v1alpha1"

	"github.com/meshapi/meshapi/pkg/mcs"
	"github.com/meshapi/meshapi/pkg/remotecluster"
)

// RemoteSource gives the Services, EndpointSlices and ServiceExports of
// the remote clusters; remotecluster.Controller is one.
type RemoteSource interface {
	// RemoteServices returns every remote cluster, synced or not.
	RemoteServices() []remotecluster.RemoteServices
	// HasSynced reports whether RemoteServices knows every remote cluster.
	HasSynced() bool
}

// Config is what the controller needs besides its clients.
type Config struct {
	// ClusterID is this cluster's id in the ClusterSet. Empty: read the
	// ClusterProperty cluster.clusterset.k8s.io; set: create that
	// ClusterProperty when absent, and refuse to run when it differs.
	ClusterID string
}

// Controller writes the ServiceImports of the local cluster.
type Controller struct {
	kube    kubernetes.Interface
	mcs     mcsclientset.Interface
	dyn     dynamic.Interface
	remotes RemoteSource
	cfg     Config
	metrics *Metrics
	// id is the local cluster's id, set by Run before the workers start.
	id string

	kubeFactory informers.SharedInformerFactory
	mcsFactory  mcsinformers.SharedInformerFactory
	services    corelisters.ServiceLister
	slices      cache.Indexer
	exports     mcslisters.ServiceExportLister
	imports     mcslisters.ServiceImportLister
	synced      []cache.InformerSynced
	queue       workqueue.TypedRateLimitingInterface[string]
}

// New returns the controller of the local cluster behind kube, mcs and
// dyn (ClusterProperty), reading remote clusters from remotes.
func New(kube kubernetes.Interface, mcsClient mcsclientset.Interface, dyn dynamic.Interface, remotes RemoteSource, cfg Config, metrics *Metrics) *Controller {
	kf := informers.NewSharedInformerFactory(kube, 0)
	mf := mcsinformers.NewSharedInformerFactory(mcsClient, 0)
	svcInf := kf.Core().V1().Services().Informer()
	sliceInf := kf.Discovery().V1().EndpointSlices().Informer()
	_ = sliceInf.AddIndexers(cache.Indexers{remotecluster.SliceServiceIndex: func(obj any) ([]string, error) {
		s, ok := obj.(*discoveryv1.EndpointSlice)
		if !ok {
			return nil, nil
		}
		return []string{s.Namespace + "/" + s.Labels[discoveryv1.LabelServiceName]}, nil
	}})
	expInf := mf.Multicluster().V1alpha1().ServiceExports().Informer()
	impInf := mf.Multicluster().V1alpha1().ServiceImports().Informer()
	c := &Controller{
		kube: kube, mcs: mcsClient, dyn: dyn, remotes: remotes, cfg: cfg, metrics: metrics,
		kubeFactory: kf, mcsFactory: mf,
		services: kf.Core().V1().Services().Lister(), slices: sliceInf.GetIndexer(),
		exports: mf.Multicluster().V1alpha1().ServiceExports().Lister(),
		imports: mf.Multicluster().V1alpha1().ServiceImports().Lister(),
		synced:  []cache.InformerSynced{svcInf.HasSynced, sliceInf.HasSynced, expInf.HasSynced, impInf.HasSynced},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "mcs-service-imports"}),
	}
	byKey := handler(func(obj any) {
		if o, ok := obj.(interface {
			GetNamespace() string
			GetName() string
		}); ok {
			c.queue.Add(o.GetNamespace() + "/" + o.GetName())
		}
	})
	_, _ = expInf.AddEventHandler(byKey)
	_, _ = impInf.AddEventHandler(byKey)
	_, _ = svcInf.AddEventHandler(handler(c.serviceChanged))
	_, _ = sliceInf.AddEventHandler(handler(c.sliceChanged))
	metrics.watch(c)
	return c
}

// handler calls f with the object of every event (the last state for a
// deletion).
func handler(f func(any)) cache.ResourceEventHandlerFuncs {
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    f,
		UpdateFunc: func(_, obj any) { f(obj) },
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			f(obj)
		},
	}
}

// serviceChanged queues the import an exported or derived Service is for.
func (c *Controller) serviceChanged(obj any) {
	s, ok := obj.(*corev1.Service)
	if !ok {
		return
	}
	if name := s.Labels[mcsv1alpha1.LabelServiceName]; name != "" && s.Labels[mcs.LabelManagedBy] == mcs.ManagedBy {
		c.queue.Add(s.Namespace + "/" + name)
		return
	}
	c.queueIfExported(s.Namespace, s.Name)
}

// sliceChanged queues the import a slice is written for, or the export
// of the Service it belongs to.
func (c *Controller) sliceChanged(obj any) {
	s, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok {
		return
	}
	if s.Labels[discoveryv1.LabelManagedBy] == mcs.ManagedBy {
		c.queue.Add(s.Namespace + "/" + s.Labels[mcsv1alpha1.LabelServiceName])
		return
	}
	c.queueIfExported(s.Namespace, s.Labels[discoveryv1.LabelServiceName])
}

// queueIfExported queues namespace/name if it is exported here.
func (c *Controller) queueIfExported(namespace, name string) {
	if name == "" {
		return
	}
	if _, err := c.exports.ServiceExports(namespace).Get(name); err == nil {
		c.queue.Add(namespace + "/" + name)
	}
}

// ClusterChanged re-evaluates every import and export after a remote
// cluster's Services, EndpointSlices, ServiceExports or connection
// changed.
func (c *Controller) ClusterChanged(string) {
	for key := range c.keys() {
		c.queue.AddAfter(key, 200*time.Millisecond)
	}
}

// keys are the namespace/names exported somewhere or imported here.
func (c *Controller) keys() sets.Set[string] {
	keys := sets.New[string]()
	if exps, err := c.exports.List(labels.Everything()); err == nil {
		for _, e := range exps {
			keys.Insert(e.Namespace + "/" + e.Name)
		}
	}
	if imps, err := c.imports.List(labels.Everything()); err == nil {
		for _, i := range imps {
			keys.Insert(i.Namespace + "/" + i.Name)
		}
	}
	for _, r := range c.remotes.RemoteServices() {
		if r.Exports != nil {
			keys.Insert(r.Exports.ListKeys()...)
		}
	}
	return keys
}

// Run runs the controller until ctx ends: it waits for the local cluster
// to serve the MCS CRDs and to have a cluster id, then reconciles.
func (c *Controller) Run(ctx context.Context, workers int) error {
	defer c.queue.ShutDown()
	logger := klog.FromContext(ctx)
	if err := c.waitServed(ctx); err != nil {
		return ignoreCanceled(ctx, err)
	}
	id, err := c.clusterID(ctx)
	if err != nil {
		return ignoreCanceled(ctx, err)
	}
	c.id = id
	c.kubeFactory.Start(ctx.Done())
	c.mcsFactory.Start(ctx.Done())
	defer c.kubeFactory.Shutdown()
	defer c.mcsFactory.Shutdown()
	// The remote clusters must be known too: a cluster missing from
	// RemoteServices has its slices removed.
	if !cache.WaitForCacheSync(ctx.Done(), append(c.synced, c.remotes.HasSynced)...) {
		return fmt.Errorf("multi-cluster service caches did not sync")
	}
	logger.Info("Multi-cluster service controller started", "clusterID", c.id)
	c.ClusterChanged("")
	for i := 0; i < workers; i++ {
		go wait.UntilWithContext(ctx, c.worker, time.Second)
	}
	<-ctx.Done()
	return nil
}

// ignoreCanceled drops the error of a wait that ended with ctx.
func ignoreCanceled(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

func (c *Controller) worker(ctx context.Context) {
	for {
		key, shutdown := c.queue.Get()
		if shutdown {
			return
		}
		if err := c.reconcile(ctx, key); err != nil {
			klog.FromContext(ctx).Error(err, "Importing multi-cluster service", "serviceImport", key)
			c.metrics.syncs.WithLabelValues("error").Inc()
			c.queue.AddRateLimited(key)
		} else {
			c.metrics.syncs.WithLabelValues("success").Inc()
			c.queue.Forget(key)
		}
		c.queue.Done(key)
	}
}
