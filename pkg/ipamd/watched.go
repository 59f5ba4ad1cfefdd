package ipamd

import (
	"context"
	"fmt"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/generated/clientset/versioned"
	informers "github.com/meshapi/meshapi/pkg/generated/informers/externalversions"
	listers "github.com/meshapi/meshapi/pkg/generated/listers/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/ipam"
)

// watched is the service's watch-fed view of what every batch reads
// besides the blocks: the IPPools, the IPAMConfiguration and
// FelixConfiguration "default" (the pod MTU), and the node's own Node
// (the pools' nodeSelectors). It is the allocator's ipam.ConfigCache, so
// that a batch costs the API server its block writes and nothing else.
type watched struct {
	all, own    informers.SharedInformerFactory // own: the node's Node only
	pools       listers.IPPoolLister
	ipamConfigs listers.IPAMConfigurationLister
	felix       listers.FelixConfigurationLister
	nodes       listers.NodeLister
	informers   []kindInformer
	synced      chan struct{} // closed once every informer has synced
}

// kindInformer is an informer and the kind it watches.
type kindInformer struct {
	kind string
	cache.SharedIndexInformer
}

var _ ipam.ConfigCache = (*watched)(nil)

// newWatched makes (does not start) the informers of node's view.
func newWatched(cs versioned.Interface, node string) *watched {
	all := informers.NewSharedInformerFactory(cs, 0)
	own := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.FieldSelector = fields.OneTermEqualSelector("metadata.name", node).String()
	}))
	pc, oc := all.Projectcalico().V3(), own.Projectcalico().V3()
	return &watched{
		all: all, own: own,
		pools: pc.IPPools().Lister(), ipamConfigs: pc.IPAMConfigurations().Lister(),
		felix: pc.FelixConfigurations().Lister(), nodes: oc.Nodes().Lister(),
		informers: []kindInformer{
			{"IPPools", pc.IPPools().Informer()}, {"IPAMConfigurations", pc.IPAMConfigurations().Informer()},
			{"FelixConfigurations", pc.FelixConfigurations().Informer()}, {"Node " + node, oc.Nodes().Informer()},
		},
		synced: make(chan struct{}),
	}
}

// run starts the informers, closes synced once they have synced, and
// returns when ctx ends and they have stopped.
func (w *watched) run(ctx context.Context) {
	w.all.Start(ctx.Done())
	w.own.Start(ctx.Done())
	syncs := make([]cache.InformerSynced, len(w.informers))
	for i, inf := range w.informers {
		syncs[i] = inf.HasSynced
	}
	if cache.WaitForCacheSync(ctx.Done(), syncs...) {
		close(w.synced)
	}
	<-ctx.Done()
	w.all.Shutdown()
	w.own.Shutdown()
}

// wait returns once the view has synced, or an error naming the kinds
// not yet listed when ctx ends first.
func (w *watched) wait(ctx context.Context, node string) error {
	select {
	case <-w.synced:
		return nil
	case <-ctx.Done():
		var missing []string
		for _, inf := range w.informers {
			if !inf.HasSynced() {
				missing = append(missing, inf.kind)
			}
		}
		return fmt.Errorf("the IPAM service of node %s has not listed %s yet (can meshapi-agent list and watch them? see its log): %w",
			node, strings.Join(missing, ", "), ctx.Err())
	}
}

// IPPools are the cluster's pools, by name as a list from the API
// server orders them.
func (w *watched) IPPools() ([]*v3.IPPool, error) {
	pools, err := w.pools.List(labels.Everything())
	if err != nil {
		return nil, err
	}
	slices.SortFunc(pools, func(a, b *v3.IPPool) int { return strings.Compare(a.Name, b.Name) })
	return pools, nil
}

// IPAMConfiguration is the IPAMConfiguration "default", nil when there is
// none.
func (w *watched) IPAMConfiguration() (*v3.IPAMConfiguration, error) {
	return orNil(w.ipamConfigs.Get(v3.IPAMConfigurationName))
}

// Node is the node's projectcalico.org/v3 Node (the only one watched),
// nil when there is none.
func (w *watched) Node(name string) (*v3.Node, error) {
	return orNil(w.nodes.Get(name))
}

// felixConfiguration is the FelixConfiguration "default", nil when there
// is none.
func (w *watched) felixConfiguration() (*v3.FelixConfiguration, error) {
	return orNil(w.felix.Get("default"))
}

// orNil is a lister's Get with NotFound as nil.
func orNil[T any](obj *T, err error) (*T, error) {
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	return obj, err
}
