package framework

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/meshapi/meshapi/test/testport"
)

// BuildAgent builds meshapi-agent into dir and returns its path.
func BuildAgent(ctx context.Context, dir string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", dir+"/", "./cmd/meshapi-agent")
	cmd.Dir = RepoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building meshapi-agent: %w\n%s", err, out)
	}
	return filepath.Join(dir, "meshapi-agent"), nil
}

// Agent is a meshapi-agent process of a cluster.
type Agent struct {
	// Node is the agent's node name.
	Node string
	// Metrics is the address of its /metrics and /healthz.
	Metrics string
	// IPAMSocket is its IPAM service's socket (Cluster.AgentIPAMSocket).
	IPAMSocket string
	p          *process
}

// AgentIPAMSocket is the socket of the IPAM service of node's agent: a
// file of the cluster's directory, so that the agents of several nodes on
// one host do not share /var/run/meshapi/ipam.sock. meshapi-cni's
// conflist on that node names it.
func (c *Cluster) AgentIPAMSocket(node string) string {
	return filepath.Join(c.Dir, "ipam-"+node+".sock")
}

// StartAgent runs the meshapi-agent binary bin for node nodeName as the
// service account meshapi-system/meshapi-agent of
// artifacts/deploy/60-agent.yaml (which must be applied), with the
// cluster's API on loopback, programming the namespace at netnsPath, its
// IPAM service on AgentIPAMSocket(nodeName).
func (c *Cluster) StartAgent(ctx context.Context, bin, nodeName, nodeIP, netnsPath string, extra ...string) (*Agent, error) {
	token, err := c.Kubectl(ctx, "", "create", "token", "meshapi-agent", "-n", MeshapiNamespace, "--duration=24h")
	if err != nil {
		return nil, err
	}
	kubeconfig := filepath.Join(c.Dir, "meshapi-agent-"+nodeName+".kubeconfig")
	if err := writeKubeconfig(kubeconfig, c.Config.Host, c.pki.ca.CertFile, &clientcmdapi.AuthInfo{Token: strings.TrimSpace(token)}); err != nil {
		return nil, err
	}
	port, err := testport.Free()
	if err != nil {
		return nil, err
	}
	a := &Agent{Node: nodeName, Metrics: "127.0.0.1:" + strconv.Itoa(port), IPAMSocket: c.AgentIPAMSocket(nodeName)}
	a.p = &process{name: "meshapi-agent " + nodeName, path: bin, log: filepath.Join(c.Dir, "logs", "meshapi-agent-"+nodeName+".log"),
		args: append([]string{"--kubeconfig=" + kubeconfig, "--node-name=" + nodeName, "--node-ip=" + nodeIP, "--netns=" + netnsPath,
			"--metrics-bind-address=" + a.Metrics, "--profiling", "--resync-period=5s", "--status-interval=1s", "--ipam-socket=" + a.IPAMSocket}, extra...)}
	if err := a.p.start(); err != nil {
		return nil, err
	}
	return a, nil
}

// Stop stops the agent with SIGTERM.
func (a *Agent) Stop() error { return a.p.stop(30 * time.Second) }

// Log returns the last n lines of the agent's log.
func (a *Agent) Log(n int) string { return a.p.tail(n) }
