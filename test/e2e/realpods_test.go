// The real-Pods tests need the node components hack/build-tools.sh builds
// into bin/ (kubelet, containerd, ctr, containerd-shim-runc-v2,
// kube-proxy, kube-scheduler, CoreDNS, ocimage and the images of
// bin/images), which hack/test.sh (make test) builds, and Debian's runc.

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshapi/meshapi/test/e2e/framework"
)

// realPodsMesh is two clusters or more (their own, started for real
// nodes) with a real node each, kubelet and containerd in the node's
// namespace on a shared underlay, kube-proxy, CoreDNS and meshapi's agent
// running on them as Pods, every pair of clusters connected with overlay
// routing.
type realPodsMesh struct {
	t    *testing.T
	topo *framework.Topology
	// a and b are the first two clusters, na and nb their nodes.
	a, b   *framework.Cluster
	na, nb *framework.RealNode
	// clusters are every cluster (a, b, then the others), nodes their
	// nodes in the same order.
	clusters []*framework.Cluster
	nodes    []*framework.RealNode
	images   *framework.NodeImages
}

// realPodsOptions change the mesh newRealPodsMeshWith builds; the zero
// value is newRealPodsMesh's.
type realPodsOptions struct {
	// Clusters is the number of clusters, 2 when 0; at most 3 (the pools
	// and node addresses below).
	Clusters int
	// ClustersetDNS installs the MCS CRDs and has CoreDNS answer
	// clusterset.local in every cluster (framework.NodeAddonOptions).
	ClustersetDNS bool
}

// The host's address on the real-pods underlay: kube-apiservers of
// clusters with real nodes listen there.
var realPodsHost = netip.MustParsePrefix("198.18.0.253/24")

// Per cluster of a real-Pods mesh: its pool, and its node's address
// (198.18.0.11 for A, .21 for B, .31 for C).
var (
	realPodsPools = []netip.Prefix{netip.MustParsePrefix("198.18.90.0/24"), netip.MustParsePrefix("198.18.91.0/24"), netip.MustParsePrefix("198.18.92.0/24")}
	realPodsNodes = []netip.Prefix{netip.MustParsePrefix("198.18.0.11/24"), netip.MustParsePrefix("198.18.0.21/24"), netip.MustParsePrefix("198.18.0.31/24")}
)

// newRealPodsMesh builds the two-cluster mesh for one test; everything
// is undone when the test ends.
func newRealPodsMesh(t *testing.T, name string, namespaces ...string) *realPodsMesh {
	t.Helper()
	return newRealPodsMeshWith(t, name, realPodsOptions{}, namespaces...)
}

// newRealPodsMeshWith builds the mesh opts describe for one test;
// everything is undone when the test ends.
func newRealPodsMeshWith(t *testing.T, name string, opts realPodsOptions, namespaces ...string) *realPodsMesh {
	t.Helper()
	n := opts.Clusters
	if n == 0 {
		n = 2
	}
	if n < 2 || n > len(realPodsPools) {
		t.Fatalf("a real-Pods mesh of %d clusters: want 2 to %d", n, len(realPodsPools))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	t.Cleanup(cancel)
	start := time.Now()
	dir := t.TempDir()
	m := &realPodsMesh{t: t}
	u := newRealPodsUnderlay(t, name)
	m.clusters = startRealPodsClusters(ctx, t, dir, name, n)
	m.a, m.b = m.clusters[0], m.clusters[1]
	var err error
	m.topo, err = framework.NewTopology(ctx, m.a, m.b, framework.TopologyConfig{Name: name, VXLANPort: dpVXLANPort,
		Namespaces: namespaces, Pools: [2]netip.Prefix{realPodsPools[0], realPodsPools[1]}, Underlay: u, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.topo.Close(); err != nil {
			t.Error(err)
		}
	})
	for i, c := range m.clusters[2:] {
		if err := m.topo.AddCluster(ctx, c, realPodsPools[2+i]); err != nil {
			t.Fatal(err)
		}
	}
	if m.images, err = framework.BuildNodeImages(ctx, dir); err != nil {
		t.Fatal(err)
	}
	m.addNodes(ctx, framework.NodeAddonOptions{ClustersetDNS: opts.ClustersetDNS})
	if err := m.topo.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("real-pods mesh %s (%d clusters) ready in %s", name, n, time.Since(start).Round(time.Second))
	return m
}

// newRealPodsUnderlay creates the mesh's underlay linked to the host at
// realPodsHost; both go when the test ends.
func newRealPodsUnderlay(t *testing.T, name string) *framework.Underlay {
	t.Helper()
	u, err := framework.NewUnderlay("m" + name + "-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := u.NS.Delete(); err != nil {
			t.Error(err)
		}
	})
	host, err := u.AddHost(realPodsHost)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := host.Delete(); err != nil {
			t.Error(err)
		}
	})
	return u
}

