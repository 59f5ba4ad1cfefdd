package e2e

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/meshapi/meshapi/test/e2e/framework"
)

// metricValue returns the value of an unlabelled metric in a Prometheus
// text exposition, or "" when it is not there.
func metricValue(exposition, name string) string {
	for _, line := range strings.Split(exposition, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return v
		}
	}
	return ""
}

// Issue 7 with real traffic: the seeds' default.app-to-db policy, applied
// as written in cluster A, lets A's backend-app pod reach cluster B's
// postgres pod on TCP 5432 and nothing else, leaves an unlabelled pod of A
// alone, stops admitting new connections once the postgres pod's
// WorkloadEndpoint in B is relabelled, and its deletion restores the
// default (allow).
func TestNetworkPolicyAcrossClusters(t *testing.T) {
	ctx := ctxT(t)
	topo := newTopology(t, framework.TopologyConfig{Name: "pol", Nodes: 1, VXLANPort: dpVXLANPort, Namespaces: []string{"myapp"},
		Pools: [2]netip.Prefix{netip.MustParsePrefix("198.18.66.0/24"), netip.MustParsePrefix("198.18.67.0/24")}})
	topo.connect()
	a, b := topo.a, topo.b
	a1, b1 := topo.node("a1"), topo.node("b1")
	backend := topo.addPod(a1, "myapp", "backend-0", map[string]string{"app": "backend-app"})
	plain := topo.addPod(a1, "myapp", "plain-0", nil)
	pg := topo.addPod(b1, "myapp", "postgres-0", map[string]string{"app": "postgres"})
	for _, port := range []int{5432, 8080} {
		ln, err := pg.ServeSourceAddress(port)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
	}
	db, other := netip.AddrPortFrom(pg.IP, 5432), netip.AddrPortFrom(pg.IP, 8080)
	topo.eventually("postgres mirrored into cluster-a", func() (bool, string) {
		w, err := topo.cs[a].ProjectcalicoV3().WorkloadEndpoints("myapp").Get(ctx, b.Name+"."+pg.EndpointName(), metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return w.Labels["app"] == "postgres", fmt.Sprint(w.Labels)
	})

	// reaches says whether from gets the server's answer, its own address
	// (no NAT), on a new connection.
	reaches := func(from *framework.TopoPod, to netip.AddrPort) (bool, string) {
		seen, err := from.SourceSeen(to, 2*time.Second)
		return err == nil && seen == from.IP.String(), fmt.Sprintf("%s -> %s: saw %q, %v", from.IP, to, seen, err)
	}
	refused := func(from *framework.TopoPod, to netip.AddrPort) (bool, string) {
		err := from.Connect(to, 500*time.Millisecond)
		return err != nil, fmt.Sprintf("%s -> %s: %v", from.IP, to, err)
	}
	pings := func(from *framework.TopoPod) int {
		got, err := from.Ping(pg.IP, 2, 500*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	allowedEverything := func(when string) {
		t.Helper()
		for _, p := range []*framework.TopoPod{backend, plain} {
			for _, to := range []netip.AddrPort{db, other} {
				topo.eventually(fmt.Sprintf("%s: %s reaches %s", when, p.Name, to), func() (bool, string) { return reaches(p, to) })
			}
			topo.eventually(fmt.Sprintf("%s: %s pings postgres", when, p.Name), func() (bool, string) { n := pings(p); return n > 0, fmt.Sprint(n, " replies") })
		}
	}
	agentMetric := func(name string) string { return metricValue(httpGet(t, "http://"+a1.Agent.Metrics+"/metrics"), name) }

	// Without policy, everything flows.
	allowedEverything("before the policy")

	// The seed's policy, exactly as written, in cluster A.
	kubectl(t, a, "", "apply", "-f", seed("000-networkpolicy-app-to-db.yaml"))
	t.Cleanup(func() {
		kubectl(t, a, "", "delete", "-f", seed("000-networkpolicy-app-to-db.yaml"), "--ignore-not-found")
	})
	topo.eventually("backend-app refused on another port", func() (bool, string) { return refused(backend, other) })
	if ok, state := reaches(backend, db); !ok {
		t.Errorf("backend-app to postgres on 5432 under the policy: %s", state)
	}
	if n := pings(backend); n != 0 {
		t.Errorf("backend-app pings postgres under the policy: %d replies, want none", n)
	}
	for _, to := range []netip.AddrPort{db, other} {
		if ok, state := reaches(plain, to); !ok {
			t.Errorf("the pod without the label, under the policy: %s", state)
		}
	}
	if n := pings(plain); n == 0 {
		t.Errorf("the pod without the label cannot ping postgres under the policy")
	}
	topo.eventually("a1's policy metrics", func() (bool, string) {
		sets, elements, errs := agentMetric("meshapi_agent_policy_sets"), agentMetric("meshapi_agent_policy_set_elements"), agentMetric(`meshapi_agent_errors_total{stage="policy"}`)
		return sets == "2" && elements == "1" && errs == "0", fmt.Sprintf("sets %s, elements %s, errors %s", sets, elements, errs)
	})

	// Relabel the postgres pod's endpoint in B; measure when A's
	// backend-app pod is first refused a new connection. Several rounds,
	// relabelling back in between, for a spread rather than one sample.
	// The endpoint is derived from the Pod (the podendpoints
	// controller), so the relabel is the Pod's.
	pods := topo.Kube[b].CoreV1().Pods("myapp")
	relabel := func(app string) time.Time {
		t.Helper()
		sent := time.Now()
		if _, err := pods.Patch(ctx, pg.Name, types.MergePatchType, []byte(fmt.Sprintf(`{"metadata":{"labels":{"app":%q}}}`, app)), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		return sent
	}
	const rounds = 5
	var cuts []time.Duration
	for round := range rounds {
		if round > 0 {
			relabel("postgres")
			topo.eventually("backend-app reaches postgres again after relabelling back", func() (bool, string) { return reaches(backend, db) })
		}
		relabelled := relabel("postgres-retired")
		var lastAccepted, firstRefused time.Duration
		attempts := 0
		for {
			at := time.Since(relabelled)
			if at > 2*time.Minute {
				t.Fatalf("backend-app still reaches postgres 2m after the relabel\n%s", topo.agentLogs())
			}
			attempts++
			if backend.Connect(db, 300*time.Millisecond) == nil {
				lastAccepted = at
				time.Sleep(5 * time.Millisecond)
				continue
			}
			// Refused: confirm with two more, patient, attempts that this
			// is the policy and not a slow machine.
			if backend.Connect(db, time.Second) != nil && backend.Connect(db, time.Second) != nil {
				firstRefused = at
				break
			}
		}
		cuts = append(cuts, firstRefused)
		t.Logf("round %d: relabel in %s -> first refused new connection from %s started %s after the update was sent (last accepted one started at %s; %d attempts)",
			round+1, b.Name, a.Name, firstRefused.Round(time.Millisecond), lastAccepted.Round(time.Millisecond), attempts)
	}
	slices.Sort(cuts)
	t.Logf("relabel in B -> first refused new connection from A, %d rounds: min %s, median %s, max %s",
		rounds, cuts[0].Round(time.Millisecond), cuts[rounds/2].Round(time.Millisecond), cuts[rounds-1].Round(time.Millisecond))
	topo.eventually("a1's set emptied", func() (bool, string) {
		e := agentMetric("meshapi_agent_policy_set_elements")
		return e == "0", e
	})
	if ok, state := reaches(plain, db); !ok {
		t.Errorf("the pod without the label after the relabel: %s", state)
	}

	// Deleting the policy restores the default: everything flows again.
	kubectl(t, a, "", "delete", "-f", seed("000-networkpolicy-app-to-db.yaml"))
	allowedEverything("after the policy's deletion")
}
