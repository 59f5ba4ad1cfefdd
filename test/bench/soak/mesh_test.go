package soak

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/generated/clientset/versioned"
	"github.com/meshapi/meshapi/test/e2e/framework"
)

// clusterNames are the three clusters; each one's RCC of another is
// named after that one.
var clusterNames = []string{"soak-a", "soak-b", "soak-c"}

// The address plan, all in 198.18.0.0/15: each cluster's endpoints are in
// a /17 VXLAN pool of its own that selects no node (the overlay the
// clusters have in common, and the pool the mesh's admission requires a
// remote endpoint to be in), its agent node's tunnel address in a /24
// node pool, and the nodes on one underlay /24.
var (
	endpointPools = []netip.Prefix{
		netip.MustParsePrefix("198.18.0.0/17"),
		netip.MustParsePrefix("198.18.128.0/17"),
		netip.MustParsePrefix("198.19.0.0/17"),
	}
	nodePools = []netip.Prefix{
		netip.MustParsePrefix("198.19.128.0/24"),
		netip.MustParsePrefix("198.19.129.0/24"),
		netip.MustParsePrefix("198.19.130.0/24"),
	}
	// underlayGateway is the underlay bridge's address, the nodes'
	// default route; the nodes are .1, .2, .3 of its /24.
	underlayGateway = netip.MustParsePrefix("198.19.250.254/24")
)

// namespaces is how many Kubernetes namespaces the endpoints spread over.
const namespaces = 20

// clientQPS is the rate limit of the benchmark's own clients: high enough
// never to be what limits the load or the churn.
const clientQPS = 5000

// member is one cluster of the mesh with its agent node.
type member struct {
	// index is the cluster's place in clusterNames.
	index   int
	cluster *framework.Cluster
	// client is the benchmark's client of the cluster (admin, clientQPS).
	client versioned.Interface
	node   *framework.Node
	agent  *framework.Agent
}

// name is the cluster's name.
func (m *member) name() string { return m.cluster.Name }

// mesh is the three clusters, their agent nodes and the undo of
// everything set up.
type mesh struct {
	dir      string
	members  []*member
	underlay *framework.Underlay
	// undo runs in reverse order in close.
	undo []func() error
	logf func(format string, args ...any)
}

// newMesh starts the three clusters with their controllers and agents and
// connects them in a full mesh, waiting until every RCC is InSync. On
// error whatever was started is stopped again.
func newMesh(ctx context.Context, logf func(string, ...any)) (m *mesh, err error) {
	m = &mesh{logf: logf}
	defer func() {
		if err != nil {
			err = errors.Join(err, m.close())
			m = nil
		}
	}()
	if m.dir, err = os.MkdirTemp("", "meshapi-soak-"); err != nil {
		return m, fmt.Errorf("temporary directory: %w", err)
	}
	dir := m.dir
	m.undo = append(m.undo, func() error { return os.RemoveAll(dir) })
	start := time.Now()
	bins, err := framework.FindBinaries(ctx, m.dir)
	if err != nil {
		return m, err
	}
	agentBin, err := framework.BuildAgent(ctx, m.dir)
	if err != nil {
		return m, err
	}
	logf("built the binaries in %s", time.Since(start).Round(time.Second))
	if err := m.startClusters(ctx, bins); err != nil {
		return m, err
	}
	for _, mb := range m.members {
		if err := m.apiSide(ctx, mb); err != nil {
			return m, fmt.Errorf("cluster %s: %w", mb.name(), err)
		}
	}
	if err := m.startNodes(ctx, agentBin); err != nil {
		return m, err
	}
	if err := m.connect(ctx); err != nil {
		return m, err
	}
	logf("three clusters started, agents running, full mesh InSync after %s", time.Since(start).Round(time.Second))
	return m, nil
}