// addNodes installs every cluster's node add-ons, adds its real node
// ("a1", "b1", "c1") and waits until all are Ready.
func (m *realPodsMesh) addNodes(ctx context.Context, opts framework.NodeAddonOptions) {
	m.t.Helper()
	for i, c := range m.clusters {
		if err := m.topo.InstallNodeAddonsWith(ctx, c, m.images, realPodsPools[i], opts); err != nil {
			m.t.Fatal(err)
		}
	}
	for i, c := range m.clusters {
		n, err := m.topo.AddRealNode(ctx, c, fmt.Sprintf("%c1", 'a'+i), realPodsNodes[i], m.images)
		if err != nil {
			m.t.Fatal(err)
		}
		m.nodes = append(m.nodes, n)
	}
	m.na, m.nb = m.nodes[0], m.nodes[1]
	for _, n := range m.nodes {
		if err := m.topo.WaitRealNodeReady(ctx, n, 5*time.Minute); err != nil {
			m.t.Fatal(err)
		}
	}
}

// startRealPodsClusters starts the mesh's n clusters side by side,
// listening on the host's underlay address.
func startRealPodsClusters(ctx context.Context, t *testing.T, dir, name string, n int) []*framework.Cluster {
	t.Helper()
	bins, err := framework.FindBinaries(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, tool := range []string{"kubelet", "containerd", "ctr", "kube-scheduler", "ocimage"} {
		if _, err := os.Stat(filepath.Join(framework.RepoRoot(), "bin", tool)); err != nil {
			t.Fatalf("bin/%s is missing (hack/build-tools.sh builds it): %v", tool, err)
		}
	}
	return startClustersOn(ctx, t, dir, name, bins, n, framework.ClusterOptions{NodeAddress: realPodsHost.Addr()})
}

// eventually waits up to two minutes for cond, failing the test with
// the problems in the nodes' logs and what more describe adds.
func (m *realPodsMesh) eventually(what string, cond func() (bool, string), describe ...func() string) {
	m.t.Helper()
	if err := framework.Poll(context.Background(), 2*time.Minute, what, cond); err != nil {
		var more strings.Builder
		for _, d := range describe {
			more.WriteString(d())
		}
		for _, n := range m.nodes {
			more.WriteString(n.Problems(20))
		}
		m.t.Fatalf("%v\n%s", err, more.String())
	}
}

// agnhostPod is a Pod running agnhost with args, its containers named
// after the first argument, the image used as imported.
func (m *realPodsMesh) agnhostPod(ns, name string, labels map[string]string, args ...[]string) string {
	var lbl []string
	for k, v := range labels {
		lbl = append(lbl, fmt.Sprintf("%s: %q", k, v))
	}
	sort.Strings(lbl)
	var ctrs strings.Builder
	for i, a := range args {
		q, _ := json.Marshal(a)
		fmt.Fprintf(&ctrs, "  - name: c%d\n    image: %s\n    imagePullPolicy: Never\n    args: %s\n", i, m.images.Agnhost, q)
	}
	return fmt.Sprintf("apiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\n  namespace: %s\n  labels: {%s}\nspec:\n  terminationGracePeriodSeconds: 1\n  containers:\n%s",
		name, ns, strings.Join(lbl, ", "), ctrs.String())
}

// runPods creates the Pods in c and waits until they are Ready,
// returning their IPs by name.
func (m *realPodsMesh) runPods(c *framework.Cluster, ns string, manifests ...string) map[string]string {
	m.t.Helper()
	kubectl(m.t, c, strings.Join(manifests, "---\n"), "apply", "-f", "-")
	ips := map[string]string{}
	m.eventually("Pods Ready in "+c.Name+"/"+ns, func() (bool, string) {
		pods, err := m.topo.Kube[c].CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return false, err.Error()
		}
		var state []string
		ready := len(pods.Items) > 0
		for _, p := range pods.Items {
			ok := p.Status.PodIP != ""
			for _, cond := range p.Status.Conditions {
				if cond.Type == "Ready" && cond.Status != "True" {
					ok = false
				}
			}
			ready = ready && ok
			ips[p.Name] = p.Status.PodIP
			state = append(state, fmt.Sprintf("%s %s %s", p.Name, p.Status.Phase, p.Status.PodIP))
		}
		return ready, strings.Join(state, "; ")
	}, func() string { return framework.DescribePods(context.Background(), m.topo.Kube[c], ns) })
	return ips
}

