// TestClustersetDNS needs bin/coredns, which hack/build-tools.sh builds
// with the node components (make test builds them).

package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/yaml"

	"github.com/meshapi/meshapi/test/e2e/framework"
)

// The objects TestClustersetDNS answers from: what an MCS controller
// (KEP-1645) writes into the importing cluster. "web" is a ClusterSetIP
// import (with an EndpointSlice that must not leak into its answers),
// "db" a Headless one exported from two clusters (a ready and a not-ready
// endpoint in cluster-b, a ready one with and one without a hostname in
// cluster-c), "v6" an IPv6 ClusterSetIP import. A local Service "web"
// shows that cluster.local and clusterset.local stay apart.
const clustersetDNSObjects = `
apiVersion: multicluster.x-k8s.io/v1alpha1
kind: ServiceImport
metadata: {name: web, namespace: mcsdns}
spec:
  type: ClusterSetIP
  ips: ["198.18.100.10"]
  ports: [{name: http, protocol: TCP, port: 80}]
---
apiVersion: multicluster.x-k8s.io/v1alpha1
kind: ServiceImport
metadata: {name: db, namespace: mcsdns}
spec:
  type: Headless
  ports: [{name: pg, protocol: TCP, port: 5432}]
---
apiVersion: multicluster.x-k8s.io/v1alpha1
kind: ServiceImport
metadata: {name: v6, namespace: mcsdns}
spec:
  type: ClusterSetIP
  ips: ["2001:db8::10"]
  ports: [{name: http, protocol: TCP, port: 80}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-cluster-b
  namespace: mcsdns
  labels:
    multicluster.kubernetes.io/service-name: web
    multicluster.kubernetes.io/source-cluster: cluster-b
    endpointslice.kubernetes.io/managed-by: e2e.meshapi.io
addressType: IPv4
ports: [{name: http, protocol: TCP, port: 8080}]
endpoints:
  - addresses: ["198.18.1.9"]
    conditions: {ready: true}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: db-cluster-b
  namespace: mcsdns
  labels:
    multicluster.kubernetes.io/service-name: db
    multicluster.kubernetes.io/source-cluster: cluster-b
    endpointslice.kubernetes.io/managed-by: e2e.meshapi.io
addressType: IPv4
ports: [{name: pg, protocol: TCP, port: 5432}]
endpoints:
  - addresses: ["198.18.1.1"]
    hostname: db-0
    conditions: {ready: true}
  - addresses: ["198.18.1.2"]
    hostname: db-1
    conditions: {ready: false}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: db-cluster-c
  namespace: mcsdns
  labels:
    multicluster.kubernetes.io/service-name: db
    multicluster.kubernetes.io/source-cluster: cluster-c
    endpointslice.kubernetes.io/managed-by: e2e.meshapi.io
addressType: IPv4
ports: [{name: pg, protocol: TCP, port: 5432}]
endpoints:
  - addresses: ["198.18.2.1"]
    hostname: db-0
    conditions: {ready: true}
  - addresses: ["198.18.2.7"]
    conditions: {ready: true}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: mcsdns}
spec:
  ports: [{name: http, protocol: TCP, port: 80, targetPort: 8080}]
`

// dnsCase is a question and the answer expected, written as dnsOutcome
// renders it.
type dnsCase struct {
	name  string
	qtype uint16
	want  string
}

