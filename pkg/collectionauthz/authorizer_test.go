package collectionauthz

import (
	"context"
	"errors"
	"testing"

	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
)

// grants is an authorizer with RBAC's shape: each rule allows a user one
// verb on a resource, on all names (name "") or on one.
type grants struct {
	rules []authorizer.AttributesRecord
	fail  bool
	asked []string // the names asked about, "" for the collection
}

func (g *grants) Authorize(_ context.Context, a authorizer.Attributes) (authorizer.Decision, string, error) {
	g.asked = append(g.asked, a.GetName())
	if g.fail {
		return authorizer.DecisionNoOpinion, "", errors.New("SubjectAccessReview failed")
	}
	for _, r := range g.rules {
		if r.User.GetName() == a.GetUser().GetName() && r.Verb == a.GetVerb() && r.Resource == a.GetResource() &&
			(r.Name == "" || r.Name == a.GetName()) {
			return authorizer.DecisionAllow, "granted", nil
		}
	}
	return authorizer.DecisionNoOpinion, "no rule", nil
}

func (g *grants) ConditionsAwareAuthorize(ctx context.Context, a authorizer.Attributes) authorizer.ConditionsAwareDecision {
	return authorizer.ConditionsAwareDecisionFromParts(g.Authorize(ctx, a))
}

func (g *grants) EvaluateConditions(context.Context, authorizer.ConditionsAwareDecision, authorizer.ConditionsData) (authorizer.Decision, string, error) {
	return authorizer.DecisionDeny, "", authorizer.ErrorConditionEvaluationNotSupported
}

func TestAuthorize(t *testing.T) {
	controller := &user.DefaultInfo{Name: "system:serviceaccount:calico-system:calico-typha"}
	admin := &user.DefaultInfo{Name: "alice"}
	request := func(u user.Info, verb, name string) authorizer.AttributesRecord {
		return authorizer.AttributesRecord{User: u, Verb: verb, Resource: "workloadendpoints", Namespace: "ns", Name: name, ResourceRequest: true}
	}
	rule := func(u user.Info, verb, name string) authorizer.AttributesRecord { return request(u, verb, name) }
	for _, tc := range []struct {
		name      string
		rules     []authorizer.AttributesRecord
		fail      bool
		attrs     authorizer.AttributesRecord
		want      authorizer.Decision
		wantAsked []string
	}{
		{"collection allowed: one question, the cached one",
			[]authorizer.AttributesRecord{rule(controller, "update", "")}, false,
			request(controller, "update", "cluster-b.w1"), authorizer.DecisionAllow, []string{""}},
		{"allowed by name only: asked again about the object",
			[]authorizer.AttributesRecord{rule(controller, "delete", "cluster-b.w1")}, false,
			request(controller, "delete", "cluster-b.w1"), authorizer.DecisionAllow, []string{"", "cluster-b.w1"}},
		{"not allowed at all",
			[]authorizer.AttributesRecord{rule(controller, "get", "")}, false,
			request(controller, "delete", "cluster-b.w1"), authorizer.DecisionNoOpinion, []string{"", "cluster-b.w1"}},
		{"another user: asked about the object only",
			[]authorizer.AttributesRecord{rule(admin, "update", "")}, false,
			request(admin, "update", "w1"), authorizer.DecisionAllow, []string{"w1"}},
		{"no name: passed through",
			[]authorizer.AttributesRecord{rule(controller, "list", "")}, false,
			request(controller, "list", ""), authorizer.DecisionAllow, []string{""}},
		{"collection question fails: the object's answer stands",
			nil, true,
			request(controller, "update", "cluster-b.w1"), authorizer.DecisionNoOpinion, []string{"", "cluster-b.w1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := &grants{rules: tc.rules, fail: tc.fail}
			a := New(g, []string{controller.Name})
			conditionsAware := a.ConditionsAwareAuthorize(context.Background(), tc.attrs)
			if conditionsAware.IsAllow() != (tc.want == authorizer.DecisionAllow) {
				t.Errorf("ConditionsAwareAuthorize allows: %v, want %v", conditionsAware.IsAllow(), tc.want == authorizer.DecisionAllow)
			}
			g.asked = nil
			got, _, err := a.Authorize(context.Background(), tc.attrs)
			if got != tc.want {
				t.Errorf("decision = %v, want %v", got, tc.want)
			}
			if (err != nil) != tc.fail {
				t.Errorf("err = %v, want an error: %v", err, tc.fail)
			}
			if len(g.asked) != len(tc.wantAsked) {
				t.Fatalf("asked about %q, want %q", g.asked, tc.wantAsked)
			}
			for i := range g.asked {
				if g.asked[i] != tc.wantAsked[i] {
					t.Fatalf("asked about %q, want %q", g.asked, tc.wantAsked)
				}
			}
		})
	}
}
