package ipam

import (
	"fmt"
	"net/netip"
	"strings"
)

// PoolsExhaustedError is returned by Assign when no admitted pool has a
// free address for the node.
type PoolsExhaustedError struct {
	// Node is the node that asked.
	Node string
	// Pools are the names of the IPPools that were tried.
	Pools []string
}

func (e *PoolsExhaustedError) Error() string {
	return fmt.Sprintf("no free address in IPPools %s for node %s", strings.Join(e.Pools, ", "), e.Node)
}

// NoPoolError is returned by Assign when no enabled local IPPool admits
// the node, or when the requested pools or addresses are in no such pool.
type NoPoolError struct {
	// Node is the node that asked.
	Node string
	// Requested are the pools (names or CIDRs) or addresses asked for;
	// empty when every pool was eligible.
	Requested []string
}

func (e *NoPoolError) Error() string {
	if len(e.Requested) == 0 {
		return fmt.Sprintf("no enabled IPPool admits node %s", e.Node)
	}
	return fmt.Sprintf("no enabled IPPool among or containing %s admits node %s", strings.Join(e.Requested, ", "), e.Node)
}

// AddressInUseError is returned by Assign when a requested address is
// held by another handle.
type AddressInUseError struct {
	// Addr is the requested address.
	Addr netip.Addr
	// Handle holds Addr.
	Handle string
}

func (e *AddressInUseError) Error() string {
	return fmt.Sprintf("address %s is in use by handle %q", e.Addr, e.Handle)
}
