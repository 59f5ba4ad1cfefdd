package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/generated/clientset/versioned"
	"github.com/meshapi/meshapi/test/e2e/framework"
)

// remoteKubeconfig runs the seed's credential recipe in cluster c and
// returns the kubeconfig it wrote.
func remoteKubeconfig(t *testing.T, c *framework.Cluster) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), c.Name+".kubeconfig")
	cmd := exec.Command("bash", "-c", seedRecipe)
	cmd.Env = append(os.Environ(),
		"PATH="+filepath.Join(framework.RepoRoot(), "bin")+":"+os.Getenv("PATH"),
		"KUBECONFIG="+c.Kubeconfig, "KUBECONFIG_NAME="+path, "ARTIFACTS="+framework.ArtifactsDir())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("credential recipe in %s: %v\n%s", c.Name, err, out)
	}
	return path
}

// connect makes local sync from remote with the seed's steps: the Secret
// from the remote's kubeconfig, the Role and RoleBinding for the syncer,
// and the RemoteClusterConfiguration.
func connect(t *testing.T, local *framework.Cluster, remote string, kubeconfig string) {
	t.Helper()
	storeAccess(t, local, remote, kubeconfig)
	kubectl(t, local, rccYAML(remote), "create", "-f", "-")
}

// ensureOverlay gives cluster c a VXLAN pool of its own (198.18.200+i.0/24),
// so that overlay routing has an overlay in common with the other clusters:
// the mesh's requirements refuse overlay routing between clusters without.
// The pool stays (later tests share it) and selects no node, so IPAM never
// hands its addresses to the pods and tunnels of other tests' nodes.
func ensureOverlay(t *testing.T, c *framework.Cluster) {
	t.Helper()
	i := strings.IndexByte("abc", c.Name[len(c.Name)-1])
	kubectl(t, c, fmt.Sprintf("apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: %s-vxlan\nspec:\n  cidr: 198.18.%d.0/24\n  vxlanMode: Always\n  nodeSelector: '!all()'\n", c.Name, 200+i), "apply", "-f", "-")
}

// grantSecretAccess applies the seed's Role and RoleBinding that let the
// syncer (calico-system/calico-typha) read the access Secrets.
func grantSecretAccess(t *testing.T, local *framework.Cluster) {
	t.Helper()
	kubectl(t, local, framework.SecretAccessRBAC, "apply", "-f", "-")
}

