package remotecluster

import (
	"context"
	"fmt"
	"sync"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
	mcsv1alpha1 "sigs.k8s.io/mcs-api/pkg/apis/v1alpha1"
	mcsclientset "sigs.k8s.io/mcs-api/pkg/client/clientset/versioned"
	mcsinformers "sigs.k8s.io/mcs-api/pkg/client/informers/externalversions"
)

// SliceServiceIndex indexes EndpointSlices by "<namespace>/<service>".
const SliceServiceIndex = "service"

// RemoteServices are a remote cluster's Services and EndpointSlices as its
// syncer last saw them, for federated Services. Like the mirror, they are
// kept through an outage.
type RemoteServices struct {
	// Cluster is the RemoteClusterConfiguration's name.
	Cluster string
	// Synced is false while the cluster's Services and EndpointSlices have
	// not been listed since its syncer (re)started, or no syncer runs for
	// its RCC (just created, restarting, misconfigured): what was written
	// from the cluster before must then be kept, not taken for empty.
	// Services and Slices are nil then.
	Synced bool
	// Services indexes the remote Services by namespace.
	Services cache.Indexer
	// Slices indexes the remote EndpointSlices by SliceServiceIndex.
	Slices cache.Indexer
	// FailedSince is when the connection failed, zero while it works.
	FailedSince time.Time
	// ExportsSynced is true once the remote ServiceExports
	// (multicluster.x-k8s.io/v1alpha1) have been listed, or the remote
	// was found not to serve them; while false, what was imported from
	// the cluster must be kept.
	ExportsSynced bool
	// Exports indexes the remote ServiceExports by namespace/name; nil
	// when the remote serves no ServiceExports (no MCS CRDs installed
	// there): it exports nothing.
	Exports cache.Indexer
	// Expired is true once the cluster was disconnected for longer than
	// its spec.syncOptions.disconnectedTTL and its mirror was removed,
	// until it reconnects: its Services and EndpointSlices must go too,
	// not be kept as last known.
	Expired bool
}

// serviceInformers are a syncer's informers on the remote Services and
// EndpointSlices (kubernetes datastore only), and on its ServiceExports.
type serviceInformers struct {
	services, slices cache.SharedIndexInformer
	exports          *exportInformer
}

// startServiceInformers watches the remote cluster's Services and
// EndpointSlices, and through exports its ServiceExports, and calls
// changed on every event.
func startServiceInformers(ctx context.Context, kube kubernetes.Interface, exports mcsclientset.Interface, changed func()) (*serviceInformers, []cache.InformerSynced) {
	f := informers.NewSharedInformerFactory(kube, 0)
	svc := f.Core().V1().Services().Informer()
	slices := f.Discovery().V1().EndpointSlices().Informer()
	_ = svc.AddIndexers(cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	_ = slices.AddIndexers(cache.Indexers{SliceServiceIndex: func(obj any) ([]string, error) {
		s, ok := obj.(*discoveryv1.EndpointSlice)
		if !ok {
			return nil, nil
		}
		return []string{s.Namespace + "/" + s.Labels[discoveryv1.LabelServiceName]}, nil
	}})
	h := cache.ResourceEventHandlerFuncs{AddFunc: func(any) { changed() }, UpdateFunc: func(any, any) { changed() }, DeleteFunc: func(any) { changed() }}
	_, _ = svc.AddEventHandler(h)
	_, _ = slices.AddEventHandler(h)
	f.Start(ctx.Done())
	go func() { <-ctx.Done(); f.Shutdown() }()
	inf := &serviceInformers{services: svc, slices: slices}
	if exports != nil {
		inf.exports = startExportInformer(ctx, kube.Discovery(), exports, h)
	}
	return inf, []cache.InformerSynced{svc.HasSynced, slices.HasSynced}
}

// exportCheckPeriod is how often a remote cluster that serves no
// ServiceExports is asked again whether it does.
const exportCheckPeriod = 30 * time.Second

// exportInformer watches a remote cluster's ServiceExports once it serves
// them. A remote without the MCS CRDs is not an error: it exports
// nothing, and is asked again every exportCheckPeriod.
type exportInformer struct {
	mu sync.Mutex
	// known is set once discovery answered, served with what it said.
	known, served bool
	informer      cache.SharedIndexInformer
}

// startExportInformer starts the loop that asks disco whether the remote
// serves ServiceExports and, once it does, watches them with handler.
func startExportInformer(ctx context.Context, disco discovery.DiscoveryInterface, client mcsclientset.Interface, handler cache.ResourceEventHandler) *exportInformer {
	e := &exportInformer{}
	go wait.UntilWithContext(ctx, func(ctx context.Context) {
		e.mu.Lock()
		running := e.informer != nil
		e.mu.Unlock()
		if running {
			return
		}
		served, err := servesServiceExports(disco)
		if err != nil {
			klog.FromContext(ctx).V(2).Info("Asking the remote cluster whether it serves ServiceExports", "err", err)
			return
		}
		if !served {
			e.mu.Lock()
			changed := !e.known || e.served
			e.known, e.served = true, false
			e.mu.Unlock()
			if changed {
				handler.OnAdd(nil, false) // "exports nothing" is news too
			}
			return
		}
		f := mcsinformers.NewSharedInformerFactory(client, 0)
		inf := f.Multicluster().V1alpha1().ServiceExports().Informer()
		_, _ = inf.AddEventHandler(handler)
		e.mu.Lock()
		e.known, e.served, e.informer = true, true, inf
		e.mu.Unlock()
		f.Start(ctx.Done())
		go func() { <-ctx.Done(); f.Shutdown() }()
		// Events of the initial list come before HasSynced: tell again
		// once the exports can be read.
		if cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
			handler.OnAdd(nil, false)
		}
	}, exportCheckPeriod)
	return e
}

