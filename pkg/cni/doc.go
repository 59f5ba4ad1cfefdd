// Package cni is meshapi's CNI plugin (specification 1.1.0; it also
// accepts 0.4.0 and 1.0.0 configurations): it gives a pod its interface
// and its address the way Calico's plugin does, with addresses from
// meshapi's own Calico-style IPAM (pkg/ipam) on the projectcalico.org/v3
// API.
//
// ADD creates a veth pair: the pod side is the runtime's CNI_IFNAME
// (eth0) with the allocated address as a host prefix (/32) and a default
// route via the link-local gateway 169.254.1.1 (on-link); the host side,
// named podendpoints.InterfaceName(namespace, pod) with the MAC
// ee:ee:ee:ee:ee:ee, answers ARP for every address by proxy ARP
// (proxy_arp=1, proxy_delay=0, forwarding=1) and has IPv6 turned off
// (disable_ipv6=1: pods are IPv4 only, and the node's IPv6 table stays
// free of a link-local route per pod). A host route to the pod's
// address via the host side is tagged with RouteProtocol. Because the
// plugin and the controller that derives WorkloadEndpoints both call
// podendpoints.InterfaceName, the endpoint's spec.interfaceName is always
// the interface the plugin created; nothing else computes the name.
//
// The IPAM section of the configuration names "meshapi-ipam" or, so that
// Calico conflists keep working unchanged, "calico-ipam": either way no
// IPAM plugin is executed. The addresses come from meshapi-agent's
// node-local IPAM service (pkg/ipamd), asked over the Unix socket the
// configuration's "ipamSocket" names (default /var/run/meshapi/ipam.sock)
// with the small protocol of pkg/ipamwire: the plugin makes no API call
// and links no Kubernetes client, so an invocation costs a process start,
// one local request and the netlink work. The service holds the API
// connection, reads the pod's Calico annotations
// (cni.projectcalico.org/ipv4pools and cni.projectcalico.org/ipAddrs),
// computes the MTU and the host-side interface name, and batches the
// node's concurrent allocations into one compare-and-swap per block. The
// handle of an allocation is "<network name>.<container ID>"; its
// attributes are the pod's namespace and name, the node and type=pod.
//
// When the service does not answer (the agent is not running yet, or is
// restarting) the plugin fails with code 11 (try again later) naming the
// socket, and does not fall back to the API itself: the kubelet retries
// a failed sandbox, the agent is needed for the pod's traffic anyway, and
// a fallback would bring client-go back into every invocation and a
// second writer contending for the node's blocks.
//
// Errors are CNI error objects. Besides the specification's codes
// (4 invalid environment variables, 7 invalid network configuration,
// 11 try again later, 50 plugin not available, 999 internal) the plugin
// uses these plugin-specific codes:
//
//	100 (ErrPoolsExhausted): every pool the pod may use is full.
//	101 (ErrNoPool):         no enabled pool admits the node (or the
//	                          annotation names pools that do not exist).
//	102 (ErrAddressInUse):   an address the ipAddrs annotation requests is
//	                          held by another handle.
//
// Conflicts on the API (another writer changed a block first) that the
// service could not resolve, an unreachable API server and an
// unreachable service are 11 (try again later).
package cni
