package framework

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// StartAgentInNamespace runs the meshapi-agent binary bin for node
// nodeName inside the network namespace named netnsName (`ip netns exec`),
// as the agent's DaemonSet Pod with hostNetwork runs in the node's
// namespace: it programs that namespace (no --netns) and every socket it
// opens, its BGP speaker's included, belongs there. It runs as the
// service account meshapi-system/meshapi-agent of
// artifacts/deploy/60-agent.yaml (which must be applied); the cluster
// must have been started for real nodes (ClusterOptions.NodeAddress), so
// that its kube-apiserver is reachable from the node's namespace. Its
// metrics listen on the namespace's loopback; its IPAM service on
// AgentIPAMSocket(nodeName).
func (c *Cluster) StartAgentInNamespace(ctx context.Context, bin, nodeName, nodeIP, netnsName string, extra ...string) (*Agent, error) {
	if !c.HasNodes() {
		return nil, fmt.Errorf("starting the agent of %s in namespace %s: cluster %s listens on loopback only (start it with ClusterOptions.NodeAddress)", nodeName, netnsName, c.Name)
	}
	token, err := c.Kubectl(ctx, "", "create", "token", "meshapi-agent", "-n", MeshapiNamespace, "--duration=24h")
	if err != nil {
		return nil, err
	}
	kubeconfig := filepath.Join(c.Dir, "meshapi-agent-"+nodeName+".kubeconfig")
	if err := writeKubeconfig(kubeconfig, c.Config.Host, c.pki.ca.CertFile, &clientcmdapi.AuthInfo{Token: strings.TrimSpace(token)}); err != nil {
		return nil, err
	}
	// The namespace's loopback is the agent's own: any port is free there.
	a := &Agent{Node: nodeName, Metrics: "127.0.0.1:9099", IPAMSocket: c.AgentIPAMSocket(nodeName)}
	args := append([]string{"netns", "exec", netnsName, bin, "--kubeconfig=" + kubeconfig, "--node-name=" + nodeName, "--node-ip=" + nodeIP,
		"--metrics-bind-address=" + a.Metrics, "--profiling", "--resync-period=5s", "--status-interval=1s", "--ipam-socket=" + a.IPAMSocket}, extra...)
	a.p = &process{name: "meshapi-agent " + nodeName, path: "ip", args: args,
		log: filepath.Join(c.Dir, "logs", "meshapi-agent-"+nodeName+".log")}
	if err := a.p.start(); err != nil {
		return nil, err
	}
	return a, nil
}

// Decommission takes node n out of service as a machine leaving its
// cluster does: its agent stops (SIGTERM, as when its DaemonSet Pod is
// deleted on a drain: the BGP speaker closes its sessions with a
// NOTIFICATION), the machine goes off the network (its eth0 down), and
// the node is removed from the API (its Node deleted, its tunnel address
// released and its blocks deleted). Close still deletes its namespace.
func (t *Topology) Decommission(ctx context.Context, n *TopoNode) error {
	if n.Agent != nil {
		if err := n.Agent.Stop(); err != nil {
			return fmt.Errorf("stopping the agent of %s: %w", n.Name, err)
		}
		n.Agent = nil
	}
	if err := n.Node.NS.IP("link", "set", "eth0", "down"); err != nil {
		return err
	}
	return t.forgetNode(ctx, n)
}