// TestClustersetDNS runs the CoreDNS that hack/build-tools.sh builds
// (bin/coredns, or $COREDNS) on loopback with the Corefile of
// artifacts/mcs/coredns/corefile.yaml, as the coredns service account with
// kubeadm's RBAC plus artifacts/mcs/coredns/rbac.yaml, against cluster-a's
// kube-apiserver with the ServiceImport CRD installed, and asks it with a
// DNS client: clusterset.local names of ClusterSetIP and Headless imports,
// NXDOMAIN against NODATA, the TTL, readiness only once ServiceImports can
// be listed, and answers that follow the objects.
func TestClustersetDNS(t *testing.T) {
	c := clusters[0]
	ctx := ctxT(t)
	installServiceImportCRD(t, c)
	applyKubeadmCoreDNSRBAC(t, c)
	mcsRBAC := filepath.Join(framework.ArtifactsDir(), "mcs", "coredns", "rbac.yaml")
	// The precondition of the readiness check: no MCS role bound yet.
	kubectl(t, c, "", "delete", "--ignore-not-found", "-f", mcsRBAC)

	createNamespace(t, c, "mcsdns")
	t.Cleanup(func() {
		kubectl(t, c, "", "delete", "namespace", "mcsdns", "--timeout=2m")
	})
	kubectl(t, c, clustersetDNSObjects, "apply", "-f", "-")

	srv := startCoreDNS(t, c)
	kubernetesIP := strings.TrimSpace(kubectl(t, c, "", "-n", "default", "get", "service", "kubernetes", "-o", "jsonpath={.spec.clusterIP}"))

	// Without the MCS role the ServiceImport informer cannot list: the
	// server runs (after the kubernetes plugin's startup_timeout) and
	// answers cluster.local from its synced caches, but is not ready and
	// answers SERVFAIL where it would answer NXDOMAIN.
	srv.waitFor(t, dnsCase{"kubernetes.default.svc.cluster.local.", dns.TypeA, "NOERROR [A " + kubernetesIP + "]"}, time.Minute)
	if code := srv.readyStatus(ctx); code != http.StatusServiceUnavailable {
		t.Fatalf("/ready without ServiceImport RBAC: %d, want 503\n%s", code, srv.log.String())
	}
	srv.expect(t, dnsCase{"missing.default.svc.cluster.local.", dns.TypeA, "SERVFAIL []"})

	kubectl(t, c, "", "apply", "-f", mcsRBAC)
	srv.waitReady(t, ctx, 2*time.Minute)

	localWeb := strings.TrimSpace(kubectl(t, c, "", "-n", "mcsdns", "get", "service", "web", "-o", "jsonpath={.spec.clusterIP}"))
	for _, tc := range clustersetDNSCases(kubernetesIP, localWeb) {
		srv.expect(t, tc)
	}
	checkClustersetDNSUpdates(t, c, srv)
}

// clustersetDNSCases are the answers to clustersetDNSObjects.
func clustersetDNSCases(kubernetesIP, localWeb string) []dnsCase {
	const z = ".mcsdns.svc.clusterset.local."
	return []dnsCase{
		// ClusterSetIP: spec.ips, never the endpoints.
		{"web" + z, dns.TypeA, "NOERROR [A 198.18.100.10]"},
		{"web" + z, dns.TypeAAAA, "NOERROR []"},
		{"_http._tcp.web" + z, dns.TypeSRV, "NOERROR [SRV 80 web" + z + "]"},
		{"_pg._tcp.web" + z, dns.TypeSRV, "NXDOMAIN []"},
		{"v6" + z, dns.TypeAAAA, "NOERROR [AAAA 2001:db8::10]"},
		{"v6" + z, dns.TypeA, "NOERROR []"},
		// Headless: every ready endpoint of every source cluster.
		{"db" + z, dns.TypeA, "NOERROR [A 198.18.1.1, A 198.18.2.1, A 198.18.2.7]"},
		{"db" + z, dns.TypeAAAA, "NOERROR []"},
		{"_pg._tcp.db" + z, dns.TypeSRV, "NOERROR [SRV 5432 198-18-2-7.cluster-c.db" + z + ", SRV 5432 db-0.cluster-b.db" + z + ", SRV 5432 db-0.cluster-c.db" + z + "]"},
		{"db-0.cluster-b.db" + z, dns.TypeA, "NOERROR [A 198.18.1.1]"},
		{"db-0.cluster-c.db" + z, dns.TypeA, "NOERROR [A 198.18.2.1]"},
		{"198-18-2-7.cluster-c.db" + z, dns.TypeA, "NOERROR [A 198.18.2.7]"},
		{"db-1.cluster-b.db" + z, dns.TypeA, "NXDOMAIN []"}, // not ready
		{"db-0.cluster-x.db" + z, dns.TypeA, "NXDOMAIN []"},
		{"db-0.db" + z, dns.TypeA, "NXDOMAIN []"}, // no cluster label
		// Names of nothing, and the namespace itself.
		{"missing" + z, dns.TypeA, "NXDOMAIN []"},
		{"web.nowhere.svc.clusterset.local.", dns.TypeA, "NXDOMAIN []"},
		{"mcsdns.svc.clusterset.local.", dns.TypeA, "NOERROR []"},
		// cluster.local is answered from Services as before.
		{"web.mcsdns.svc.cluster.local.", dns.TypeA, "NOERROR [A " + localWeb + "]"},
		{"kubernetes.default.svc.cluster.local.", dns.TypeA, "NOERROR [A " + kubernetesIP + "]"},
	}
}

