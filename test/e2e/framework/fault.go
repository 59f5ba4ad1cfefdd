package framework

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/meshapi/meshapi/test/testport"
)

// kill sends SIGKILL to the process group and waits until it ended: a
// crash, no chance to clean up.
func (p *process) kill() error {
	if p.cmd == nil {
		return fmt.Errorf("%s is not running", p.name)
	}
	defer func() { p.cmd = nil }()
	if err := syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("killing %s (pid %d): %w", p.name, p.cmd.Process.Pid, err)
	}
	<-p.done
	return nil
}

// pid is the process's ID, 0 when it is not running.
func (p *process) pid() int {
	if ended, _ := p.exited(); ended || p.cmd == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// KillKubeAPIServer kills kube-apiserver with SIGKILL; StartKubeAPIServer
// starts it again.
func (c *Cluster) KillKubeAPIServer() error { return c.kubeAPIServer.kill() }

// KillMeshapiAPIServer kills meshapi-apiserver with SIGKILL;
// StartMeshapiAPIServer starts it again.
func (c *Cluster) KillMeshapiAPIServer() error { return c.meshapi.kill() }

// Controllers are two meshapi-controller processes of one cluster with
// leader election: the cluster's own (StartController) and a second
// replica started by StartSecondController, as a Deployment with two
// replicas runs them.
type Controllers struct {
	c      *Cluster
	second *process
}

// StartSecondController starts a second meshapi-controller replica of c,
// with the flags and credentials of the first (which must be running), a
// log and metrics address of its own. Stop stops it.
func (c *Cluster) StartSecondController(ctx context.Context) (*Controllers, error) {
	if c.controller == nil || c.controller.pid() == 0 {
		return nil, fmt.Errorf("cluster %s: the first meshapi-controller is not running", c.Name)
	}
	port, err := testport.Free()
	if err != nil {
		return nil, err
	}
	var args []string
	for _, a := range c.controller.args {
		if strings.HasPrefix(a, "--metrics-bind-address=") {
			a = "--metrics-bind-address=127.0.0.1:" + strconv.Itoa(port)
		}
		args = append(args, a)
	}
	s := &Controllers{c: c, second: &process{name: "meshapi-controller (second replica)", path: c.controller.path, args: args,
		log: filepath.Join(c.Dir, "logs", "meshapi-controller-2.log")}}
	if err := s.second.start(); err != nil {
		return nil, err
	}
	return s, nil
}

// Leader returns the replica holding the leader Lease ("first" or
// "second"), read from the Lease's holder identity ("<host>_<pid>"), and
// the identity; "" if neither running replica holds it.
func (s *Controllers) Leader(ctx context.Context) (string, string, error) {
	kube, err := kubernetes.NewForConfig(s.c.Config)
	if err != nil {
		return "", "", err
	}
	lease, err := kube.CoordinationV1().Leases("calico-system").Get(ctx, "meshapi-controller", metav1.GetOptions{})
	if err != nil {
		return "", "", fmt.Errorf("the leader Lease of %s: %w", s.c.Name, err)
	}
	holder := ""
	if lease.Spec.HolderIdentity != nil {
		holder = *lease.Spec.HolderIdentity
	}
	for name, p := range map[string]*process{"first": s.c.controller, "second": s.second} {
		if pid := p.pid(); pid != 0 && strings.HasSuffix(holder, "_"+strconv.Itoa(pid)) {
			return name, holder, nil
		}
	}
	return "", holder, nil
}

// KillLeader kills the leading replica with SIGKILL and returns which
// one it was.
func (s *Controllers) KillLeader(ctx context.Context) (string, error) {
	which, holder, err := s.Leader(ctx)
	if err != nil {
		return "", err
	}
	switch which {
	case "first":
		return which, s.c.controller.kill()
	case "second":
		return which, s.second.kill()
	}
	return "", fmt.Errorf("no running replica of %s holds the Lease (holder %q)", s.c.Name, holder)
}

// Restart starts again whichever replica is not running.
func (s *Controllers) Restart() error {
	for _, p := range []*process{s.c.controller, s.second} {
		if ended, _ := p.exited(); ended {
			if err := p.start(); err != nil {
				return err
			}
		}
	}
	return nil
}

// Stop stops the second replica (the cluster stops the first).
func (s *Controllers) Stop() error { return s.second.stop(30 * time.Second) }

// Log returns the last n lines of both replicas' logs.
func (s *Controllers) Log(n int) string { return s.c.controller.tail(n) + "\n" + s.second.tail(n) }

// Kill kills the agent with SIGKILL.
func (a *Agent) Kill() error { return a.p.kill() }

// KillAgent kills n's agent with SIGKILL and starts it again with the
// topology's flags, returning once the new process runs (not once it has
// programmed anything).
func (t *Topology) KillAgent(ctx context.Context, n *TopoNode) error {
	if err := n.Agent.Kill(); err != nil {
		return err
	}
	return t.StartAgent(ctx, n)
}

// PartitionUnderlay drops, on the underlay bridge, every IPv4 packet
// between a node of cluster A and a node of cluster B (an nftables table
// "e2e-partition" of family bridge in the underlay's namespace); the
// returned function heals it. Nodes of one cluster still reach each
// other.
func (t *Topology) PartitionUnderlay(ctx context.Context) (heal func() error, err error) {
	var a, b []string
	for _, n := range t.Nodes {
		if n.Cluster == t.A {
			a = append(a, n.IP.Addr().String())
		} else {
			b = append(b, n.IP.Addr().String())
		}
	}
	set := func(ips []string) string { return "{ " + strings.Join(ips, ", ") + " }" }
	rules := fmt.Sprintf(`table bridge e2e-partition {
	chain forward {
		type filter hook forward priority -10; policy accept;
		ip saddr %s ip daddr %s drop
		ip saddr %s ip daddr %s drop
	}
}
`, set(a), set(b), set(b), set(a))
	if err := t.Underlay.NS.nft(ctx, rules, "-f", "-"); err != nil {
		return nil, err
	}
	return func() error {
		return t.Underlay.NS.nft(context.Background(), "", "delete", "table", "bridge", "e2e-partition")
	}, nil
}

// nft runs nft in the namespace.
func (n *NetNS) nft(ctx context.Context, stdin string, args ...string) error {
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", n.Name, "nft"}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("nft %s in %s: %w\n%s", strings.Join(args, " "), n.Name, err, out)
	}
	return nil
}

