package ipamgc

import (
	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

// LiveNodes returns the names of the nodes that exist: every Kubernetes
// Node, and every local projectcalico Node (the agent registers one per
// node, also where no kubelet runs) unless it names a Kubernetes node in
// spec.orchRefs that is gone, as Calico's node controller decides.
// Mirrored Nodes (label v3.LabelCluster) are another cluster's and never
// count.
func LiveNodes(kubeNodes []string, nodes []v3.Node) map[string]bool {
	live := make(map[string]bool, len(kubeNodes)+len(nodes))
	for _, n := range kubeNodes {
		live[n] = true
	}
	kube := make(map[string]bool, len(kubeNodes))
	for _, n := range kubeNodes {
		kube[n] = true
	}
	for _, n := range nodes {
		if _, mirrored := n.Labels[v3.LabelCluster]; mirrored {
			continue
		}
		if ref, ok := k8sRef(&n); ok && !kube[ref] {
			continue
		}
		live[n.Name] = true
	}
	return live
}

// k8sRef returns the Kubernetes node a Node names in spec.orchRefs.
func k8sRef(n *v3.Node) (string, bool) {
	for _, r := range n.Spec.OrchRefs {
		if r.Orchestrator == v3.OrchestratorK8s {
			if r.NodeName == "" {
				return n.Name, true
			}
			return r.NodeName, true
		}
	}
	return "", false
}