// checkClustersetDNSUpdates changes the objects as an MCS controller does
// when exports change and waits for the answers to follow.
func checkClustersetDNSUpdates(t *testing.T, c *framework.Cluster, srv *corednsProcess) {
	const z = ".mcsdns.svc.clusterset.local."
	// cluster-c unexports db.
	kubectl(t, c, "", "-n", "mcsdns", "delete", "endpointslice", "db-cluster-c")
	srv.waitFor(t, dnsCase{"db" + z, dns.TypeA, "NOERROR [A 198.18.1.1]"}, 30*time.Second)
	srv.expect(t, dnsCase{"db-0.cluster-c.db" + z, dns.TypeA, "NXDOMAIN []"})
	// db-1 in cluster-b becomes ready.
	kubectl(t, c, "", "-n", "mcsdns", "patch", "endpointslice", "db-cluster-b", "--type=json",
		"-p", `[{"op":"replace","path":"/endpoints/1/conditions/ready","value":true}]`)
	srv.waitFor(t, dnsCase{"db-1.cluster-b.db" + z, dns.TypeA, "NOERROR [A 198.18.1.2]"}, 30*time.Second)
	// The ClusterSetIP changes, then the import goes away.
	kubectl(t, c, "", "-n", "mcsdns", "patch", "serviceimports.v1alpha1.multicluster.x-k8s.io", "web", "--type=merge",
		"-p", `{"spec":{"ips":["198.18.100.11"]}}`)
	srv.waitFor(t, dnsCase{"web" + z, dns.TypeA, "NOERROR [A 198.18.100.11]"}, 30*time.Second)
	kubectl(t, c, "", "-n", "mcsdns", "delete", "serviceimports.v1alpha1.multicluster.x-k8s.io", "web")
	srv.waitFor(t, dnsCase{"web" + z, dns.TypeA, "NXDOMAIN []"}, 30*time.Second)
}

// installServiceImportCRD installs the ServiceImport CRD of mcs-api v0.5.2
// (artifacts/mcs's copy where there is one, else the module's, which
// hack/tools/coredns/go.mod pins through CoreDNS) and waits until it is
// Established. It stays: other MCS tests use it.
func installServiceImportCRD(t *testing.T, c *framework.Cluster) {
	t.Helper()
	const file = "multicluster.x-k8s.io_serviceimports.yaml"
	crd := filepath.Join(framework.ArtifactsDir(), "mcs", file)
	if _, err := os.Stat(crd); err != nil {
		cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/mcs-api")
		cmd.Dir = filepath.Join(framework.RepoRoot(), "hack", "tools", "coredns")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("locating sigs.k8s.io/mcs-api from hack/tools/coredns: %v", err)
		}
		crd = filepath.Join(strings.TrimSpace(string(out)), "config", "crd", file)
	}
	kubectl(t, c, "", "apply", "-f", crd)
	kubectl(t, c, "", "wait", "--for=condition=Established", "--timeout=60s", "crd/serviceimports.multicluster.x-k8s.io")
}

// applyKubeadmCoreDNSRBAC applies the coredns ServiceAccount and the
// system:coredns ClusterRole and binding of test/e2e/testdata/coredns.yaml
// (kubeadm's), nothing else of that file. They stay, as a cluster's DNS
// add-on leaves them.
func applyKubeadmCoreDNSRBAC(t *testing.T, c *framework.Cluster) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(framework.TestdataDir(), "coredns.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var rbac []string
	for _, doc := range strings.Split(string(b), "\n---\n") {
		var o struct{ Kind string }
		if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
			t.Fatalf("testdata/coredns.yaml: %v", err)
		}
		if o.Kind == "ServiceAccount" || o.Kind == "ClusterRole" || o.Kind == "ClusterRoleBinding" {
			rbac = append(rbac, doc)
		}
	}
	if len(rbac) != 3 {
		t.Fatalf("testdata/coredns.yaml: %d RBAC documents, want the ServiceAccount, ClusterRole and ClusterRoleBinding", len(rbac))
	}
	kubectl(t, c, strings.Join(rbac, "\n---\n"), "apply", "-f", "-")
}

