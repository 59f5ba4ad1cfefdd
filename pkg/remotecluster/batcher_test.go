package remotecluster

import (
	"errors"
	"net/http"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

func TestRefusesBatches(t *testing.T) {
	gr := v3.Resource("mirrorbatches")
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"an older server", apierrors.NewNotFound(gr, ""), true},
		{"a role without mirrorbatches", apierrors.NewForbidden(gr, "", errors.New("RBAC: no rule")), true},
		{"no create", apierrors.NewMethodNotSupported(gr, "create"), true},
		{"overloaded", apierrors.NewTooManyRequests("priority and fairness", 1), false},
		{"timed out", apierrors.NewTimeoutError("etcd", 1), false},
		{"the connection", errors.New("connection refused"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := refusesBatches(tc.err); got != tc.want {
				t.Errorf("refusesBatches(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

// A result becomes what a create of the mirror alone would have returned.
func TestOutcomeOf(t *testing.T) {
	ep := func() *v3.WorkloadEndpoint {
		return &v3.WorkloadEndpoint{ObjectMeta: metav1.ObjectMeta{Namespace: "ns-a", Name: "cluster-b.x"}}
	}
	stored := outcomeOf(ep(), v3.MirrorResult{Namespace: "ns-a", Name: "cluster-b.x", Code: http.StatusCreated, UID: "u1", ResourceVersion: "42"})
	if stored.err != nil || stored.created.UID != "u1" || stored.created.ResourceVersion != "42" || stored.created.Name != "cluster-b.x" {
		t.Errorf("stored: %+v, want the mirror with UID u1 and resourceVersion 42", stored)
	}
	for _, tc := range []struct {
		res   v3.MirrorResult
		check func(error) bool
	}{
		{v3.MirrorResult{Code: http.StatusConflict, Reason: metav1.StatusReasonAlreadyExists, Message: "exists"}, apierrors.IsAlreadyExists},
		{v3.MirrorResult{Code: http.StatusUnprocessableEntity, Reason: metav1.StatusReasonInvalid, Message: "spec.ipNetworks[0]"}, apierrors.IsInvalid},
		{v3.MirrorResult{Code: http.StatusForbidden, Reason: metav1.StatusReasonForbidden, Message: "not a writer"}, apierrors.IsForbidden},
		{v3.MirrorResult{Code: http.StatusInternalServerError, Reason: metav1.StatusReasonInternalError, Message: "etcd"}, apierrors.IsInternalError},
	} {
		o := outcomeOf(ep(), tc.res)
		if o.created != nil || !tc.check(o.err) || o.err.Error() != tc.res.Message {
			t.Errorf("result %+v: %v, %v", tc.res, o.created, o.err)
		}
	}
}
