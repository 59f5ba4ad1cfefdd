package remotecluster

import (
	"context"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
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
	// Expired is true once the cluster was disconnected for longer than
	// its spec.syncOptions.disconnectedTTL and its mirror was removed,
	// until it reconnects: its Services and EndpointSlices must go too,
	// not be kept as last known.
	Expired bool
}

// serviceInformers are a syncer's informers on the remote Services and
// EndpointSlices (kubernetes datastore only).
type serviceInformers struct {
	services, slices cache.SharedIndexInformer
}

// startServiceInformers watches the remote cluster's Services and
// EndpointSlices and calls changed on every event.
func startServiceInformers(ctx context.Context, kube kubernetes.Interface, changed func()) (*serviceInformers, []cache.InformerSynced) {
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
	return &serviceInformers{services: svc, slices: slices}, []cache.InformerSynced{svc.HasSynced, slices.HasSynced}
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
		out = append(out, RemoteServices{
			Cluster: name, Synced: true, Services: inf.services.GetIndexer(), Slices: inf.slices.GetIndexer(),
			FailedSince: r.syncer.failedSince(), Expired: expired,
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