// corednsProcess is bin/coredns running on loopback for one test.
type corednsProcess struct {
	dnsAddr  string
	readyURL string
	log      *syncBuffer
}

// startCoreDNS writes a kubeconfig of the kube-system/coredns service
// account and the loopback Corefile, starts CoreDNS and stops it when the
// test ends.
func startCoreDNS(t *testing.T, c *framework.Cluster) *corednsProcess {
	t.Helper()
	bin := os.Getenv("COREDNS")
	if bin == "" {
		bin = filepath.Join(framework.RepoRoot(), "bin", "coredns")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("CoreDNS: %v (hack/build-tools.sh coredns builds it, or set $COREDNS)", err)
	}
	dir := t.TempDir()
	kubeconfig := writeServiceAccountKubeconfig(t, c, dir, "kube-system", "coredns")
	ports := freeLoopbackPorts(t, 4)
	artifact, err := os.ReadFile(filepath.Join(framework.ArtifactsDir(), "mcs", "coredns", "corefile.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	corefile, err := loopbackCorefile(artifact, kubeconfig, ports)
	if err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "Corefile")
	if err := os.WriteFile(conf, []byte(corefile), 0o600); err != nil {
		t.Fatal(err)
	}
	p := &corednsProcess{
		dnsAddr:  fmt.Sprintf("127.0.0.1:%d", ports[0]),
		readyURL: fmt.Sprintf("http://127.0.0.1:%d/ready", ports[2]),
		log:      &syncBuffer{},
	}
	cmd := exec.Command(bin, "-conf", conf)
	cmd.Stdout, cmd.Stderr = p.log, p.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("CoreDNS log:\n%s", p.log.String())
		}
	})
	return p
}

// loopbackCorefile is the Corefile of the ConfigMap in artifact changed
// only so that it runs as a process of the test: served on 127.0.0.1 at
// ports[0] (health, ready and metrics at ports[1..3]), the kubernetes
// plugin reaching the API with kubeconfig instead of in-cluster, and
// without cache (whose 30 s would hide the updates the test waits for) and
// loop (which needs a forward upstream that answers). Every change must
// find its line, so the test follows the artifact.
func loopbackCorefile(artifact []byte, kubeconfig string, ports []int) (string, error) {
	var cm struct {
		Data struct {
			Corefile string `json:"Corefile"`
		} `json:"data"`
	}
	if err := yaml.Unmarshal(artifact, &cm); err != nil {
		return "", fmt.Errorf("parsing the coredns ConfigMap: %w", err)
	}
	corefile := cm.Data.Corefile
	for _, r := range []struct{ old, new string }{
		{".:53 {", fmt.Sprintf(".:%d {\n    bind 127.0.0.1", ports[0])},
		{"    health {", fmt.Sprintf("    health 127.0.0.1:%d {", ports[1])},
		{"    ready\n", fmt.Sprintf("    ready 127.0.0.1:%d\n", ports[2])},
		{"prometheus :9153", fmt.Sprintf("prometheus 127.0.0.1:%d", ports[3])},
		{"       multicluster clusterset.local\n", "       multicluster clusterset.local\n       kubeconfig " + kubeconfig + "\n"},
		{"    cache 30\n", ""},
		{"    loop\n", ""},
	} {
		if strings.Count(corefile, r.old) != 1 {
			return "", fmt.Errorf("the Corefile has %d of %q, want 1:\n%s", strings.Count(corefile, r.old), r.old, corefile)
		}
		corefile = strings.Replace(corefile, r.old, r.new, 1)
	}
	return corefile, nil
}

