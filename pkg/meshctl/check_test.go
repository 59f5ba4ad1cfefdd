package meshctl

import (
	"errors"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

func rccFor(name string, overlay v3.OverlayRoutingMode, state v3.RemoteClusterSyncState, req metav1.ConditionStatus, msg string) *v3.RemoteClusterConfiguration {
	r := DesiredRCC(name, "calico-system", overlay)
	r.Status.SyncState = state
	if req != "" {
		r.Status.Conditions = []metav1.Condition{{Type: v3.RemoteClusterConditionRequirementsMet, Status: req, Message: msg}}
	}
	return r
}

// checksByName indexes the lines of RCCChecks by check.
func checksByName(rs []CheckResult) map[string]CheckResult {
	out := map[string]CheckResult{}
	for _, r := range rs {
		out[r.Check] = r
	}
	return out
}

func TestRCCChecks(t *testing.T) {
	all := map[string]bool{"get": true, "list": true, "watch": true}
	healthy := RCCFacts{Context: "cluster-a", RCC: rccFor("cluster-b", v3.OverlayRoutingModeEnabled, v3.SyncStateInSync, metav1.ConditionTrue, ""),
		Nodes: 3, SecretVerbs: all, Reverse: true, SecretResourceVersion: "41"}
	healthy.RCC.Generation, healthy.RCC.Status.ObservedGeneration, healthy.RCC.Status.ObservedSecretResourceVersion = 2, 2, "41"
	type want struct{ result, detail, fix string }
	for _, tc := range []struct {
		name   string
		mutate func(f *RCCFacts)
		want   map[string]want
	}{
		{"healthy", func(*RCCFacts) {}, map[string]want{
			CheckAccessSecret:  {Pass, "the kubeconfig in Secret calico-system/remote-cluster-secret-cluster-b lists 3 nodes of cluster-b", ""},
			CheckSecretRBAC:    {Pass, "system:serviceaccount:calico-system:calico-typha may get, list and watch Secret calico-system/remote-cluster-secret-cluster-b", ""},
			CheckBidirectional: {Pass, "cluster-b has RemoteClusterConfiguration cluster-a back", ""},
			CheckRequirements:  {Pass, "met", ""},
			CheckInSync:        {Pass, "InSync", ""},
		}},
		{"deleted Secret", func(f *RCCFacts) {
			f.AccessErr = errors.New(`reading Secret calico-system/remote-cluster-secret-cluster-b: secrets "remote-cluster-secret-cluster-b" not found`)
		}, map[string]want{
			CheckAccessSecret: {Fail, `not found`, "meshctl connect --context cluster-a --context cluster-b"},
		}},
		{"missing RoleBinding", func(f *RCCFacts) { f.SecretVerbs = map[string]bool{"get": true} }, map[string]want{
			CheckSecretRBAC: {Fail, "may not list, watch Secret calico-system/remote-cluster-secret-cluster-b (kubectl auth can-i get secret/remote-cluster-secret-cluster-b -n calico-system --as=system:serviceaccount:calico-system:calico-typha)",
				"create the Role and RoleBinding remote-cluster-secret-access in calico-system"},
		}},
		{"SubjectAccessReview refused", func(f *RCCFacts) { f.SARErr = errors.New("forbidden") }, map[string]want{
			CheckSecretRBAC: {Fail, "could not ask", "SubjectAccessReviews"},
		}},
		{"one direction", func(f *RCCFacts) { f.Reverse = false }, map[string]want{
			CheckBidirectional: {Fail, "cluster-b has no RemoteClusterConfiguration cluster-a", "meshctl connect --context cluster-a --context cluster-b"},
		}},
		{"remote unreadable", func(f *RCCFacts) { f.ReverseErr = errors.New("connection refused") }, map[string]want{
			CheckBidirectional: {Skip, "connection refused", ""},
		}},
		{"overlapping pool", func(f *RCCFacts) {
			f.RCC.Status.Conditions[0] = metav1.Condition{Type: v3.RemoteClusterConditionRequirementsMet, Status: metav1.ConditionFalse,
				Message: `IPPool "c" (10.0.0.128/25) of remote cluster "cluster-b" overlaps local IPPool "a" (10.0.0.0/24)`}
		}, map[string]want{
			CheckRequirements: {Fail, `RequirementsMet False: IPPool "c" (10.0.0.128/25) of remote cluster "cluster-b" overlaps`, "change the pool"},
		}},
		{"no condition yet", func(f *RCCFacts) { f.RCC.Status.Conditions = nil }, map[string]want{
			CheckRequirements: {Skip, "no RequirementsMet condition yet", ""},
		}},
		{"connection failed", func(f *RCCFacts) {
			f.RCC.Status.SyncState, f.RCC.Status.LastError = v3.SyncStateConnectionFailed, "dial tcp: refused"
		}, map[string]want{
			CheckInSync: {Fail, "ConnectionFailed (dial tcp: refused)", "access-secret"},
		}},
		{"InSync of the Secret before its change", func(f *RCCFacts) { f.SecretResourceVersion = "57" }, map[string]want{
			CheckInSync: {Fail, "InSync, but the status is of Secret calico-system/remote-cluster-secret-cluster-b at resourceVersion 41, not yet of 57", "kubectl logs deployment/calico-typha"},
		}},
		{"InSync of the spec before its change", func(f *RCCFacts) { f.RCC.Generation = 3 }, map[string]want{
			CheckInSync: {Fail, "InSync, but the status is of generation 2, not yet of 3", "kubectl logs deployment/calico-typha"},
		}},
		{"InSync from a controller older than observedSecretResourceVersion", func(f *RCCFacts) { f.RCC.Status.ObservedSecretResourceVersion = "" }, map[string]want{
			CheckInSync: {Pass, "InSync", ""},
		}},
		{"Secret unreadable: its version unknown", func(f *RCCFacts) { f.SecretResourceVersion = ""; f.AccessErr = errors.New("forbidden") }, map[string]want{
			CheckInSync: {Pass, "InSync", ""},
		}},
		{"never picked up", func(f *RCCFacts) { f.RCC.Status.SyncState = "" }, map[string]want{
			CheckInSync: {Fail, "no sync state", "meshapi-controller"},
		}},
		{"inline connection", func(f *RCCFacts) { f.RCC.Spec.ClusterAccessSecret = nil; f.AccessErr = errors.New("x") }, map[string]want{
			CheckAccessSecret: {Skip, "no spec.clusterAccessSecret", ""},
		}},
	} {
		f := healthy
		f.RCC = healthy.RCC.DeepCopy()
		tc.mutate(&f)
		got := checksByName(RCCChecks(f))
		for check, w := range tc.want {
			r, ok := got[check]
			if !ok || r.Result != w.result || !strings.Contains(r.Detail, w.detail) || !strings.Contains(r.Fix, w.fix) || r.Context != "cluster-a" || r.Remote != "cluster-b" {
				t.Errorf("%s: %s = %+v (found %v), want %+v", tc.name, check, r, ok, w)
			}
			if w.result == Fail && r.Fix == "" {
				t.Errorf("%s: %s fails without a fix", tc.name, check)
			}
		}
	}
}

func node(name, cluster string, dp *v3.NodeDataplaneStatus) v3.Node {
	n := v3.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if cluster != "" {
		n.Labels = map[string]string{v3.LabelCluster: cluster}
	}
	n.Status.Dataplane = dp
	return n
}

func TestOverlayChecks(t *testing.T) {
	enabledB := *rccFor("cluster-b", v3.OverlayRoutingModeEnabled, v3.SyncStateInSync, "", "")
	enabledC := *rccFor("cluster-c", v3.OverlayRoutingModeEnabled, v3.SyncStateInSync, "", "")
	disabledC := *rccFor("cluster-c", v3.OverlayRoutingModeDisabled, v3.SyncStateInSync, "", "")
	routes := func(lastError string, rcs ...v3.NodeRemoteClusterStatus) *v3.NodeDataplaneStatus {
		return &v3.NodeDataplaneStatus{RemoteClusters: rcs, LastError: lastError}
	}
	toB := v3.NodeRemoteClusterStatus{Cluster: "cluster-b", OverlayRoutingMode: "Enabled", Nodes: 1, Routes: 2}
	mirrors := []v3.Node{node("cluster-b.host-1", "cluster-b", nil), node("cluster-c.host-1", "cluster-c", nil)}
	type line struct{ result, detail string }
	for _, tc := range []struct {
		name  string
		nodes []v3.Node
		rccs  []v3.RemoteClusterConfiguration
		want  []line
	}{
		{"no local nodes", mirrors, []v3.RemoteClusterConfiguration{enabledB}, []line{{Skip, "no local Node objects"}}},
		{"no agent", append([]v3.Node{node("a-1", "", nil)}, mirrors...), []v3.RemoteClusterConfiguration{enabledB},
			[]line{{Skip, "no node reports agent status; is meshapi-agent running?"}}},
		{"routes to every Enabled cluster", append([]v3.Node{node("a-1", "", routes("", toB))}, mirrors...), []v3.RemoteClusterConfiguration{enabledB, disabledC},
			[]line{{Pass, "node a-1 has 2 routes towards cluster-b"}}},
		{"missing routes to one cluster", append([]v3.Node{node("a-1", "", routes("route add: busy", toB))}, mirrors...), []v3.RemoteClusterConfiguration{enabledB, enabledC},
			[]line{{Pass, "towards cluster-b"}, {Fail, "node a-1 has no overlay routes towards cluster-c (1 mirrored nodes) (route add: busy)"}}},
		{"zero routes", append([]v3.Node{node("a-1", "", routes("", v3.NodeRemoteClusterStatus{Cluster: "cluster-b"}))}, mirrors...), []v3.RemoteClusterConfiguration{enabledB},
			[]line{{Fail, "node a-1 has no overlay routes towards cluster-b"}}},
		{"one node without agent", append([]v3.Node{node("a-1", "", routes("", toB)), node("a-2", "", nil)}, mirrors...), []v3.RemoteClusterConfiguration{enabledB},
			[]line{{Pass, "node a-1"}, {Fail, "node a-2 reports no agent status"}}},
		{"remote without mirrored nodes", []v3.Node{node("a-1", "", routes(""))}, []v3.RemoteClusterConfiguration{enabledB},
			[]line{{Skip, "no remote cluster with overlay routing Enabled has mirrored nodes"}}},
	} {
		got := OverlayChecks("cluster-a", tc.nodes, tc.rccs)
		if len(got) != len(tc.want) {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
			continue
		}
		for i, w := range tc.want {
			g := got[i]
			if g.Result != w.result || !strings.Contains(g.Detail, w.detail) || g.Check != CheckOverlayRoutes || g.Context != "cluster-a" || (g.Result == Fail && g.Fix == "") {
				t.Errorf("%s: line %d = %+v, want %+v", tc.name, i, g, w)
			}
		}
	}
}

func TestFailures(t *testing.T) {
	if err := failures([]CheckResult{{Result: Pass}, {Result: Skip}}); err != nil {
		t.Errorf("no FAIL: %v", err)
	}
	if err := failures([]CheckResult{{Result: Pass}, {Result: Fail}, {Result: Fail}}); err == nil || err.Error() != "2 of 3 checks failed" {
		t.Errorf("two FAILs: %v", err)
	}
}
