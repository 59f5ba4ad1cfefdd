package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	mcsv1alpha1 "sigs.k8s.io/mcs-api/pkg/apis/v1alpha1"

	"github.com/meshapi/meshapi/test/e2e/framework"
)

// clustersetName is the clusterset.local DNS name of the Service name
// exported from mcsNamespace (KEP-1645).
func clustersetName(name string) string {
	return name + "." + mcsNamespace + ".svc.clusterset.local"
}

// mcsService is a Service of mcsNamespace selecting app: selector with
// ports "name:port/PROTO" (target port 8080, agnhost netexec's), headless
// when clusterIP is "None".
func mcsService(name, selector, clusterIP string, ports ...string) string {
	var ps strings.Builder
	for _, p := range ports {
		n, rest, _ := strings.Cut(p, ":")
		num, proto, _ := strings.Cut(rest, "/")
		fmt.Fprintf(&ps, "  - name: %s\n    port: %s\n    targetPort: 8080\n    protocol: %s\n", n, num, proto)
	}
	ip := ""
	if clusterIP != "" {
		ip = "\n  clusterIP: " + clusterIP
	}
	return fmt.Sprintf("apiVersion: v1\nkind: Service\nmetadata:\n  name: %s\n  namespace: %s\nspec:%s\n  selector:\n    app: %s\n  ports:\n%s",
		name, mcsNamespace, ip, selector, ps.String())
}

// answers has the agnhost netexec Pod at clientIP (on node n) make rounds
// requests for /hostname to host:port and counts the hostnames answering;
// the string says what came back, errors included.
func (m *realPodsMesh) answers(n *framework.RealNode, clientIP, host string, port, rounds int) (map[string]int, string) {
	got := map[string]int{}
	var errs []string
	for range rounds {
		r, err := dial(n, clientIP, host, port)
		if err != nil {
			errs = append(errs, err.Error())
		}
		for _, h := range r {
			got[h]++
		}
	}
	return got, fmt.Sprintf("answers %v, errors %v", got, errs)
}

// answeredBy is a condition for eventually: 12 requests to host:port from
// the client answered by every one of want and nobody else.
func (m *realPodsMesh) answeredBy(n *framework.RealNode, clientIP, host string, port int, want ...string) func() (bool, string) {
	return func() (bool, string) {
		got, state := m.answers(n, clientIP, host, port, 12)
		for _, w := range want {
			if got[w] == 0 {
				return false, state
			}
		}
		return len(got) == len(want), state
	}
}

// importSlices describes the ServiceImport name in every cluster of the
// mesh, for failures.
func (m *realPodsMesh) importSlices(name string) func() string {
	return func() string {
		var s strings.Builder
		for _, c := range m.clusters {
			fmt.Fprintf(&s, "%s: import %s: %s\n", c.Name, name, readImport(m.t, c, name))
		}
		return s.String()
	}
}

// mcsWebPolicy is the NetworkPolicy of TestMCSExportImport (README.md's
// Multi-Cluster Services section shows it): the client may resolve names
// and reach the endpoints behind the import that cluster exports, by
// their labels as mirrored into the importing cluster.
func mcsWebPolicy(cluster string) string {
	return fmt.Sprintf(`apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata:
  name: default.client-to-web
  namespace: %s
spec:
  tier: default
  selector: app == 'client'
  types: [Egress]
  egress:
    - action: Allow
      protocol: UDP
      destination:
        ports: [53]
    - action: Allow
      protocol: TCP
      destination:
        ports: [53]
    - action: Allow
      protocol: TCP
      destination:
        selector: app == 'web' && projectcalico.org/cluster == '%s'
`, mcsNamespace, cluster)
}