// servesServiceExports asks discovery whether the cluster serves
// multicluster.x-k8s.io/v1alpha1 serviceexports.
func servesServiceExports(disco discovery.DiscoveryInterface) (bool, error) {
	list, err := disco.ServerResourcesForGroupVersion(mcsv1alpha1.GroupVersion.String())
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("discovering %s: %w", mcsv1alpha1.GroupVersion, err)
	}
	for _, r := range list.APIResources {
		if r.Name == mcsv1alpha1.ServiceExportPluralName {
			return true, nil
		}
	}
	return false, nil
}

// state returns whether the exports are known (listed, or known not
// served) and their index, nil when not served.
func (e *exportInformer) state() (bool, cache.Indexer) {
	if e == nil {
		return false, nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case !e.known:
		return false, nil
	case !e.served:
		return true, nil
	case !e.informer.HasSynced():
		return false, nil
	}
	return true, e.informer.GetIndexer()
}

// RemoteServices returns the Services and EndpointSlices of every remote
// cluster with an RCC: Synced once its syncer's informers have listed
// them, not Synced while no syncer (or one that has not listed yet) reads
// them. Clusters whose syncer reads no Services (etcdv3) are left out.
func (c *Controller) RemoteServices() []RemoteServices {
	names := c.rccs.ListKeys()
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]RemoteServices, 0, len(names))
	for _, name := range names {
		r := c.running[name]
		expired := c.stale[name].expired
		if r == nil || r.syncer == nil {
			out = append(out, RemoteServices{Cluster: name, Expired: expired})
			continue
		}
		if r.syncer.kube == nil {
			continue // no Kubernetes API to read Services from
		}
		inf := r.syncer.serviceInformers()
		if inf == nil || !inf.services.HasSynced() || !inf.slices.HasSynced() {
			out = append(out, RemoteServices{Cluster: name, Expired: expired})
			continue
		}
		exportsSynced, exports := inf.exports.state()
		out = append(out, RemoteServices{
			Cluster: name, Synced: true, Services: inf.services.GetIndexer(), Slices: inf.slices.GetIndexer(),
			FailedSince: r.syncer.failedSince(), ExportsSynced: exportsSynced, Exports: exports, Expired: expired,
		})
	}
	return out
}

// HasSynced reports whether the controller's caches (the RCCs and the
// mirror) have listed once, so that RemoteServices names every cluster.
func (c *Controller) HasSynced() bool {
	for _, inf := range c.informer {
		if !inf.HasSynced() {
			return false
		}
	}
	return true
}

// OnServicesChanged sets the function called, with the cluster's name,
// whenever a remote cluster's Services or EndpointSlices change, its
// connection fails or recovers, or its syncer stops. Set it before Run.
func (c *Controller) OnServicesChanged(f func(cluster string)) {
	c.servicesChanged = f
}

// serviceInformers returns the syncer's Service informers, nil before Run
// starts them or for an etcdv3 datastore.
func (s *Syncer) serviceInformers() *serviceInformers {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.services
}
