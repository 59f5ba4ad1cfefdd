package meshctl

import (
	"errors"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshapi/meshapi/pkg/agent/heartbeat"
	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

var livenessNow = time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)

func TestAgentChecks(t *testing.T) {
	node := func(name, cluster string) v3.Node {
		n := v3.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
		if cluster != "" {
			n.Labels = map[string]string{v3.LabelCluster: cluster}
		}
		return n
	}
	lease := func(node string, renewedAgo time.Duration) coordinationv1.Lease {
		return *heartbeat.Renewed(nil, heartbeat.DefaultNamespace, node, 10*time.Second, livenessNow.Add(-renewedAgo))
	}
	for _, tc := range []struct {
		name   string
		nodes  []v3.Node
		leases []coordinationv1.Lease
		want   []string // "RESULT detail-substring", in order
	}{
		{name: "no local nodes", nodes: []v3.Node{node("cluster-b/b1", "cluster-b")}, want: []string{"SKIP no local Node"}},
		{name: "alive", nodes: []v3.Node{node("n1", ""), node("n2", "")},
			leases: []coordinationv1.Lease{lease("n2", 3*time.Second), lease("n1", 29*time.Second)},
			want:   []string{"PASS node n1: the agent renewed its heartbeat 29s ago", "PASS node n2"}},
		{name: "dead agent", nodes: []v3.Node{node("n1", ""), node("n2", "")},
			leases: []coordinationv1.Lease{lease("n1", 31*time.Second), lease("n2", time.Second)},
			want:   []string{"FAIL node n1: the agent last renewed its heartbeat Lease meshapi-system/meshapi-agent-n1 31s ago, past its 30s duration", "PASS node n2"}},
		{name: "node without Lease, mirrored node and Lease of a deleted node ignored",
			nodes:  []v3.Node{node("n1", ""), node("old", ""), node("cluster-b/b1", "cluster-b")},
			leases: []coordinationv1.Lease{lease("n1", 0), lease("gone", time.Hour)},
			want:   []string{"PASS node n1", "SKIP no heartbeat Lease for node(s) old"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := AgentChecks("cluster-a", livenessNow, tc.nodes, tc.leases)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d lines %+v, want %d: %v", len(got), got, len(tc.want), tc.want)
			}
			for i, w := range tc.want {
				result, detail, _ := strings.Cut(w, " ")
				if got[i].Result != result || !strings.Contains(got[i].Detail, detail) || got[i].Check != CheckAgents || got[i].Context != "cluster-a" {
					t.Errorf("line %d: %+v, want %s containing %q", i, got[i], result, detail)
				}
				if got[i].Result == Fail && got[i].Fix == "" {
					t.Errorf("line %d FAILs without a fix", i)
				}
			}
		})
	}
}

func TestControllerCheck(t *testing.T) {
	lease := func(holder string, renewedAgo time.Duration) *coordinationv1.Lease {
		d := int32(15)
		renew := metav1.NewMicroTime(livenessNow.Add(-renewedAgo))
		return &coordinationv1.Lease{Spec: coordinationv1.LeaseSpec{HolderIdentity: &holder, LeaseDurationSeconds: &d, RenewTime: &renew}}
	}
	for _, tc := range []struct {
		name   string
		lease  *coordinationv1.Lease
		err    error
		result string
		detail string
	}{
		{name: "leader renewing", lease: lease("host_12", 2*time.Second), result: Pass, detail: "host_12 leads (Lease calico-system/meshapi-controller renewed 2s ago)"},
		{name: "at the renew deadline", lease: lease("host_12", 10*time.Second), result: Pass, detail: "host_12 leads"},
		{name: "holder dead", lease: lease("host_12", 11*time.Second), result: Fail,
			detail: "held by host_12, not renewed for 11s (a leader renews every few seconds): the holder is dead or cut off; remote clusters are not synced and the RemoteClusterConfigurations' status is stale until another replica takes over in 4s"},
		{name: "expired", lease: lease("host_12", 20*time.Second), result: Fail, detail: "expired 5s ago (held by host_12, last renewed 20s ago): no meshapi-controller leads"},
		{name: "released", lease: lease("", 0), result: Fail, detail: "has no holder"},
		{name: "no Lease", result: Skip, detail: "no leader Lease calico-system/meshapi-controller"},
		{name: "unreadable", err: errors.New("forbidden"), result: Skip, detail: "cannot read the leader Lease calico-system/meshapi-controller: forbidden"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ControllerCheck("cluster-a", livenessNow, tc.lease, tc.err)
			if got.Result != tc.result || !strings.Contains(got.Detail, tc.detail) || got.Check != CheckController {
				t.Errorf("got %+v, want %s containing %q", got, tc.result, tc.detail)
			}
			if got.Result == Fail && got.Fix == "" {
				t.Error("a FAIL without a fix")
			}
		})
	}
}