// startClusters starts the three clusters side by side.
func (m *mesh) startClusters(ctx context.Context, bins framework.Binaries) error {
	m.members = make([]*member, len(clusterNames))
	errs := make([]error, len(clusterNames))
	var wg sync.WaitGroup
	for i, name := range clusterNames {
		wg.Go(func() {
			c, err := framework.StartCluster(ctx, name, filepath.Join(m.dir, name), bins)
			if err != nil {
				errs[i] = err
				return
			}
			m.members[i] = &member{index: i, cluster: c}
		})
	}
	wg.Wait()
	for _, mb := range m.members {
		if mb != nil {
			c := mb.cluster
			m.undo = append(m.undo, c.Stop)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for _, mb := range m.members {
		cfg := rest.CopyConfig(mb.cluster.Config)
		cfg.QPS, cfg.Burst = clientQPS, clientQPS
		cfg.UserAgent = "soak-bench"
		var err error
		if mb.client, err = versioned.NewForConfig(cfg); err != nil {
			return fmt.Errorf("client of %s: %w", mb.name(), err)
		}
	}
	return nil
}

// apiSide starts the cluster's meshapi-controller and applies the agent's
// manifest, VXLAN in the FelixConfiguration, the endpoint pool, the node
// pool and the endpoints' namespaces.
func (m *mesh) apiSide(ctx context.Context, mb *member) error {
	c := mb.cluster
	if err := c.StartController(ctx); err != nil {
		return fmt.Errorf("starting meshapi-controller: %w", err)
	}
	if _, err := c.Kubectl(ctx, "", "apply", "-f", filepath.Join(framework.ArtifactsDir(), "deploy", "60-agent.yaml")); err != nil {
		return err
	}
	on := true
	if _, err := mb.client.ProjectcalicoV3().FelixConfigurations().Create(ctx, &v3.FelixConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "default"}, Spec: v3.FelixConfigurationSpec{VXLANEnabled: &on},
	}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating FelixConfiguration default: %w", err)
	}
	pools := fmt.Sprintf(`apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: soak-endpoints
spec:
  cidr: %s
  vxlanMode: Always
  nodeSelector: '!all()'
---
apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: soak-nodes
spec:
  cidr: %s
  vxlanMode: Always
  natOutgoing: true
  blockSize: 26
`, endpointPools[mb.index], nodePools[mb.index])
	if _, err := c.Kubectl(ctx, pools, "apply", "-f", "-"); err != nil {
		return err
	}
	for i := range namespaces {
		if _, err := c.Kubectl(ctx, "", "create", "namespace", namespace(i)); err != nil {
			return err
		}
	}
	return nil
}

