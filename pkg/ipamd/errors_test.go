package ipamd

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/meshapi/meshapi/pkg/ipam"
	"github.com/meshapi/meshapi/pkg/ipamwire"
)

func TestIPAMError(t *testing.T) {
	gr := schema.GroupResource{Group: "projectcalico.org", Resource: "ipamblocks"}
	tests := []struct {
		name string
		err  error
		code uint
		msg  []string
	}{
		{"exhausted", fmt.Errorf("assign: %w", &ipam.PoolsExhaustedError{Node: "n1", Pools: []string{"p1", "p2"}}), ipamwire.ErrPoolsExhausted, []string{"p1, p2", "n1"}},
		{"no pool", &ipam.NoPoolError{Node: "n1", Requested: []string{"gold"}}, ipamwire.ErrNoPool, []string{"gold", "n1"}},
		{"in use", &ipam.AddressInUseError{Addr: netip.MustParseAddr("198.18.0.5"), Handle: "net.c1"}, ipamwire.ErrAddressInUse, []string{"198.18.0.5", "net.c1"}},
		{"conflict", apierrors.NewConflict(gr, "b", errors.New("rv")), errTryAgainLater, []string{"n1"}},
		{"timeout", context.DeadlineExceeded, errTryAgainLater, []string{"n1"}},
		{"forbidden", apierrors.NewForbidden(gr, "b", errors.New("rbac")), errInternal, []string{"n1", "forbidden"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			te := IPAMError(tt.err, "n1")
			if te.Code != tt.code {
				t.Errorf("code %d, want %d (%s)", te.Code, tt.code, te.Msg)
			}
			for _, m := range tt.msg {
				if !strings.Contains(te.Msg, m) {
					t.Errorf("message %q does not name %q", te.Msg, m)
				}
			}
		})
	}
}
