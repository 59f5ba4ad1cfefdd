package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/meshapi/meshapi/test/e2e/framework"
)

// writeKubeconfig merges the clusters' administrator kubeconfigs into one
// file (mode 0600) with a context per cluster, named after it; the current
// context is cluster-a.
func (m *mesh) writeKubeconfig() error {
	merged := clientcmdapi.NewConfig()
	for _, c := range m.clusters {
		cfg, err := clientcmd.LoadFromFile(c.Kubeconfig)
		if err != nil {
			return fmt.Errorf("reading the kubeconfig of %s: %w", c.Name, err)
		}
		cur := cfg.Contexts[cfg.CurrentContext]
		merged.Clusters[c.Name] = cfg.Clusters[cur.Cluster]
		merged.AuthInfos[c.Name] = cfg.AuthInfos[cur.AuthInfo]
		merged.Contexts[c.Name] = &clientcmdapi.Context{Cluster: c.Name, AuthInfo: c.Name}
	}
	merged.CurrentContext = clusterNames[0]
	if err := m.st.addDir(m.kubeconfig); err != nil {
		return err
	}
	if err := clientcmd.WriteToFile(*merged, m.kubeconfig); err != nil {
		return fmt.Errorf("writing the kubeconfig %s: %w", m.kubeconfig, err)
	}
	if err := os.Chmod(m.kubeconfig, 0o600); err != nil {
		return fmt.Errorf("kubeconfig %s: %w", m.kubeconfig, err)
	}
	return nil
}

// connect writes the kubeconfig and runs the real meshctl connect on it,
// as a user would; meshctl waits until both RemoteClusterConfigurations
// are InSync. Its output is shown indented.
func (m *mesh) connect(ctx context.Context) error {
	if err := m.writeKubeconfig(); err != nil {
		return err
	}
	args := []string{"--kubeconfig", m.kubeconfig, "connect", "--context", clusterNames[0], "--context", clusterNames[1], "--timeout", "3m"}
	out, err := exec.CommandContext(ctx, m.meshctlBin, args...).CombinedOutput()
	for line := range strings.SplitSeq(strings.TrimRight(string(out), "\n"), "\n") {
		fmt.Fprintf(m.out, "      | %s\n", line)
	}
	if err != nil {
		return fmt.Errorf("meshctl %s: %w", strings.Join(args, " "), err)
	}
	return m.st.recordChildren(m.runDir)
}

// waitMesh waits until every node routes the other cluster's blocks, the
// federated reviews Service in A lists the reviews pods of both clusters,
// A sees B's endpoints, and productpage in A gets answers to a ping to
// reviews-v2 in B.
func (m *mesh) waitMesh(ctx context.Context) error {
	if err := m.waitRoutes(ctx, func(from, to *framework.TopoNode) bool { return from.Cluster != to.Cluster }); err != nil {
		return err
	}
	var want []string
	for _, p := range m.pods {
		if p.labels["app"] == "reviews" {
			want = append(want, p.p.IP.String())
		}
	}
	a := m.clusters[0]
	if err := framework.Poll(ctx, 2*time.Minute, "cluster-a: the endpoints of the federated reviews Service", func() (bool, string) {
		out, err := a.Kubectl(ctx, "", "get", "endpoints", "reviews", "-n", "bookinfo", "-o", "jsonpath={.subsets[*].addresses[*].ip}")
		got := strings.Fields(out)
		for _, ip := range want {
			if !slices.Contains(got, ip) {
				return false, fmt.Sprintf("%v (want %v) %v", got, want, err)
			}
		}
		return true, ""
	}); err != nil {
		return err
	}
	if err := framework.Poll(ctx, 2*time.Minute, "cluster-a: cluster-b's WorkloadEndpoints", func() (bool, string) {
		l, err := m.topo.Clients[a].ProjectcalicoV3().WorkloadEndpoints("").List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err.Error()
		}
		remote := 0
		for _, w := range l.Items {
			if strings.HasPrefix(w.Name, clusterNames[1]+".") {
				remote++
			}
		}
		return remote == m.podsIn(1), fmt.Sprintf("%d of %d", remote, m.podsIn(1))
	}); err != nil {
		return err
	}
	from, to := m.pingPair()
	return framework.Poll(ctx, time.Minute, fmt.Sprintf("ping from %s (%s) to %s (%s)", from.name, from.p.IP, to.name, to.p.IP), func() (bool, string) {
		n, err := from.p.Ping(to.p.IP, 1, time.Second)
		return n == 1, fmt.Sprint(n, " replies ", err)
	})
}

// podsIn counts the pods of cluster ci.
func (m *mesh) podsIn(ci int) int {
	n := 0
	for _, p := range m.pods {
		if p.cluster() == ci {
			n++
		}
	}
	return n
}

// pingPair is the pod of A and the pod of B of the banner's ping:
// productpage-v1 and reviews-v2.
func (m *mesh) pingPair() (from, to *pod) {
	for _, p := range m.pods {
		switch p.name {
		case "productpage-v1":
			from = p
		case "reviews-v2":
			to = p
		}
	}
	return from, to
}

// display is path relative to the working directory when it lies below
// it (as `make run` prints it from the checkout), else absolute.
func display(path string) string {
	wd, err := os.Getwd()
	if err != nil {
		return path
	}
	rel, err := filepath.Rel(wd, path)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return path
	}
	if !strings.Contains(rel, "/") {
		return "./" + rel
	}
	return rel
}

// commands returns the commands the banner offers, each runnable as is
// from the working directory.
func (m *mesh) commands() []string {
	kubectl := display(filepath.Join(framework.RepoRoot(), "bin", "kubectl")) + " --kubeconfig " + display(m.kubeconfig)
	meshctl := display(m.meshctlBin) + " --kubeconfig " + display(m.kubeconfig)
	from, to := m.pingPair()
	return []string{
		kubectl + " --context cluster-a get rcc",
		meshctl + " --context cluster-a --context cluster-b status",
		meshctl + ` --context cluster-a eval "all()"`,
		kubectl + " --context cluster-a get endpoints reviews -n bookinfo",
		fmt.Sprintf("ip netns exec %s ping -c 3 %s", from.p.NS.Name, to.p.IP),
	}
}

// printBanner prints the ready banner: the kubeconfig and the commands.
func (m *mesh) printBanner(w io.Writer) {
	from, to := m.pingPair()
	fmt.Fprintf(w, `
meshapi demo ready in %s: cluster-a and cluster-b, %d nodes each (network namespaces, a meshapi-agent each), connected with meshctl.

  kubeconfig: %s (contexts cluster-a, cluster-b; current: cluster-a)
  bookinfo:   productpage-v1 %s and reviews-v1 %s in cluster-a; reviews-v2 %s and reviews-v3 %s in cluster-b
  logs:       %s/<cluster>/logs/

Try (each as printed):
`, time.Since(m.started).Round(time.Second), nodesPerCluster, display(m.kubeconfig),
		from.p.IP, m.podIP("reviews-v1"), to.p.IP, m.podIP("reviews-v3"), display(m.runDir))
	for _, c := range m.commands() {
		fmt.Fprintf(w, "  $ %s\n", c)
	}
	fmt.Fprint(w, "\nThe last one pings reviews-v2 in cluster-b from productpage's network namespace in cluster-a.\nCtrl-C stops the demo and removes everything it created.\n")
}

// podIP returns the address of the pod named name.
func (m *mesh) podIP(name string) string {
	for _, p := range m.pods {
		if p.name == name {
			return p.p.IP.String()
		}
	}
	return ""
}
