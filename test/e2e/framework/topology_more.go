package framework

import (
	"context"
	"fmt"
	"net/netip"
	"slices"

	"k8s.io/client-go/kubernetes"

	"github.com/meshapi/meshapi/pkg/generated/clientset/versioned"
)

// AddCluster adds cluster c to the topology beside A and B, as build
// prepares those: the administrators' clients, the configured
// namespaces, c's controller, the agent's manifest, VXLAN in the
// FelixConfiguration and an IPPool of pool (which must not overlap the
// other clusters'). It has no framework nodes (TopologyConfig.Nodes
// counts A's and B's): give it real nodes (InstallNodeAddons,
// AddRealNode). Call it before Connect, which then connects every pair
// of clusters; Close undoes it.
func (t *Topology) AddCluster(ctx context.Context, c *Cluster, pool netip.Prefix) error {
	if slices.Contains(t.Clusters(), c) {
		return fmt.Errorf("topology %s: cluster %s added twice", t.cfg.Name, c.Name)
	}
	clients, err := versioned.NewForConfig(c.Config)
	if err != nil {
		return fmt.Errorf("client of %s: %w", c.Name, err)
	}
	kube, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		return fmt.Errorf("kubernetes client of %s: %w", c.Name, err)
	}
	t.mu.Lock()
	t.Clients[c], t.Kube[c] = clients, kube
	t.namespaces[c] = map[string]bool{}
	t.More = append(t.More, c)
	t.mu.Unlock()
	for _, ns := range t.cfg.Namespaces {
		if err := t.namespace(ctx, c, ns); err != nil {
			return err
		}
	}
	return t.apiSide(ctx, c, pool)
}
