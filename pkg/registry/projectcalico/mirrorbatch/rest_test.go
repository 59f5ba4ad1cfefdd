package mirrorbatch

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

func TestCheck(t *testing.T) {
	asked := map[string]int{}
	authz := authorizer.AuthorizerFunc(func(_ context.Context, a authorizer.Attributes) (authorizer.Decision, string, error) {
		asked[a.GetNamespace()]++
		if a.GetVerb() != "create" || a.GetResource() != "workloadendpoints" || a.GetAPIGroup() != v3.GroupName || a.GetUser().GetName() != "typha" {
			return authorizer.DecisionDeny, "unexpected attributes", nil
		}
		switch a.GetNamespace() {
		case "denied":
			return authorizer.DecisionNoOpinion, "no RBAC rule", nil
		case "broken":
			return authorizer.DecisionDeny, "", errors.New("webhook unreachable")
		}
		return authorizer.DecisionAllow, "", nil
	})
	w := &writer{r: &REST{authorizer: authz}, user: &user.DefaultInfo{Name: "typha"}, cluster: "cluster-b", allowed: map[string]error{}}
	ep := func(ns, name, label string) *v3.WorkloadEndpoint {
		return &v3.WorkloadEndpoint{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{v3.LabelCluster: label}}}
	}
	for _, tc := range []struct {
		name string
		ep   *v3.WorkloadEndpoint
		code int32  // 0: admitted
		want string // in the message
	}{
		{"a mirror", ep("ns-a", "cluster-b.host-1-k8s-p-eth0", "cluster-b"), 0, ""},
		{"another of the same namespace", ep("ns-a", "cluster-b.host-2-k8s-p-eth0", "cluster-b"), 0, ""},
		{"no namespace", ep("", "cluster-b.host-1-k8s-p-eth0", "cluster-b"), http.StatusUnprocessableEntity, "metadata.namespace"},
		{"another cluster's label", ep("ns-a", "cluster-b.host-1-k8s-p-eth0", "cluster-c"), http.StatusUnprocessableEntity, `"cluster-c"`},
		{"no label", ep("ns-a", "cluster-b.host-1-k8s-p-eth0", ""), http.StatusUnprocessableEntity, "metadata.labels[projectcalico.org/cluster]"},
		{"no prefix", ep("ns-a", "host-1-k8s-p-eth0", "cluster-b"), http.StatusUnprocessableEntity, "cluster-b.<name>"},
		{"another cluster's prefix", ep("ns-a", "cluster-c.host-1-k8s-p-eth0", "cluster-b"), http.StatusUnprocessableEntity, "metadata.name"},
		{"the prefix alone", ep("ns-a", "cluster-b.", "cluster-b"), http.StatusUnprocessableEntity, "metadata.name"},
		{"a namespace the user may not write", ep("denied", "cluster-b.host-1-k8s-p-eth0", "cluster-b"), http.StatusForbidden, `"denied": no RBAC rule`},
		{"again", ep("denied", "cluster-b.host-2-k8s-p-eth0", "cluster-b"), http.StatusForbidden, `"denied"`},
		{"the authorizer failing", ep("broken", "cluster-b.host-1-k8s-p-eth0", "cluster-b"), http.StatusInternalServerError, "webhook unreachable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := w.check(context.Background(), tc.ep)
			if tc.code == 0 {
				if err != nil {
					t.Fatalf("check: %v, want admitted", err)
				}
				return
			}
			res := failed(v3.MirrorResult{}, err)
			if res.Code != tc.code || !strings.Contains(res.Message, tc.want) {
				t.Fatalf("check: %d %q, want %d naming %s", res.Code, res.Message, tc.code, tc.want)
			}
		})
	}
	for ns, n := range asked {
		if n != 1 {
			t.Errorf("authorizer asked %d times about namespace %s, want once per batch", n, ns)
		}
	}
}

func TestFailedKeepsTheStatus(t *testing.T) {
	res := failed(v3.MirrorResult{Name: "x"}, errors.New("etcd gone"))
	if res.Code != http.StatusInternalServerError || res.Reason != metav1.StatusReasonInternalError || !strings.Contains(res.Message, "etcd gone") || res.Name != "x" {
		t.Errorf("failed(plain error) = %+v, want a 500 keeping the message and name", res)
	}
}
