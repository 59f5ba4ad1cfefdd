package meshcheck

import (
	"sort"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

// BuildView builds the view the mesh's requirements compare from a
// cluster's pools, nodes and FelixConfigurations: its own, or the mirrors
// of a remote cluster, which get their remote names back.
func BuildView(name string, pools []*v3.IPPool, nodes []*v3.Node, felix []*v3.FelixConfiguration) ClusterView {
	view := ClusterView{Name: name}
	for _, pool := range pools {
		p := pool.DeepCopy()
		unmirror(&p.Name, p.Annotations, p.Labels)
		view.Pools = append(view.Pools, *p)
	}
	for _, n := range nodes {
		view.Nodes = append(view.Nodes, v3.NameInOwnCluster(n.Annotations, n.Name))
	}
	for _, fc := range felix {
		if fc.Name == "default" || fc.Annotations[v3.AnnotationRemoteName] == "default" {
			view.Felix = fc.DeepCopy()
		}
	}
	sort.Slice(view.Pools, func(i, j int) bool { return view.Pools[i].Name < view.Pools[j].Name })
	sort.Strings(view.Nodes)
	return view
}

// unmirror gives a mirrored object back its remote name and drops the
// cluster label, so that the checks see it as its own cluster does.
func unmirror(name *string, annotations, labels map[string]string) {
	*name = v3.NameInOwnCluster(annotations, *name)
	delete(labels, v3.LabelCluster)
}