// Multi-Cluster Services (KEP-1645) on real Pods, three clusters, each
// with a real node, CoreDNS answering clusterset.local and the MCS
// controller in meshapi-controller. Services web (port 80 to agnhost's
// 8080) exported from B and C are imported in A: a Pod in A reaches
// web.<ns>.svc.clusterset.local (CoreDNS answers the import's
// ClusterSetIP, kube-proxy translates it to the imported EndpointSlices)
// and gets answers from both clusters' backends. A headless db exported
// from B resolves per Pod at <pod>.<cluster>.db.<ns>.svc.clusterset.local.
// A port conflict sets Conflict on the newer export. Unexporting web in C
// removes C's endpoints from every cluster's import and A's answers. A
// projectcalico.org/v3 NetworkPolicy in A whose egress rule selects
// app == 'web' && projectcalico.org/cluster == <B> lets the client reach
// only B's backend through the clusterset name.
func TestMCSExportImport(t *testing.T) {
	const ns = mcsNamespace
	m := newRealPodsMeshWith(t, "mcs", realPodsOptions{Clusters: 3, ClustersetDNS: true}, ns)
	a, b, c := m.clusters[0], m.clusters[1], m.clusters[2]
	na := m.nodes[0]
	for _, cl := range m.clusters {
		installMCS(t, cl)
	}
	netexec := []string{"netexec", "--http-port=8080", "--udp-port=-1"}
	ipsB := m.runPods(b, ns,
		m.agnhostPod(ns, "web-b1", map[string]string{"app": "web"}, netexec),
		m.agnhostPod(ns, "db-b1", map[string]string{"app": "db"}, netexec),
		mcsService("web", "web", "", "http:80/TCP"),
		mcsService("db", "db", "None", "http:8080/TCP"))
	ipsC := m.runPods(c, ns,
		m.agnhostPod(ns, "web-c1", map[string]string{"app": "web"}, netexec),
		mcsService("web", "web", "", "http:80/TCP"))
	client := m.runPods(a, ns, m.agnhostPod(ns, "client", map[string]string{"app": "client"}, netexec))["client"]

	export(t, b, "web")
	export(t, b, "db")
	time.Sleep(1100 * time.Millisecond) // creationTimestamps have second precision: C's export is newer
	export(t, c, "web")

	// The import in A: a ClusterSetIP, a slice from each of B and C.
	waitFor(t, a, 2*time.Minute, "web imported in A from B and C", func() (bool, string) {
		st := readImport(t, a, "web")
		return st.imp != nil && len(st.imp.Spec.IPs) == 1 && st.slices[b.Name] == ipsB["web-b1"] &&
			st.slices[c.Name] == ipsC["web-c1"] && len(st.slices) == 2, st.String()
	})
	web := clustersetName("web")
	m.eventually("the client in A answered through "+web+" by B's and C's backends",
		m.answeredBy(na, client, web, 80, "web-b1", "web-c1"), m.importSlices("web"))

	checkMCSHeadless(t, m, client, ipsB["db-b1"])
	checkMCSConflict(t, m)

	// C unexports web: its slice goes from every cluster's import, and
	// only B's backend answers in A.
	kubectl(t, c, "", "delete", "serviceexport", "web", "-n", ns)
	for _, cl := range m.clusters {
		waitFor(t, cl, time.Minute, cl.Name+": C's endpoints gone from the import of web", func() (bool, string) {
			st := readImport(t, cl, "web")
			_, fromC := st.slices[c.Name]
			return st.imp != nil && !fromC, st.String()
		})
	}
	if st := readImport(t, a, "web"); st.slices[b.Name] != ipsB["web-b1"] || len(st.slices) != 1 {
		t.Errorf("A's import of web after C's unexport: %s; want B's slice only", st)
	}
	m.eventually("only B's backend answers "+web+" after C's unexport",
		m.answeredBy(na, client, web, 80, "web-b1"), m.importSlices("web"))

	// C exports again; then the policy in A lets the client reach only
	// B's backend, selected by its labels as mirrored into A.
	export(t, c, "web")
	m.eventually("B's and C's backends answer "+web+" again",
		m.answeredBy(na, client, web, 80, "web-b1", "web-c1"), m.importSlices("web"))
	policy := mcsWebPolicy(b.Name)
	kubectl(t, a, policy, "apply", "-f", "-")
	m.eventually("under the policy only B's backend answers "+web,
		m.answeredBy(na, client, web, 80, "web-b1"))
	// Not by chance: C's backend, dialled directly, is refused.
	if got, state := m.answers(na, client, ipsC["web-c1"], 8080, 2); len(got) != 0 {
		t.Errorf("under the policy the client reached C's backend at %s: %s", ipsC["web-c1"], state)
	}
	kubectl(t, a, policy, "delete", "-f", "-")
	m.eventually("without the policy B's and C's backends answer "+web,
		m.answeredBy(na, client, web, 80, "web-b1", "web-c1"))
}

// checkMCSHeadless checks the headless export db of B (one Pod, db-b1,
// at ip): imported Headless in A with the Pod's name as hostname, its
// per-Pod name <pod>.<cluster>.db.<ns>.svc.clusterset.local and the
// service name reach that Pod from the client.
func checkMCSHeadless(t *testing.T, m *realPodsMesh, client, ip string) {
	t.Helper()
	a, b := m.clusters[0], m.clusters[1]
	waitFor(t, a, time.Minute, "db imported Headless in A with its Pod's hostname", func() (bool, string) {
		st := readImport(t, a, "db")
		return st.imp != nil && st.imp.Spec.Type == mcsv1alpha1.Headless && st.slices[b.Name] == "db-b1="+ip, st.String()
	})
	perPod := "db-b1." + b.Name + "." + clustersetName("db")
	m.eventually("the client reaches "+perPod, m.answeredBy(m.nodes[0], client, perPod, 8080, "db-b1"), m.importSlices("db"))
	m.eventually("the client reaches "+clustersetName("db"), m.answeredBy(m.nodes[0], client, clustersetName("db"), 8080, "db-b1"))
}

// checkMCSConflict exports conf from B, then from C with the same port
// name and another protocol: Conflict on C's newer export, naming B, not
// on B's; A imports B's port.
func checkMCSConflict(t *testing.T, m *realPodsMesh) {
	t.Helper()
	a, b, c := m.clusters[0], m.clusters[1], m.clusters[2]
	kubectl(t, b, mcsService("conf", "web", "", "dns:53/UDP"), "apply", "-f", "-")
	kubectl(t, c, mcsService("conf", "web", "", "dns:53/TCP"), "apply", "-f", "-")
	export(t, b, "conf")
	time.Sleep(1100 * time.Millisecond)
	export(t, c, "conf")
	waitFor(t, c, time.Minute, "Conflict on C's newer export of conf", func() (bool, string) {
		cond := exportCondition(t, c, "conf", "Conflict")
		return strings.HasPrefix(cond, "True/PortConflict") && strings.Contains(cond, "cluster "+b.Name), cond
	})
	if cond := exportCondition(t, b, "conf", "Conflict"); !strings.HasPrefix(cond, "False/NoConflicts") {
		t.Errorf("B's older export of conf: Conflict %s", cond)
	}
	waitFor(t, a, time.Minute, "conf imported in A with B's port", func() (bool, string) {
		st := readImport(t, a, "conf")
		return st.imp != nil && st.ports == "dns:53/UDP", st.String()
	})
}
