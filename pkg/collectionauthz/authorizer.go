// Package collectionauthz is an authorizer for identities that may act on
// every object of the kinds they write, such as meshapi-controller, whose
// mirrors have the names their remote clusters gave them.
//
// meshapi-apiserver delegates authorization to kube-apiserver with one
// SubjectAccessReview per request, cached by the request's attributes,
// the object's name among them. A controller that writes thousands of
// distinct objects misses that cache on every update and delete: one
// SubjectAccessReview round trip per write, and its CPU in both API
// servers. For the users it is given, this authorizer first asks about the
// whole collection (the same request with no name, which a
// SubjectAccessReview defines as "all names"); that answer is cached for
// all of them. Only when it is not an allow does it ask about the object.
//
// Allowed for all names implies allowed for one under RBAC, which grants
// nothing per name that it does not grant to a rule without resourceNames.
// An authorizer webhook in kube-apiserver that allows all names yet denies
// one would be bypassed for these users; that is why it applies only to
// the users named, not to everyone.
package collectionauthz

import (
	"context"
	"slices"

	"k8s.io/apiserver/pkg/authorization/authorizer"
)

// Authorizer asks its delegate about the collection first for the
// requests of its users on one named object, and passes every other
// request through.
type Authorizer struct {
	delegate authorizer.Authorizer
	users    []string
}

// New returns an Authorizer in front of delegate for the users named.
func New(delegate authorizer.Authorizer, users []string) *Authorizer {
	return &Authorizer{delegate: delegate, users: slices.Clone(users)}
}

// Authorize implements authorizer.Authorizer.
func (a *Authorizer) Authorize(ctx context.Context, attrs authorizer.Attributes) (authorizer.Decision, string, error) {
	if a.asksCollectionFirst(attrs) {
		d, reason, err := a.delegate.Authorize(ctx, collection{attrs})
		if err == nil && d == authorizer.DecisionAllow {
			return d, reason, nil
		}
	}
	return a.delegate.Authorize(ctx, attrs)
}

// ConditionsAwareAuthorize implements authorizer.Authorizer: an
// unconditional allow of the collection answers, anything else (a
// conditional decision among them) is left to the question about the
// object.
func (a *Authorizer) ConditionsAwareAuthorize(ctx context.Context, attrs authorizer.Attributes) authorizer.ConditionsAwareDecision {
	if a.asksCollectionFirst(attrs) {
		if d := a.delegate.ConditionsAwareAuthorize(ctx, collection{attrs}); d.IsAllow() {
			return d
		}
	}
	return a.delegate.ConditionsAwareAuthorize(ctx, attrs)
}

// EvaluateConditions implements authorizer.Authorizer: a conditional
// decision can only have come from the delegate's answer about the object.
func (a *Authorizer) EvaluateConditions(ctx context.Context, d authorizer.ConditionsAwareDecision, data authorizer.ConditionsData) (authorizer.Decision, string, error) {
	return a.delegate.EvaluateConditions(ctx, d, data)
}

// asksCollectionFirst reports whether attrs is a request of one of a's
// users on one named object.
func (a *Authorizer) asksCollectionFirst(attrs authorizer.Attributes) bool {
	if !attrs.IsResourceRequest() || attrs.GetName() == "" || attrs.GetUser() == nil {
		return false
	}
	return slices.Contains(a.users, attrs.GetUser().GetName())
}

// collection is a request's attributes without the object's name: the
// same verb on every object of the resource in the namespace.
type collection struct {
	authorizer.Attributes
}

// GetName implements authorizer.Attributes: no name, all names.
func (collection) GetName() string { return "" }