// AccessSecretName is the name of c's access Secret for its remote.
func (t *Topology) AccessSecretName(c *Cluster) string {
	return "remote-cluster-secret-" + t.Remote(c).Name
}

// AccessSecretData returns the data of c's access Secret for its remote.
func (t *Topology) AccessSecretData(ctx context.Context, c *Cluster) (map[string][]byte, error) {
	s, err := t.Kube[c].CoreV1().Secrets("calico-system").Get(ctx, t.AccessSecretName(c), metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("the access Secret %s of %s: %w", t.AccessSecretName(c), c.Name, err)
	}
	return s.Data, nil
}

// SetAccessSecretData replaces the data of c's access Secret.
func (t *Topology) SetAccessSecretData(ctx context.Context, c *Cluster, data map[string][]byte) error {
	secrets := t.Kube[c].CoreV1().Secrets("calico-system")
	s, err := secrets.Get(ctx, t.AccessSecretName(c), metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("the access Secret %s of %s: %w", t.AccessSecretName(c), c.Name, err)
	}
	s.Data, s.StringData = data, nil
	if _, err := secrets.Update(ctx, s, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("replacing the access Secret %s of %s: %w", t.AccessSecretName(c), c.Name, err)
	}
	return nil
}

// AccessThrough rewrites c's access Secret so that its kubeconfig reaches
// the remote's kube-apiserver at addr (host:port on 127.0.0.1, e.g. a
// Blackhole in front of it) and returns the Secret's data before.
func (t *Topology) AccessThrough(ctx context.Context, c *Cluster, addr string) (map[string][]byte, error) {
	old, err := t.AccessSecretData(ctx, c)
	if err != nil {
		return nil, err
	}
	cfg, err := clientcmd.Load(old["kubeconfig"])
	if err != nil {
		return nil, fmt.Errorf("the kubeconfig of access Secret %s of %s: %w", t.AccessSecretName(c), c.Name, err)
	}
	for _, cl := range cfg.Clusters {
		cl.Server = "https://" + addr
	}
	b, err := clientcmd.Write(*cfg)
	if err != nil {
		return nil, err
	}
	data := map[string][]byte{}
	for k, v := range old {
		data[k] = v
	}
	data["kubeconfig"] = b
	return old, t.SetAccessSecretData(ctx, c, data)
}

// IdentityKubeconfig writes a kubeconfig that reaches c's kube-apiserver
// as ServiceAccount namespace/name (created if it does not exist; it has
// no rights unless the caller grants them) and returns its contents.
func (c *Cluster) IdentityKubeconfig(ctx context.Context, namespace, name string) ([]byte, error) {
	if _, err := c.Kubectl(ctx, "", "create", "serviceaccount", name, "-n", namespace); err != nil && !strings.Contains(err.Error(), "AlreadyExists") {
		return nil, err
	}
	token, err := c.Kubectl(ctx, "", "create", "token", name, "-n", namespace, "--duration=1h")
	if err != nil {
		return nil, err
	}
	path := filepath.Join(c.Dir, "identity-"+namespace+"-"+name+".kubeconfig")
	if err := writeKubeconfig(path, c.Config.Host, c.pki.ca.CertFile, &clientcmdapi.AuthInfo{Token: strings.TrimSpace(token)}); err != nil {
		return nil, err
	}
	defer os.Remove(path)
	return os.ReadFile(path)
}