// writeServiceAccountKubeconfig writes into dir a kubeconfig that reaches
// c's kube-apiserver with a real token of the service account.
func writeServiceAccountKubeconfig(t *testing.T, c *framework.Cluster, dir, namespace, name string) string {
	t.Helper()
	sa, err := c.ServiceAccountConfig(ctxT(t), namespace, name)
	if err != nil {
		t.Fatal(err)
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["c"] = &clientcmdapi.Cluster{Server: sa.Host, CertificateAuthorityData: c.Config.CAData, CertificateAuthority: c.Config.CAFile}
	cfg.AuthInfos["sa"] = &clientcmdapi.AuthInfo{Token: sa.BearerToken}
	cfg.Contexts["sa"] = &clientcmdapi.Context{Cluster: "c", AuthInfo: "sa"}
	cfg.CurrentContext = "sa"
	path := filepath.Join(dir, name+".kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// freeLoopbackPorts returns n ports free for TCP and UDP on 127.0.0.1.
func freeLoopbackPorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	var held []net.Listener
	defer func() {
		for _, l := range held {
			l.Close()
		}
	}()
	for len(ports) < n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, l)
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		u.Close()
		ports = append(ports, port)
	}
	return ports
}

// readyStatus is the HTTP status of the ready plugin's /ready, 0 if it
// does not answer.
func (p *corednsProcess) readyStatus(ctx context.Context) int {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.readyURL, nil)
	if err != nil {
		return 0
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// waitReady waits until /ready answers 200.
func (p *corednsProcess) waitReady(t *testing.T, ctx context.Context, timeout time.Duration) {
	t.Helper()
	err := framework.Poll(ctx, timeout, "CoreDNS /ready", func() (bool, string) {
		code := p.readyStatus(ctx)
		return code == http.StatusOK, fmt.Sprintf("status %d", code)
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, p.log.String())
	}
}

// expect asks tc's question once and fails the test unless the answer is
// tc.want.
func (p *corednsProcess) expect(t *testing.T, tc dnsCase) {
	t.Helper()
	if got := p.ask(tc); got != tc.want {
		t.Errorf("%s %s: %s, want %s", dns.TypeToString[tc.qtype], tc.name, got, tc.want)
	}
}

// waitFor asks tc's question until the answer is tc.want.
func (p *corednsProcess) waitFor(t *testing.T, tc dnsCase, timeout time.Duration) {
	t.Helper()
	err := framework.Poll(ctxT(t), timeout, dns.TypeToString[tc.qtype]+" "+tc.name+" answered "+tc.want, func() (bool, string) {
		got := p.ask(tc)
		return got == tc.want, got
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, p.log.String())
	}
}

// ask sends tc's question over UDP and renders the answer with dnsOutcome.
func (p *corednsProcess) ask(tc dnsCase) string {
	m := new(dns.Msg)
	m.SetQuestion(tc.name, tc.qtype)
	client := &dns.Client{Net: "udp", Timeout: 2 * time.Second}
	r, _, err := client.Exchange(m, p.dnsAddr)
	if err != nil {
		return "error: " + err.Error()
	}
	return dnsOutcome(r, 30)
}

// dnsOutcome renders a response as "RCODE [answers]", the answers sorted
// and without their TTLs, with a complaint appended where an answer's TTL
// is not ttl or a negative answer (no answers) has no SOA to cache it by.
func dnsOutcome(r *dns.Msg, ttl uint32) string {
	var answers, problems []string
	for _, rr := range r.Answer {
		switch rr := rr.(type) {
		case *dns.A:
			answers = append(answers, "A "+rr.A.String())
		case *dns.AAAA:
			answers = append(answers, "AAAA "+rr.AAAA.String())
		case *dns.SRV:
			answers = append(answers, fmt.Sprintf("SRV %d %s", rr.Port, rr.Target))
		default:
			answers = append(answers, rr.String())
		}
		if rr.Header().Ttl != ttl {
			problems = append(problems, fmt.Sprintf("TTL %d of %s", rr.Header().Ttl, rr.Header().Name))
		}
	}
	if len(r.Answer) == 0 && r.Rcode != dns.RcodeServerFailure && !slices.ContainsFunc(r.Ns, func(rr dns.RR) bool { return rr.Header().Rrtype == dns.TypeSOA }) {
		problems = append(problems, "no SOA in the authority section")
	}
	slices.Sort(answers)
	out := fmt.Sprintf("%s [%s]", dns.RcodeToString[r.Rcode], strings.Join(answers, ", "))
	if len(problems) > 0 {
		out += " (" + strings.Join(problems, "; ") + ")"
	}
	return out
}
