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
// (proxy_arp=1, proxy_delay=0, forwarding=1). A host route to the pod's
// address via the host side is tagged with RouteProtocol. Because the
// plugin and the controller that derives WorkloadEndpoints both call
// podendpoints.InterfaceName, the endpoint's spec.interfaceName is always
// the interface the plugin created; nothing else computes the name.
//
// The IPAM section of the configuration names "meshapi-ipam" or, so that
// Calico conflists keep working unchanged, "calico-ipam": either way the
// plugin allocates itself (no IPAM plugin is executed). The handle of an
// allocation is "<network name>.<container ID>"; its attributes are the
// pod's namespace and name, the node and type=pod. The Calico pod
// annotations cni.projectcalico.org/ipv4pools and
// cni.projectcalico.org/ipAddrs are honoured.
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
// allocator could not resolve, and an unreachable API server, are 11
// (try again later).
package cni
