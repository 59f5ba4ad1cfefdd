package cni

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/containernetworking/cni/pkg/types"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// Plugin-specific error codes (see the package documentation).
const (
	ErrPoolsExhausted uint = 100
	ErrNoPool         uint = 101
	ErrAddressInUse   uint = 102
)

// APIError is the CNI error for a failed API call while doing what:
// 11 (try again later) when a retry may succeed (the API is unreachable,
// overloaded, timed out or had a conflict), else 999.
func APIError(err error, what string) error {
	var te *types.Error
	if errors.As(err, &te) {
		return te
	}
	msg := fmt.Sprintf("%s: %v", what, err)
	if Transient(err) {
		return types.NewError(types.ErrTryAgainLater, msg, "")
	}
	return types.NewError(types.ErrInternal, msg, "")
}

// Transient says whether err is one a later retry may not meet.
func Transient(err error) bool {
	var netErr net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr):
		return true
	case apierrors.IsConflict(err), apierrors.IsServerTimeout(err), apierrors.IsTimeout(err),
		apierrors.IsTooManyRequests(err), apierrors.IsServiceUnavailable(err), apierrors.IsInternalError(err):
		return true
	}
	return false
}
