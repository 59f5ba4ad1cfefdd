package meshrequirements

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/meshcheck"
	"github.com/meshapi/meshapi/pkg/remoteaccess"
)

// fetchView reads a remote cluster's own pools, nodes and "default"
// FelixConfiguration directly, for a cluster that has no mirror yet.
func fetchView(ctx context.Context, name string, access *remoteaccess.Access) (meshcheck.ClusterView, error) {
	cs, err := access.Client()
	if err != nil {
		return meshcheck.ClusterView{}, err
	}
	own := metav1.ListOptions{LabelSelector: "!" + v3.LabelCluster}
	pools, err := cs.ProjectcalicoV3().IPPools().List(ctx, own)
	if err != nil {
		return meshcheck.ClusterView{}, err
	}
	nodes, err := cs.ProjectcalicoV3().Nodes().List(ctx, own)
	if err != nil {
		return meshcheck.ClusterView{}, err
	}
	fcs, err := cs.ProjectcalicoV3().FelixConfigurations().List(ctx, metav1.ListOptions{FieldSelector: "metadata.name=default"})
	if err != nil {
		return meshcheck.ClusterView{}, err
	}
	view := meshcheck.BuildView(name, ptrs(pools.Items), ptrs(nodes.Items), ptrs(fcs.Items))
	return view, nil
}

func ptrs[T any](items []T) []*T {
	out := make([]*T, len(items))
	for i := range items {
		out[i] = &items[i]
	}
	return out
}