// dial asks the agnhost netexec server at clientIP:8080 (a Pod on node n)
// to make one HTTP request for /hostname to host:port (its /dial, as
// Kubernetes' own network e2e tests use it) and returns the answers. The
// request to the client is sent from inside n's namespace, as from a
// hostNetwork Pod.
func dial(n *framework.RealNode, clientIP, host string, port int) ([]string, error) {
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		err := n.Node.NS.Do(func() (err error) {
			c, err = (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, network, addr)
			return err
		})
		return c, err
	}}
	defer tr.CloseIdleConnections()
	q := url.Values{"request": {"hostname"}, "protocol": {"http"}, "host": {host}, "port": {fmt.Sprint(port)}, "tries": {"1"}}
	resp, err := (&http.Client{Transport: tr, Timeout: 15 * time.Second}).Get("http://" + net.JoinHostPort(clientIP, "8080") + "/dial?" + q.Encode())
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	var out struct {
		Responses []string `json:"responses"`
		Errors    []string `json:"errors"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, fmt.Errorf("/dial answered %q: %w", body, err)
	}
	if len(out.Errors) > 0 {
		return out.Responses, fmt.Errorf("/dial errors: %v", out.Errors)
	}
	return out.Responses, nil
}

// reviewsFQDN is the federated Service's DNS name in cluster A.
const reviewsFQDN = "reviews.bookinfo.svc.cluster.local"

// Issue 16, with real Pods: bookinfo as in the concepts seed. reviews is
// backed in cluster A (reviews-1: reviews-v1) and in B (reviews-23:
// reviews-v2, reviews-v3); A's federated Service reviews selects every
// Service labelled app: reviews. The productpage Pod in A asks for
// reviews.bookinfo.svc.cluster.local:9080, resolved by CoreDNS, its
// ClusterIP translated by kube-proxy to the federated EndpointSlices,
// and gets answers from all three backends. With cluster B's
// kube-apiserver stopped, A keeps B's last-known endpoints and B's Pods
// keep answering; once B's backends are deleted, only A's answers.
func TestRealPodsFederatedServiceDNS(t *testing.T) {
	const ns = "bookinfo"
	m := newRealPodsMesh(t, "rpd", ns)
	netexec := []string{"netexec", "--http-port=9080", "--udp-port=-1"}
	backing := func(name, selector string) string {
		return fmt.Sprintf(`apiVersion: v1
kind: Service
metadata:
  name: %s
  namespace: %s
  labels:
    app: reviews
spec:
  selector:
    backing: %s
  ports:
  - name: http
    port: 9080
    targetPort: 9080
`, name, ns, selector)
	}
	ipsA := m.runPods(m.a, ns,
		m.agnhostPod(ns, "reviews-v1", map[string]string{"backing": "reviews-1", "version": "v1"}, netexec),
		m.agnhostPod(ns, "productpage", map[string]string{"app": "productpage"}, []string{"netexec", "--http-port=8080", "--udp-port=-1"}),
		backing("reviews-1", "reviews-1"))
	m.runPods(m.b, ns,
		m.agnhostPod(ns, "reviews-v2", map[string]string{"backing": "reviews-23", "version": "v2"}, netexec),
		m.agnhostPod(ns, "reviews-v3", map[string]string{"backing": "reviews-23", "version": "v3"}, netexec),
		backing("reviews-23", "reviews-23"))
	kubectl(t, m.a, fmt.Sprintf(`apiVersion: v1
kind: Service
metadata:
  name: reviews
  namespace: %s
  annotations:
    federation.tigera.io/serviceSelector: app == "reviews"
spec:
  ports:
  - name: http
    port: 9080
    protocol: TCP
`, ns), "apply", "-f", "-")
	client := ipsA["productpage"]

	// answers collects the hostnames productpage gets from reviews in
	// rounds requests.
	answers := func(rounds int) (map[string]int, string) {
		got := map[string]int{}
		var errs []string
		for range rounds {
			r, err := dial(m.na, client, reviewsFQDN, 9080)
			if err != nil {
				errs = append(errs, err.Error())
			}
			for _, h := range r {
				got[h]++
			}
		}
		return got, fmt.Sprintf("answers %v, errors %v", got, errs)
	}
	// allIn is a condition: rounds requests answered by every one of
	// want and nobody else. With three backends chosen at random, 12
	// rounds miss one of them by chance about once in 40 tries; 36,
	// once in 700,000.
	allIn := func(rounds int, want ...string) func() (bool, string) {
		return func() (bool, string) {
			got, state := answers(rounds)
			for _, w := range want {
				if got[w] == 0 {
					return false, state
				}
			}
			return len(got) == len(want), state
		}
	}
	all := func(want ...string) func() (bool, string) { return allIn(12, want...) }
	// federatedSlices shows A's federated EndpointSlices, for failures.
	federatedSlices := func() string {
		out, err := m.a.Kubectl(context.Background(), "", "get", "endpointslices", "-n", ns,
			"-l", "kubernetes.io/service-name=reviews", "-o", "yaml")
		return fmt.Sprintf("cluster A's EndpointSlices of reviews (%v):\n%s", err, out)
	}

	// kubectl exec into the client: the name resolves and connects.
	m.eventually("productpage connects to "+reviewsFQDN, func() (bool, string) {
		out, err := m.a.Kubectl(context.Background(), "", "exec", "-n", ns, "productpage", "--", "/agnhost", "connect", "--timeout=3s", reviewsFQDN+":9080")
		return err == nil, out + fmt.Sprint(err)
	})
	m.eventually("answers from both clusters' backends", all("reviews-v1", "reviews-v2", "reviews-v3"))

	// B's API server stops: A keeps B's last-known endpoints, B's Pods
	// keep serving.
	if err := m.b.StopKubeAPIServer(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Second) // several of the controller's resyncs and watch retries
	if ok, state := allIn(36, "reviews-v1", "reviews-v2", "reviews-v3")(); !ok {
		t.Errorf("with cluster B's kube-apiserver stopped, productpage's answers: %s; want all three backends (last-known endpoints)\n%s", state, federatedSlices())
	}
	// B's meshapi-controller lost its leader Lease with its API server
	// and exited, as it does; its Deployment would restart it: here the
	// test does, once the API (and the aggregated one) answers again.
	ctx := context.Background()
	if err := m.b.StartKubeAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	if err := m.b.WaitAPIServiceAvailable(ctx, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := m.b.StartController(ctx); err != nil {
		t.Fatal(err)
	}

	// B's backends go: only A's answer.
	kubectl(t, m.b, "", "delete", "pod", "reviews-v2", "reviews-v3", "-n", ns, "--wait=true", "--timeout=90s")
	m.eventually("answers from A's backend only", all("reviews-v1"))
}

// Issue 16, with real Pods: the seeds' default.app-to-db applied as
// written in cluster A. A's backend-app Pod reaches B's postgres Pod on
// TCP 5432 and is refused on 8080; A's Pod without the label reaches
// both; deleting the policy restores the default.
func TestRealPodsPolicy(t *testing.T) {
	const ns = "myapp"
	m := newRealPodsMesh(t, "rpp", ns)
	serve := func(port int) []string {
		return []string{"netexec", fmt.Sprintf("--http-port=%d", port), "--udp-port=-1"}
	}
	m.runPods(m.a, ns,
		m.agnhostPod(ns, "backend-0", map[string]string{"app": "backend-app"}, serve(8080)),
		m.agnhostPod(ns, "plain-0", map[string]string{"role": "plain"}, serve(8080)))
	ipsB := m.runPods(m.b, ns, m.agnhostPod(ns, "postgres-0", map[string]string{"app": "postgres"}, serve(5432), serve(8080)))
	db, other := net.JoinHostPort(ipsB["postgres-0"], "5432"), net.JoinHostPort(ipsB["postgres-0"], "8080")
	m.eventually("postgres mirrored into "+m.a.Name, func() (bool, string) {
		list, err := m.topo.Clients[m.a].ProjectcalicoV3().WorkloadEndpoints(ns).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return false, err.Error()
		}
		for _, w := range list.Items {
			if strings.HasPrefix(w.Name, m.b.Name+".") && w.Labels["app"] == "postgres" {
				return true, ""
			}
		}
		return false, fmt.Sprint(len(list.Items), " endpoints")
	})
	// connects runs agnhost connect in pod: nil when the TCP handshake
	// to addr completed.
	connects := func(pod, addr string) error {
		_, err := m.a.Kubectl(context.Background(), "", "exec", "-n", ns, pod, "--", "/agnhost", "connect", "--timeout=2s", addr)
		return err
	}
	expect := func(when, pod, addr string, allowed bool) {
		t.Helper()
		m.eventually(fmt.Sprintf("%s: %s -> %s allowed=%v", when, pod, addr, allowed), func() (bool, string) {
			err := connects(pod, addr)
			return (err == nil) == allowed, fmt.Sprint(err)
		})
	}
	for _, pod := range []string{"backend-0", "plain-0"} {
		for _, addr := range []string{db, other} {
			expect("before the policy", pod, addr, true)
		}
	}
	kubectl(t, m.a, "", "apply", "-f", seed("000-networkpolicy-app-to-db.yaml"))
	expect("under the policy", "backend-0", other, false)
	for _, c := range []struct {
		pod, addr string
	}{{"backend-0", db}, {"plain-0", db}, {"plain-0", other}} {
		if err := connects(c.pod, c.addr); err != nil {
			t.Errorf("under the policy: %s -> %s refused, want allowed: %v", c.pod, c.addr, err)
		}
	}
	kubectl(t, m.a, "", "delete", "-f", seed("000-networkpolicy-app-to-db.yaml"))
	expect("after the policy's deletion", "backend-0", other, true)
}