// waitFor polls cond every 250 ms until it holds or timeout passes.
func waitFor(t *testing.T, c *framework.Cluster, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for time.Now().Before(deadline) {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("%s: not within %s; last seen: %s\n%s", what, timeout, last, c.Logs(30))
}

// syncState waits until the RCC remote in c reaches state.
func waitSyncState(t *testing.T, c *framework.Cluster, cs versioned.Interface, remote string, state v3.RemoteClusterSyncState, timeout time.Duration) *v3.RemoteClusterConfiguration {
	t.Helper()
	var rcc *v3.RemoteClusterConfiguration
	waitFor(t, c, timeout, fmt.Sprintf("%s: RCC %s %s", c.Name, remote, state), func() (bool, string) {
		var err error
		rcc, err = cs.ProjectcalicoV3().RemoteClusterConfigurations().Get(context.Background(), remote, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return rcc.Status.SyncState == state, fmt.Sprintf("%s %q", rcc.Status.SyncState, rcc.Status.LastError)
	})
	return rcc
}

// clientFor returns a typed client for c's administrator.
func clientFor(t *testing.T, c *framework.Cluster) versioned.Interface {
	cs, err := versioned.NewForConfig(c.Config)
	if err != nil && t != nil {
		t.Fatal(err)
	}
	return cs
}

// The mesh on three real clusters: federated endpoint identity, read-only
// mirrors, live overlay switching, outages, resync, and removal.
func TestRemoteSyncFullMesh(t *testing.T) {
	ctx := ctxT(t)
	a, b, c := clusters[0], clusters[1], clusters[2]
	cs := map[*framework.Cluster]versioned.Interface{a: clientFor(t, a), b: clientFor(t, b), c: clientFor(t, c)}
	kubeconfigs := map[*framework.Cluster]string{}
	for _, cl := range clusters {
		if err := cl.StartController(ctx); err != nil {
			t.Fatal(err)
		}
		ensureOverlay(t, cl)
		kubeconfigs[cl] = remoteKubeconfig(t, cl)
	}
	defer func() {
		for _, cl := range clusters {
			kubectl(t, cl, "", "delete", "remoteclusterconfigurations", "--all")
		}
	}()
	for _, local := range clusters {
		for _, remote := range clusters {
			if local != remote {
				connect(t, local, remote.Name, kubeconfigs[remote])
			}
		}
	}
	for _, local := range clusters {
		for _, remote := range clusters {
			if local != remote {
				waitSyncState(t, local, cs[local], remote.Name, v3.SyncStateInSync, time.Minute)
			}
		}
	}

	// Endpoints, a node and a pool in B and C; the namespace "demo" does
	// not exist in A.
	for _, cl := range []*framework.Cluster{b, c} {
		createNamespace(t, cl, "demo")
		for _, name := range []string{"web-1", "web-2"} {
			if _, err := cs[cl].ProjectcalicoV3().WorkloadEndpoints("demo").Create(ctx, &v3.WorkloadEndpoint{
				ObjectMeta: metav1.ObjectMeta{Name: "host-1-k8s-" + name + "-eth0", Labels: map[string]string{"app": "web", "from": cl.Name}},
				Spec: v3.WorkloadEndpointSpec{Node: "host-1", Orchestrator: "k8s", Pod: name, Endpoint: "eth0",
					// Inside each cluster's own pool (B's pool-b, C's VXLAN
					// pool): a remote endpoint elsewhere is refused.
					IPNetworks: []string{fmt.Sprintf("198.18.%d.%d/32", map[*framework.Cluster]int{b: 2, c: 202}[cl], len(name)+strings.Count(name, "2"))},
					Profiles:   []string{"kns.demo"}},
			}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := cs[b].ProjectcalicoV3().Nodes().Create(ctx, &v3.Node{ObjectMeta: metav1.ObjectMeta{Name: "host-1"},
		Spec: v3.NodeSpec{IPv4VXLANTunnelAddr: "198.18.2.200", VXLANTunnelMACAddr: "66:00:00:00:00:02"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs[b].ProjectcalicoV3().IPPools().Create(ctx, &v3.IPPool{ObjectMeta: metav1.ObjectMeta{Name: "pool-b"},
		Spec: v3.IPPoolSpec{CIDR: "198.18.2.0/24", VXLANMode: v3.EncapModeAlways, NATOutgoing: true,
			NodeSelector: "!all()"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	// They appear in A, prefixed and labelled.
	weps := cs[a].ProjectcalicoV3().WorkloadEndpoints("demo")
	waitFor(t, a, 30*time.Second, "B's and C's endpoints in A", func() (bool, string) {
		l, err := weps.List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err.Error()
		}
		return len(l.Items) == 4, fmt.Sprintf("%d endpoints", len(l.Items))
	})
	mirrored, err := weps.Get(ctx, "cluster-b.host-1-k8s-web-1-eth0", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if mirrored.Spec.Node != "cluster-b/host-1" || mirrored.Labels[v3.LabelCluster] != "cluster-b" || mirrored.Labels["app"] != "web" ||
		len(mirrored.Spec.Profiles) != 1 || mirrored.Spec.Profiles[0] != "cluster-b/kns.demo" {
		t.Errorf("mirrored endpoint: node %q labels %v profiles %v", mirrored.Spec.Node, mirrored.Labels, mirrored.Spec.Profiles)
	}
	// Created through a MirrorBatch (the controller's role and identity
	// allow it; only that path leaves no managed fields).
	if len(mirrored.ManagedFields) != 0 {
		t.Errorf("mirrored endpoint has managed fields %v: the controller created it on its own, not in a MirrorBatch", mirrored.ManagedFields)
	}
	out := kubectl(t, a, "", "get", "workloadendpoints", "-A", "-l", "projectcalico.org/cluster=cluster-b", "-o", "name")
	if got := strings.Fields(out); len(got) != 2 || !strings.Contains(out, "cluster-b.host-1-k8s-web-1-eth0") || strings.Contains(out, "cluster-c") {
		t.Errorf("A's endpoints of cluster-b:\n%s", out)
	}
	waitFor(t, a, 30*time.Second, "B's node and pool in A", func() (bool, string) {
		n, err1 := cs[a].ProjectcalicoV3().Nodes().Get(ctx, "cluster-b.host-1", metav1.GetOptions{})
		p, err2 := cs[a].ProjectcalicoV3().IPPools().Get(ctx, "cluster-b.pool-b", metav1.GetOptions{})
		if err1 != nil || err2 != nil {
			return false, fmt.Sprint(err1, err2)
		}
		return n.Spec.VXLANTunnelMACAddr == "66:00:00:00:00:02" && p.Spec.Disabled && !p.Spec.NATOutgoing, fmt.Sprintf("%+v %+v", n.Spec, p.Spec)
	})

	// Users cannot edit the mirror.
	if _, err := a.Kubectl(ctx, "", "label", "wep", "-n", "demo", "cluster-b.host-1-k8s-web-1-eth0", "edited=yes"); err == nil ||
		!strings.Contains(err.Error(), `is mirrored from remote cluster "cluster-b" and is read-only here`) {
		t.Errorf("editing a mirrored endpoint: %v", err)
	}
	if _, err := a.Kubectl(ctx, "", "delete", "ippool", "cluster-b.pool-b"); err == nil || !strings.Contains(err.Error(), "Forbidden") {
		t.Errorf("deleting a mirrored pool: %v", err)
	}

	// Deleting in B deletes in A.
	if err := cs[b].ProjectcalicoV3().WorkloadEndpoints("demo").Delete(ctx, "host-1-k8s-web-2-eth0", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, a, 30*time.Second, "deleted endpoint gone from A", func() (bool, string) {
		_, err := weps.Get(ctx, "cluster-b.host-1-k8s-web-2-eth0", metav1.GetOptions{})
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})

	// Overlay routing off: B's node and pool leave A, its endpoints stay; on again: back.
	kubectl(t, a, "", "patch", "rcc", "cluster-b", "--type=merge", "-p", `{"spec":{"syncOptions":{"overlayRoutingMode":"Disabled"}}}`)
	waitFor(t, a, 30*time.Second, "overlay mirror removed", func() (bool, string) {
		_, err := cs[a].ProjectcalicoV3().Nodes().Get(ctx, "cluster-b.host-1", metav1.GetOptions{})
		_, err2 := cs[a].ProjectcalicoV3().IPPools().Get(ctx, "cluster-b.pool-b", metav1.GetOptions{})
		return apierrors.IsNotFound(err) && apierrors.IsNotFound(err2), fmt.Sprint(err, err2)
	})
	if _, err := weps.Get(ctx, "cluster-b.host-1-k8s-web-1-eth0", metav1.GetOptions{}); err != nil {
		t.Errorf("endpoints must stay with overlay routing Disabled: %v", err)
	}
	kubectl(t, a, "", "patch", "rcc", "cluster-b", "--type=merge", "-p", `{"spec":{"syncOptions":{"overlayRoutingMode":"Enabled"}}}`)
	waitFor(t, a, 30*time.Second, "overlay mirror back", func() (bool, string) {
		_, err := cs[a].ProjectcalicoV3().Nodes().Get(ctx, "cluster-b.host-1", metav1.GetOptions{})
		return err == nil, fmt.Sprint(err)
	})
	waitSyncState(t, a, cs[a], "cluster-b", v3.SyncStateInSync, time.Minute)

	// Outage: B's access is revoked (the open watch lives on), then B's
	// kube-apiserver stops. A keeps B's last known endpoints.
	kubectl(t, b, "", "delete", "clusterrolebinding", "tigera-federation-remote-cluster")
	if err := b.StopKubeAPIServer(); err != nil {
		t.Fatal(err)
	}
	failed := waitSyncState(t, a, cs[a], "cluster-b", v3.SyncStateConnectionFailed, time.Minute)
	if !strings.Contains(failed.Status.LastError, "cluster-b") {
		t.Errorf("lastError does not name the cluster: %q", failed.Status.LastError)
	}
	if _, err := weps.Get(ctx, "cluster-b.host-1-k8s-web-1-eth0", metav1.GetOptions{}); err != nil {
		t.Errorf("A lost B's endpoint during the outage: %v", err)
	}
	// B comes back but still refuses A; B changes meanwhile.
	if err := b.StartKubeAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.WaitAPIServiceAvailable(ctx, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := cs[b].ProjectcalicoV3().WorkloadEndpoints("demo").Delete(ctx, "host-1-k8s-web-1-eth0", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs[b].ProjectcalicoV3().WorkloadEndpoints("demo").Create(ctx, &v3.WorkloadEndpoint{
		ObjectMeta: metav1.ObjectMeta{Name: "host-1-k8s-api-1-eth0", Labels: map[string]string{"app": "api"}},
		Spec:       v3.WorkloadEndpointSpec{Node: "host-1", IPNetworks: []string{"198.18.2.50/32"}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, a, time.Minute, "A sees B's refusal", func() (bool, string) {
		rcc, err := cs[a].ProjectcalicoV3().RemoteClusterConfigurations().Get(ctx, "cluster-b", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return rcc.Status.SyncState == v3.SyncStateConnectionFailed && strings.Contains(rcc.Status.LastError, "forbidden"), rcc.Status.LastError
	})
	if _, err := weps.Get(ctx, "cluster-b.host-1-k8s-web-1-eth0", metav1.GetOptions{}); err != nil {
		t.Errorf("A dropped B's endpoint while B refused it: %v", err)
	}
	// Access restored: the resync brings exactly B's current endpoints.
	kubectl(t, b, "", "apply", "-f", filepath.Join(framework.ArtifactsDir(), "remote-cluster", "federation-rem-rbac-kdd.yaml"))
	waitSyncState(t, a, cs[a], "cluster-b", v3.SyncStateInSync, 2*time.Minute)
	waitFor(t, a, 30*time.Second, "resync after the outage", func() (bool, string) {
		out, err := a.Kubectl(ctx, "", "get", "workloadendpoints", "-A", "-l", "projectcalico.org/cluster=cluster-b", "-o", "name")
		if err != nil {
			return false, err.Error()
		}
		return strings.TrimSpace(out) == "workloadendpoint.projectcalico.org/cluster-b.host-1-k8s-api-1-eth0", out
	})

	// A changed Secret reconnects with the new credentials.
	kubectl(t, a, "", "patch", "secret", "remote-cluster-secret-cluster-b", "-n", "calico-system", "--type=merge", "-p", `{"stringData":{"datastoreType":"etcdv2"}}`)
	incomplete := waitSyncState(t, a, cs[a], "cluster-b", v3.SyncStateConfigIncomplete, time.Minute)
	if !strings.Contains(incomplete.Status.LastError, `"etcdv2"`) {
		t.Errorf("ConfigIncomplete lastError: %q", incomplete.Status.LastError)
	}
	kubectl(t, a, "", "patch", "secret", "remote-cluster-secret-cluster-b", "-n", "calico-system", "--type=merge", "-p", `{"stringData":{"datastoreType":"kubernetes"}}`)
	waitSyncState(t, a, cs[a], "cluster-b", v3.SyncStateInSync, time.Minute)

	// The metric and the log line users check.
	resp, err := http.Get("http://" + a.ControllerMetrics + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`remote_cluster_connection_status{remote_cluster_name="cluster-b"} 2`, `remote_cluster_connection_status{remote_cluster_name="cluster-c"} 2`,
		`remote_cluster_mirrored_objects{kind="WorkloadEndpoint",remote_cluster_name="cluster-b"} 1`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if !strings.Contains(a.ControllerLog(), "Sending in-sync update for RemoteClusterConfiguration(cluster-b)") {
		t.Errorf("controller log lacks the in-sync line")
	}

	// Deleting the RCC removes C's whole mirror from A.
	kubectl(t, a, "", "delete", "rcc", "cluster-c")
	waitFor(t, a, 30*time.Second, "C's mirror removed", func() (bool, string) {
		out, err := a.Kubectl(ctx, "", "get", "workloadendpoints", "-A", "-l", "projectcalico.org/cluster=cluster-c", "-o", "name")
		return err == nil && strings.TrimSpace(out) == "", out
	})
}
