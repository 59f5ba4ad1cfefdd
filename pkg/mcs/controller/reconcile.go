package controller

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/cache"
	mcsv1alpha1 "sigs.k8s.io/mcs-api/pkg/apis/v1alpha1"

	"github.com/meshapi/meshapi/pkg/mcs"
	"github.com/meshapi/meshapi/pkg/remotecluster"
)

// observed is what the clusters of the mesh say about one namespace/name.
type observed struct {
	// local is the local ServiceExport, nil when not exported here.
	local *mcsv1alpha1.ServiceExport
	// exports are every cluster's exports, the local one included.
	exports []mcs.Export
	// slices are, per exporting cluster, its exported Service's slices.
	slices map[string][]*discoveryv1.EndpointSlice
	// unknown are the remote clusters whose exports are not known now
	// (not listed since their syncer (re)started): their slices are kept.
	unknown map[string]bool
}

// reconcile makes the import of one namespace/name what the exports of
// every cluster amount to, and sets the local export's conditions.
func (c *Controller) reconcile(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return err
	}
	obs, err := c.observe(ns, name)
	if err != nil {
		return err
	}
	res := mcs.Compute(obs.exports)
	if obs.local != nil {
		if err := c.setExportConditions(ctx, obs.local, res.Conditions[c.id]); err != nil {
			return err
		}
	}
	kept := c.keptSlices(ns, name, obs.unknown)
	switch {
	case res.Import == nil && len(kept) == 0:
		return c.removeImport(ctx, ns, name)
	case res.Import == nil:
		return nil // only clusters not known now export it: keep the import as it is
	}
	imp, err := c.applyImport(ctx, ns, name, res)
	if err != nil || imp == nil {
		return err
	}
	want := kept
	for _, cluster := range res.Sources {
		src := mcs.Source{Cluster: cluster, Local: cluster == c.id, Slices: obs.slices[cluster]}
		want = append(want, mcs.Slices(ns, name, imp.Spec.Type, src)...)
	}
	return c.applySlices(ctx, imp, want)
}

// observe gathers the exports of namespace/name in every cluster.
func (c *Controller) observe(ns, name string) (*observed, error) {
	obs := &observed{slices: map[string][]*discoveryv1.EndpointSlice{}, unknown: map[string]bool{}}
	se, err := c.exports.ServiceExports(ns).Get(name)
	switch {
	case err == nil:
		obs.local = se
		svc, err := c.services.Services(ns).Get(name)
		if err != nil && !apierrors.IsNotFound(err) {
			return nil, err
		}
		if err != nil {
			svc = nil
		}
		obs.exports = append(obs.exports, mcs.Export{Cluster: c.id, Created: se.CreationTimestamp.Time, Service: svc})
		obs.slices[c.id] = exportedSlices(c.slices, ns, name)
	case !apierrors.IsNotFound(err):
		return nil, err
	}
	for _, r := range c.remotes.RemoteServices() {
		if r.Cluster == c.id {
			continue // a mirror of ourselves is not another cluster
		}
		if r.Expired {
			// Disconnected for longer than its disconnectedTTL: its
			// exports and endpoints go, as its mirror did, until it
			// reconnects.
			continue
		}
		if !r.Synced || !r.ExportsSynced {
			obs.unknown[r.Cluster] = true
			continue
		}
		if err := obs.addRemote(r, ns, name); err != nil {
			return nil, err
		}
	}
	return obs, nil
}

// addRemote adds a synced remote cluster's export of ns/name, if any.
func (o *observed) addRemote(r remotecluster.RemoteServices, ns, name string) error {
	if r.Exports == nil {
		return nil // the cluster serves no ServiceExports: it exports nothing
	}
	obj, exists, err := r.Exports.GetByKey(ns + "/" + name)
	if err != nil || !exists {
		return err
	}
	se, ok := obj.(*mcsv1alpha1.ServiceExport)
	if !ok {
		return fmt.Errorf("remote cluster %s: ServiceExport %s/%s is a %T", r.Cluster, ns, name, obj)
	}
	var svc *corev1.Service
	if obj, exists, err := r.Services.GetByKey(ns + "/" + name); err != nil {
		return err
	} else if exists {
		svc, _ = obj.(*corev1.Service)
	}
	o.exports = append(o.exports, mcs.Export{Cluster: r.Cluster, Created: se.CreationTimestamp.Time, Service: svc})
	o.slices[r.Cluster] = exportedSlices(r.Slices, ns, name)
	return nil
}

// exportedSlices are the EndpointSlices of Service ns/name in an index by
// remotecluster.SliceServiceIndex, leaving out the ones MCS wrote.
func exportedSlices(idx cache.Indexer, ns, name string) []*discoveryv1.EndpointSlice {
	objs, _ := idx.ByIndex(remotecluster.SliceServiceIndex, ns+"/"+name)
	var out []*discoveryv1.EndpointSlice
	for _, obj := range objs {
		if s, ok := obj.(*discoveryv1.EndpointSlice); ok && s.Labels[discoveryv1.LabelManagedBy] != mcs.ManagedBy {
			out = append(out, s)
		}
	}
	return out
}

// managedSlices are the EndpointSlices written for the import ns/name.
func (c *Controller) managedSlices(ns, name string) []*discoveryv1.EndpointSlice {
	objs, _ := c.slices.ByIndex(remotecluster.SliceServiceIndex, ns+"/"+mcs.DerivedName(ns, name))
	var out []*discoveryv1.EndpointSlice
	for _, obj := range objs {
		if s, ok := obj.(*discoveryv1.EndpointSlice); ok && s.Labels[discoveryv1.LabelManagedBy] == mcs.ManagedBy {
			out = append(out, s)
		}
	}
	return out
}

// keptSlices are the written slices of the clusters not known now, kept
// as last seen (as federated Services keep a disconnected cluster's).
func (c *Controller) keptSlices(ns, name string, unknown map[string]bool) []*discoveryv1.EndpointSlice {
	var out []*discoveryv1.EndpointSlice
	for _, s := range c.managedSlices(ns, name) {
		if unknown[s.Labels[mcsv1alpha1.LabelSourceCluster]] {
			out = append(out, s.DeepCopy())
		}
	}
	return out
}
