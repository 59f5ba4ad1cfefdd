package ipamd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/meshapi/meshapi/pkg/ipam"
	"github.com/meshapi/meshapi/pkg/ipamwire"
)

// CNI specification error codes the service answers with.
const (
	errInvalidNetworkConfig uint = 7
	errTryAgainLater        uint = 11
	errPluginNotAvailable   uint = 50
	errInternal             uint = 999
)

// IPAMError is the CNI error for a failed Assign on node: the
// plugin-specific codes for exhausted pools, no pool and an address in
// use, else what APIError says.
func IPAMError(err error, node string) *ipamwire.Error {
	var (
		exhausted *ipam.PoolsExhaustedError
		noPool    *ipam.NoPoolError
		inUse     *ipam.AddressInUseError
	)
	switch {
	case errors.As(err, &exhausted):
		return &ipamwire.Error{Code: ipamwire.ErrPoolsExhausted, Msg: fmt.Sprintf("IPPools %s are exhausted for node %s", strings.Join(exhausted.Pools, ", "), exhausted.Node), Details: err.Error()}
	case errors.As(err, &noPool):
		return &ipamwire.Error{Code: ipamwire.ErrNoPool, Msg: err.Error()}
	case errors.As(err, &inUse):
		return &ipamwire.Error{Code: ipamwire.ErrAddressInUse, Msg: fmt.Sprintf("requested address %s is held by handle %s", inUse.Addr, inUse.Handle)}
	}
	return APIError(err, fmt.Sprintf("allocating an address for node %s", node))
}

// APIError is the CNI error for a failed API call while doing what:
// 11 (try again later) when a retry may succeed (the API is unreachable,
// overloaded, timed out or had a conflict), else 999.
func APIError(err error, what string) *ipamwire.Error {
	if we, ok := ipamwire.AsError(err); ok {
		return we
	}
	msg := fmt.Sprintf("%s: %v", what, err)
	if Transient(err) {
		return &ipamwire.Error{Code: errTryAgainLater, Msg: msg}
	}
	return &ipamwire.Error{Code: errInternal, Msg: msg}
}

// Transient says whether err is one a later retry may not meet.
func Transient(err error) bool {
	var netErr net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled), errors.As(err, &netErr):
		return true
	case apierrors.IsConflict(err), apierrors.IsServerTimeout(err), apierrors.IsTimeout(err),
		apierrors.IsTooManyRequests(err), apierrors.IsServiceUnavailable(err), apierrors.IsInternalError(err):
		return true
	}
	return false
}
