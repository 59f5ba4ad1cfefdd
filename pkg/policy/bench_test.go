package policy

import (
	"fmt"
	"net/netip"
	"runtime"
	"testing"
	"time"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/selector"
)

// Benchmark shape: 100,000 endpoints (half local, half mirrored from
// cluster-b) over 100 namespaces, 1,000 NetworkPolicies.
const (
	benchEndpoints  = 100000
	benchPolicies   = 1000
	benchNamespaces = 100
	benchApps       = 500
)

// benchEndpoint returns endpoint i: app-<i%500>, tier web/db/cache,
// namespace ns-<i%100>, one /32 of 198.18.0.0/15.
func benchEndpoint(i int) Endpoint {
	ns := fmt.Sprintf("ns-%d", i%benchNamespaces)
	ep := Endpoint{
		Key:       fmt.Sprintf("%s/ep-%d", ns, i),
		Namespace: ns,
		Labels: map[string]string{"app": fmt.Sprintf("app-%d", i%benchApps), "tier": []string{"web", "db", "cache"}[i%3],
			"version": fmt.Sprintf("v%d", i%4), "pod-template-hash": fmt.Sprintf("%x", i)},
		Profiles: []string{NamespaceProfilePrefix + ns},
		IPs:      []netip.Prefix{netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18 + byte(i>>16&1), byte(i >> 8), byte(i)}), 32)},
		Node:     fmt.Sprintf("node-%d", i%1000),
	}
	if i%2 == 1 {
		ep.Cluster = "cluster-b"
		ep.Labels[v3.LabelCluster] = "cluster-b"
		ep.Key = fmt.Sprintf("%s/cluster-b.ep-%d", ns, i)
		ep.Profiles = []string{"cluster-b/" + NamespaceProfilePrefix + ns}
	}
	return ep
}

// benchPolicy returns policy i: it selects app-<i%500> in ns-<i%100>,
// allows ingress from the web tier of the next app and egress to the db
// tier of app i+2 on TCP 5432.
func benchPolicy(i int) Policy {
	ns := fmt.Sprintf("ns-%d", i%benchNamespaces)
	tcp := v3.ProtocolFromString("TCP")
	return Policy{
		Key: fmt.Sprintf("%s/default.p-%d", ns, i), Name: fmt.Sprintf("default.p-%d", i), Namespace: ns,
		Selector: fmt.Sprintf("app == 'app-%d'", i%benchApps),
		Types:    []v3.PolicyType{v3.PolicyTypeIngress, v3.PolicyTypeEgress},
		Ingress: []v3.Rule{{Action: v3.Allow, Protocol: &tcp,
			Source: v3.EntityRule{Selector: fmt.Sprintf("app == 'app-%d' && tier == 'web'", (i+1)%benchApps)}}},
		Egress: []v3.Rule{{Action: v3.Allow, Protocol: &tcp,
			Destination: v3.EntityRule{Selector: fmt.Sprintf("app == 'app-%d' && tier == 'db'", (i+2)%benchApps), Ports: []v3.Port{v3.SinglePort(5432)}}}},
	}
}

// loadBench fills a State with the benchmark's endpoints and policies,
// policies first or last.
func loadBench(tb testing.TB, s *State, policiesFirst bool) {
	addPolicies := func() {
		for i := range benchPolicies {
			if err := s.UpsertPolicy(benchPolicy(i)); err != nil {
				tb.Fatal(err)
			}
		}
	}
	if policiesFirst {
		addPolicies()
	}
	for i := range benchEndpoints {
		s.UpsertEndpoint(benchEndpoint(i))
	}
	if !policiesFirst {
		addPolicies()
	}
}

// BenchmarkFullCalculation loads 100,000 endpoints and 1,000 policies into
// a fresh State (every set's members computed), policies first or
// endpoints first, and then resolves PoliciesFor for every local endpoint.
// The two phases are reported separately (load-s, resolve-s), with the
// heap in use after the load (heap-MB, after a GC).
func BenchmarkFullCalculation(b *testing.B) {
	for _, order := range []struct {
		name          string
		policiesFirst bool
	}{{"policies-first", true}, {"endpoints-first", false}} {
		b.Run(order.name, func(b *testing.B) {
			for b.Loop() {
				s := NewState(Callbacks{})
				start := time.Now()
				loadBench(b, s, order.policiesFirst)
				b.ReportMetric(time.Since(start).Seconds(), "load-s")
				runtime.GC()
				var mem runtime.MemStats
				runtime.ReadMemStats(&mem)
				b.ReportMetric(float64(mem.HeapAlloc)/1e6, "heap-MB")
				loaded := time.Now()
				selected, rules := 0, 0
				for i := 0; i < benchEndpoints; i += 2 {
					ps := s.PoliciesFor(benchEndpoint(i).Key)
					if len(ps) > 0 {
						selected++
					}
					for _, p := range ps {
						rules += len(p.Ingress) + len(p.Egress)
					}
				}
				b.ReportMetric(time.Since(loaded).Seconds(), "resolve-s")
				b.ReportMetric(float64(len(s.SetIDs())), "sets")
				b.ReportMetric(float64(selected), "selected-endpoints")
				b.ReportMetric(float64(rules), "resolved-rules")
			}
		})
	}
}

// BenchmarkEndpointUpdate measures one endpoint's label change (app
// flipped between two values, moving it between policies and sets) in the
// loaded State ("index"), against evaluating every policy and rule
// selector over its labels ("naive-scan"), the least a State without the
// label index would have to do per update.
func BenchmarkEndpointUpdate(b *testing.B) {
	s := NewState(Callbacks{})
	loadBench(b, s, true)
	ep := benchEndpoint(2) // local, app-2
	flipped := benchEndpoint(2)
	flipped.Labels = map[string]string{}
	for k, v := range ep.Labels {
		flipped.Labels[k] = v
	}
	flipped.Labels["app"] = "app-3"
	eps := [2]Endpoint{ep, flipped}

	b.Run("index", func(b *testing.B) {
		i := 0
		for b.Loop() {
			i ^= 1
			s.UpsertEndpoint(eps[i])
		}
	})

	// Every distinct selector the State evaluates: policy selectors and
	// rule selectors (with their scope as labels, as the index sees them).
	type scoped struct {
		ns  string
		sel selector.Selector
	}
	var sels []scoped
	seen := map[string]bool{}
	for i := range benchPolicies {
		p := benchPolicy(i)
		for _, src := range []string{p.Selector, p.Ingress[0].Source.Selector, p.Egress[0].Destination.Selector} {
			if k := p.Namespace + "\x00" + src; !seen[k] {
				seen[k] = true
				sels = append(sels, scoped{ns: p.Namespace, sel: selector.MustParse(src)})
			}
		}
	}
	labels := [2]map[string]string{s.indexedLabels(s.endpoints[ep.Key]), nil}
	labels[1] = map[string]string{}
	for k, v := range labels[0] {
		labels[1][k] = v
	}
	labels[1]["app"] = "app-3"
	b.Run("naive-scan", func(b *testing.B) {
		i, matched := 0, 0
		for b.Loop() {
			i ^= 1
			for _, sc := range sels {
				if labels[i][keyNamespace] == sc.ns && sc.sel.Evaluate(labels[i]) {
					matched++
				}
			}
		}
		b.ReportMetric(float64(len(sels)), "selectors")
	})
}
