package cni

import (
	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netns"
)

// nsHandle is a netns handle for an open namespace; it stays valid while
// n is open and must not be closed separately.
func nsHandle(n ns.NetNS) netns.NsHandle {
	return netns.NsHandle(int(n.Fd()))
}
