package remotecluster

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/meshguard"
)

// Reasons of the MirrorRefused condition.
const (
	reasonRefused     = "RemoteObjectsRefused"
	reasonNoneRefused = "NoneRefused"
	// refusalsInMessage bounds the refusals a condition message lists.
	refusalsInMessage = 5
)

// admission is what a syncer checks its remote objects against: the
// guard (local pools and nodes, other remote clusters' admitted pools and
// nodes, this cluster's admitted pools) and this cluster's refused pools.
type admission struct {
	guard        *meshguard.Guard
	refusedPools map[string]*meshguard.Refusal
}

// admit checks one remote object of the syncer's cluster, as decoded (not
// as the syncer's cache keeps it: mirrorKind.RemoteObject); nil admits
// it. Only objects that can steer traffic are checked: pools, blocks,
// endpoint addresses and nodes.
func (a *admission) admit(cluster string, obj runtime.Object) *meshguard.Refusal {
	switch o := obj.(type) {
	case *v3.IPPool:
		return a.refusedPools[o.Name]
	case *v3.IPAMBlock:
		_, r := a.guard.PrefixString(cluster, "IPAMBlock", o.Name, "spec.cidr", o.Spec.CIDR)
		return r
	case *v3.WorkloadEndpoint:
		for _, s := range o.Spec.IPNetworks {
			if _, r := a.guard.PrefixString(cluster, "WorkloadEndpoint", o.Namespace+"/"+o.Name, "spec.ipNetworks", s); r != nil {
				return r
			}
		}
	case *v3.Node:
		return a.guard.CheckNode(meshguard.NodeOf(cluster, o.Name, o))
	}
	return nil
}

// newGuard returns a guard for the remote cluster named cluster: the local
// cluster's own pools and nodes, and the mirrored pools and nodes of every
// other remote cluster, admitted in cluster name order.
func (c *Controller) newGuard(cluster string) *meshguard.Guard {
	pools, nodes := kindNamed(c.kinds, "IPPool"), kindNamed(c.kinds, "Node")
	g := meshguard.New(typed[*v3.IPPool](pools.own.List()), typed[*v3.Node](nodes.own.List()))
	others := slices.Sorted(slices.Values(pools.mirrors.ListIndexFuncValues(ClusterIndex)))
	for _, other := range others {
		if other == cluster {
			continue
		}
		objs, _ := pools.mirrors.ByIndex(ClusterIndex, other)
		g.AdmitPools(other, typed[*v3.IPPool](objs))
	}
	var ids []meshguard.NodeID
	for _, other := range nodes.mirrors.ListIndexFuncValues(ClusterIndex) {
		if other == cluster {
			continue
		}
		objs, _ := nodes.mirrors.ByIndex(ClusterIndex, other)
		for _, n := range typed[*v3.Node](objs) {
			ids = append(ids, meshguard.NodeOf(other, v3.NameInOwnCluster(n.Annotations, n.Name), n))
		}
	}
	slices.SortFunc(ids, func(a, b meshguard.NodeID) int {
		return cmp.Or(cmp.Compare(a.Cluster, b.Cluster), cmp.Compare(a.Name, b.Name))
	})
	for _, n := range ids {
		g.AdmitNode(n)
	}
	return g
}

// typed converts informer objects to T, skipping others.
func typed[T any](objs []any) []T {
	out := make([]T, 0, len(objs))
	for _, o := range objs {
		if t, ok := o.(T); ok {
			out = append(out, t)
		}
	}
	return out
}

// guardInputChanged is called on a change of a local or mirrored pool or
// node: the syncers of the other clusters check their refused objects
// again (a refusal may no longer hold, e.g. after a clash was removed).
func (c *Controller) guardInputChanged(k *kind, obj any) {
	if !k.GuardInput() {
		return
	}
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	if o, err := meta.Accessor(obj); err == nil {
		cluster := o.GetLabels()[v3.LabelCluster]
		c.mu.Lock()
		syncers := make([]*Syncer, 0, len(c.running))
		for n, r := range c.running {
			if r.syncer != nil && n != cluster {
				syncers = append(syncers, r.syncer)
			}
		}
		c.mu.Unlock()
		for _, s := range syncers {
			s.invalidateAdmission()
		}
	}
}

// refusalCondition sets the MirrorRefused condition from the refusals of
// the running syncer of rcc (unchanged when none runs).
func (c *Controller) refusalCondition(rcc *v3.RemoteClusterConfiguration, status *v3.RemoteClusterConfigurationStatus) {
	c.mu.Lock()
	r := c.running[rcc.Name]
	c.mu.Unlock()
	if r == nil || r.syncer == nil {
		return
	}
	refusals := r.syncer.refusals()
	if len(refusals) == 0 {
		if meta.FindStatusCondition(status.Conditions, v3.RemoteClusterConditionMirrorRefused) != nil {
			setCondition(&status.Conditions, v3.RemoteClusterConditionMirrorRefused, metav1.ConditionFalse, reasonNoneRefused,
				"every mirrored object lies inside what the remote cluster owns", rcc.Generation)
		}
		return
	}
	msg := fmt.Sprintf("%d remote object(s) not mirrored, as they claim what the remote cluster does not own: %s",
		len(refusals), meshguard.Summary(refusals, refusalsInMessage))
	setCondition(&status.Conditions, v3.RemoteClusterConditionMirrorRefused, metav1.ConditionTrue, reasonRefused, msg, rcc.Generation)
}

// refused records a new or changed refusal of a remote object of cluster
// as a Warning Event on its RCC and a log line, and queues the status
// (nil: a refusal went away).
func (c *Controller) refused(ctx context.Context, cluster string, r *meshguard.Refusal) {
	if r != nil {
		klog.FromContext(ctx).Info("Refusing to mirror a remote object", "remoteCluster", cluster,
			"kind", r.Kind, "name", r.Name, "reason", r.Reason, "detail", r.Detail)
		c.metrics.errors.WithLabelValues(cluster).Inc()
		if obj, exists, _ := c.rccs.GetByKey(cluster); exists {
			c.recorder.Event(obj.(*v3.RemoteClusterConfiguration), corev1.EventTypeWarning, "MirrorRefused", r.Error())
		}
	}
	c.statusQueue.AddAfter(cluster, statusDelay)
}
