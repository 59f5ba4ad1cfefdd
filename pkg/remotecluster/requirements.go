package remotecluster

import (
	"sort"
	"strings"
	"time"

	"k8s.io/client-go/tools/cache"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/meshcheck"
)

// requirementKinds are the kinds the mesh's requirements compare.
var requirementKinds = map[string]bool{"Node": true, "IPPool": true, "FelixConfiguration": true}

// clusterView builds a meshcheck view from objects of each kind (own
// objects of the local cluster, or the mirrors of one remote cluster).
func clusterView(name string, objs map[string][]any) meshcheck.ClusterView {
	var pools []*v3.IPPool
	var nodes []*v3.Node
	var felix []*v3.FelixConfiguration
	for _, obj := range objs["IPPool"] {
		pools = append(pools, obj.(*v3.IPPool))
	}
	for _, obj := range objs["Node"] {
		nodes = append(nodes, obj.(*v3.Node))
	}
	for _, obj := range objs["FelixConfiguration"] {
		felix = append(felix, obj.(*v3.FelixConfiguration))
	}
	return meshcheck.BuildView(name, pools, nodes, felix)
}

// requirements evaluates the mesh's requirements between this cluster and
// every remote cluster with overlay routing, and returns the violations by
// remote cluster name.
func (c *Controller) requirements() (map[string][]meshcheck.Violation, map[string]bool) {
	local := map[string][]any{}
	byCluster := map[string]map[string][]any{}
	for i, k := range c.kinds {
		if !requirementKinds[k.Name()] {
			continue
		}
		local[k.Name()] = c.own[i].List()
		for _, cluster := range c.mirrors[i].ListIndexFuncValues(ClusterIndex) {
			objs, _ := c.mirrors[i].ByIndex(ClusterIndex, cluster)
			if byCluster[cluster] == nil {
				byCluster[cluster] = map[string][]any{}
			}
			byCluster[cluster][k.Name()] = objs
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
	c.own = make([]cache.Indexer, len(c.kinds))
	for i, k := range c.kinds {
		if !requirementKinds[k.Name()] {
			continue
		}
		inf := cache.NewSharedIndexInformer(k.RemoteListWatch(c.local), k.Example(), 0, cache.Indexers{})
		kind := i
		_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { c.recheckRequirements(); c.guardInputChanged(kind, obj) },
			UpdateFunc: func(_, obj any) { c.recheckRequirements(); c.guardInputChanged(kind, obj) },
			DeleteFunc: func(obj any) { c.recheckRequirements(); c.guardInputChanged(kind, obj) },
		})
		c.own[i] = inf.GetIndexer()
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