// startNodes creates the underlay and one node namespace per cluster on
// it, and starts each node's meshapi-agent; it waits until every agent
// registered its Node and serves /metrics.
func (m *mesh) startNodes(ctx context.Context, agentBin string) error {
	u, err := framework.NewUnderlay("msoak-")
	if err != nil {
		return err
	}
	m.underlay = u
	m.undo = append(m.undo, u.NS.Delete)
	if err := u.NS.IP("addr", "add", underlayGateway.String(), "dev", "br0"); err != nil {
		return err
	}
	for _, mb := range m.members {
		a := underlayGateway.Addr().As4()
		a[3] = byte(1 + mb.index)
		ip := netip.PrefixFrom(netip.AddrFrom4(a), underlayGateway.Bits())
		if mb.node, err = u.AddNode(fmt.Sprintf("msoak-%c-", 'a'+mb.index), ip); err != nil {
			return err
		}
		m.undo = append(m.undo, mb.node.NS.Delete)
		if err := mb.node.NS.IP("route", "add", "default", "via", underlayGateway.Addr().String(), "dev", "eth0"); err != nil {
			return err
		}
		nodeName := mb.name() + "-node"
		if mb.agent, err = mb.cluster.StartAgent(ctx, agentBin, nodeName, ip.String(), mb.node.NS.Path()); err != nil {
			return fmt.Errorf("starting the agent of %s: %w", nodeName, err)
		}
		m.undo = append(m.undo, mb.agent.Stop)
	}
	for _, mb := range m.members {
		if err := framework.Poll(ctx, 2*time.Minute, "the agent of "+mb.name()+" registered and serving /metrics", func() (bool, string) {
			if _, err := mb.client.ProjectcalicoV3().Nodes().Get(ctx, mb.agent.Node, metav1.GetOptions{}); err != nil {
				return false, err.Error() + "\n" + mb.agent.Log(10)
			}
			resp, err := http.Get("http://" + mb.agent.Metrics + "/metrics")
			if err != nil {
				return false, err.Error()
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK, resp.Status
		}); err != nil {
			return err
		}
	}
	return nil
}

// connect connects every cluster to the two others with the seed's steps
// (the remote's federation ServiceAccount and RBAC, a kubeconfig with its
// token stored as the access Secret, the Role and RoleBinding for the
// syncer, the RCC with overlay routing Enabled) and waits until the six
// RCCs are InSync.
func (m *mesh) connect(ctx context.Context) error {
	kubeconfigs := map[*member]string{}
	for _, mb := range m.members {
		kc, err := m.remoteKubeconfig(ctx, mb)
		if err != nil {
			return fmt.Errorf("the remote kubeconfig of %s: %w", mb.name(), err)
		}
		kubeconfigs[mb] = kc
	}
	for _, local := range m.members {
		if _, err := local.cluster.Kubectl(ctx, framework.SecretAccessRBAC, "apply", "-f", "-"); err != nil {
			return err
		}
		for _, remote := range m.members {
			if remote == local {
				continue
			}
			if _, err := local.cluster.Kubectl(ctx, "", "create", "secret", "generic", "remote-cluster-secret-"+remote.name(), "-n", "calico-system",
				"--from-literal=datastoreType=kubernetes", "--from-file=kubeconfig="+kubeconfigs[remote]); err != nil {
				return err
			}
			if _, err := local.client.ProjectcalicoV3().RemoteClusterConfigurations().Create(ctx, &v3.RemoteClusterConfiguration{
				ObjectMeta: metav1.ObjectMeta{Name: remote.name()},
				Spec: v3.RemoteClusterConfigurationSpec{
					ClusterAccessSecret: &corev1.ObjectReference{Name: "remote-cluster-secret-" + remote.name(), Namespace: "calico-system", Kind: "Secret"},
					SyncOptions:         v3.RemoteClusterSyncOptions{OverlayRoutingMode: v3.OverlayRoutingModeEnabled},
				},
			}, metav1.CreateOptions{}); err != nil {
				return fmt.Errorf("creating RCC %s in %s: %w", remote.name(), local.name(), err)
			}
		}
	}
	for _, local := range m.members {
		for _, remote := range m.members {
			if remote == local {
				continue
			}
			if _, err := waitRCC(ctx, local, remote.name(), -1, 2*time.Minute); err != nil {
				return err
			}
		}
	}
	return nil
}

// remoteKubeconfig applies the seed's federation ServiceAccount and RBAC
// in mb's cluster and writes a kubeconfig with a token of that
// ServiceAccount, returning its path.
func (m *mesh) remoteKubeconfig(ctx context.Context, mb *member) (string, error) {
	c := mb.cluster
	for _, f := range []string{"federation-remote-sa.yaml", "federation-rem-rbac-kdd.yaml"} {
		if _, err := c.Kubectl(ctx, "", "apply", "-f", filepath.Join(framework.ArtifactsDir(), "remote-cluster", f)); err != nil {
			return "", err
		}
	}
	token, err := c.Kubectl(ctx, "", "create", "token", "tigera-federation-remote-cluster", "-n", "calico-system", "--duration=24h")
	if err != nil {
		return "", err
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["remote"] = &clientcmdapi.Cluster{Server: c.Config.Host, CertificateAuthorityData: c.Config.CAData}
	cfg.AuthInfos["remote"] = &clientcmdapi.AuthInfo{Token: strings.TrimSpace(token)}
	cfg.Contexts["remote"] = &clientcmdapi.Context{Cluster: "remote", AuthInfo: "remote"}
	cfg.CurrentContext = "remote"
	path := filepath.Join(m.dir, mb.name()+"-remote.kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return "", fmt.Errorf("writing %s: %w", path, err)
	}
	return path, nil
}

// waitRCC waits until local's RCC remote is InSync, and, unless want is
// negative, counts want mirrored WorkloadEndpoints; it returns how long
// that took.
func waitRCC(ctx context.Context, local *member, remote string, want int, timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	err := framework.Poll(ctx, timeout, fmt.Sprintf("%s: RCC %s InSync with %d endpoints", local.name(), remote, want), func() (bool, string) {
		rcc, err := local.client.ProjectcalicoV3().RemoteClusterConfigurations().Get(ctx, remote, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		st := rcc.Status
		state := fmt.Sprintf("%s, mirrored %+v, lastError %q", st.SyncState, st.MirroredObjects, st.LastError)
		if st.SyncState != v3.SyncStateInSync {
			return false, state
		}
		return want < 0 || (st.MirroredObjects != nil && int(st.MirroredObjects.WorkloadEndpoints) == want), state
	})
	return time.Since(start), err
}

// close undoes every step in reverse order: agents stop, node namespaces
// and the underlay go, clusters stop, the directory is removed.
func (m *mesh) close() error {
	var errs []error
	for i := len(m.undo) - 1; i >= 0; i-- {
		errs = append(errs, m.undo[i]())
	}
	m.undo = nil
	return errors.Join(errs...)
}
