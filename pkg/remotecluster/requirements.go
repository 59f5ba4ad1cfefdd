package remotecluster

import (
	"sort"
	"strings"
	"time"

	"k8s.io/client-go/tools/cache"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/meshcheck"
)

// clusterView builds a meshcheck view from the objects of the requirement
// inputs (own objects of the local cluster, or the mirrors of one remote
// cluster).
func clusterView(name string, objs []any) meshcheck.ClusterView {
	return meshcheck.BuildView(name, typed[*v3.IPPool](objs), typed[*v3.Node](objs), typed[*v3.FelixConfiguration](objs))
}

// requirements evaluates the mesh's requirements between this cluster and
// every remote cluster with overlay routing, and returns the violations by
// remote cluster name.
func (c *Controller) requirements() (map[string][]meshcheck.Violation, map[string]bool) {
	var local []any
	byCluster := map[string][]any{}
	for _, k := range c.kinds {
		if !k.RequirementInput() {
			continue
		}
		local = append(local, k.own.List()...)
		for _, cluster := range k.mirrors.ListIndexFuncValues(ClusterIndex) {
			objs, _ := k.mirrors.ByIndex(ClusterIndex, cluster)
			byCluster[cluster] = append(byCluster[cluster], objs...)
		}
	}
	overlay := map[string]bool{}
	var remotes []meshcheck.ClusterView
	for _, obj := range c.rccs.List() {
		rcc := obj.(*v3.RemoteClusterConfiguration)
		// A remote whose mirror has never synced is unknown, not empty.
		if rcc.Spec.SyncOptions.OverlayRoutingMode != v3.OverlayRoutingModeEnabled || !c.hasSynced(rcc.Name) {
			continue
		}
		overlay[rcc.Name] = true
		remotes = append(remotes, clusterView(rcc.Name, byCluster[rcc.Name]))
	}
	sort.Slice(remotes, func(i, j int) bool { return remotes[i].Name < remotes[j].Name })
	all := meshcheck.Check(clusterView("", local), remotes)
	out := map[string][]meshcheck.Violation{}
	for name := range overlay {
		out[name] = meshcheck.ViolationsFor(name, all)
	}
	return out, overlay
}

// requirementsMessage joins violations into a condition message.
func requirementsMessage(vs []meshcheck.Violation) string {
	msgs := make([]string, 0, len(vs))
	for _, v := range vs {
		msgs = append(msgs, v.Message)
	}
	return strings.Join(msgs, "; ")
}

// watchRequirementInputs starts informers on the local cluster's own
// nodes, pools and FelixConfiguration, and re-evaluates every RCC's
// requirements when they or the mirrors of those kinds change.
func (c *Controller) watchRequirementInputs() {
	for _, k := range c.kinds {
		if !k.RequirementInput() {
			continue
		}
		inf := cache.NewSharedIndexInformer(k.RemoteListWatch(c.local), k.Example(), 0, cache.Indexers{})
		_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { c.recheckRequirements(); c.guardInputChanged(k, obj) },
			UpdateFunc: func(_, obj any) { c.recheckRequirements(); c.guardInputChanged(k, obj) },
			DeleteFunc: func(obj any) { c.recheckRequirements(); c.guardInputChanged(k, obj) },
		})
		k.own = inf.GetIndexer()
		c.informer = append(c.informer, inf)
	}
}

// recheckRequirements queues every RCC's status for a fresh evaluation.
func (c *Controller) recheckRequirements() {
	for _, key := range c.rccs.ListKeys() {
		c.statusQueue.AddAfter(key, time.Second)
	}
}

// hasSynced reports whether the mirror of cluster has been in sync at
// least once since the controller started.
func (c *Controller) hasSynced(cluster string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.running[cluster]
	return r != nil && r.lastSync != nil
}
