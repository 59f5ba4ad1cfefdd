package ipam

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
)

// Calico's pod annotations that steer IPAM.
const (
	// AnnotationIPv4Pools restricts a pod's IPv4 address to these IPPools:
	// a JSON list of pool names or CIDRs.
	AnnotationIPv4Pools = "cni.projectcalico.org/ipv4pools"
	// AnnotationIPv6Pools is AnnotationIPv4Pools for IPv6.
	AnnotationIPv6Pools = "cni.projectcalico.org/ipv6pools"
	// AnnotationIPAddrs asks for exact addresses: a JSON list.
	AnnotationIPAddrs = "cni.projectcalico.org/ipAddrs"
)

// ParsePoolsAnnotation parses the value of AnnotationIPv4Pools (or
// AnnotationIPv6Pools): a JSON list of non-empty pool names or CIDRs.
func ParsePoolsAnnotation(value string) ([]string, error) {
	var pools []string
	if err := json.Unmarshal([]byte(value), &pools); err != nil {
		return nil, fmt.Errorf("annotation %s %q: not a JSON list of pool names or CIDRs: %w", AnnotationIPv4Pools, value, err)
	}
	for i, p := range pools {
		p = strings.TrimSpace(p)
		if p == "" {
			return nil, fmt.Errorf("annotation %s %q: entry %d is empty", AnnotationIPv4Pools, value, i)
		}
		if strings.Contains(p, "/") {
			if _, err := netip.ParsePrefix(p); err != nil {
				return nil, fmt.Errorf("annotation %s %q: entry %d %q is not a CIDR: %w", AnnotationIPv4Pools, value, i, p, err)
			}
		}
		pools[i] = p
	}
	return pools, nil
}

// ParseAddrsAnnotation parses the value of AnnotationIPAddrs: a JSON list
// of distinct IP addresses without an IPv6 zone.
func ParseAddrsAnnotation(value string) ([]netip.Addr, error) {
	var raw []string
	if err := json.Unmarshal([]byte(value), &raw); err != nil {
		return nil, fmt.Errorf("annotation %s %q: not a JSON list of addresses: %w", AnnotationIPAddrs, value, err)
	}
	addrs := make([]netip.Addr, 0, len(raw))
	for i, s := range raw {
		a, err := netip.ParseAddr(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("annotation %s %q: entry %d %q is not an IP address: %w", AnnotationIPAddrs, value, i, s, err)
		}
		if a.Zone() != "" {
			return nil, fmt.Errorf("annotation %s %q: entry %d %q has an IPv6 zone: no IP pool contains a zoned address", AnnotationIPAddrs, value, i, s)
		}
		a = a.Unmap()
		for _, b := range addrs {
			if a == b {
				return nil, fmt.Errorf("annotation %s %q: address %s is listed twice", AnnotationIPAddrs, value, a)
			}
		}
		addrs = append(addrs, a)
	}
	return addrs, nil
}
