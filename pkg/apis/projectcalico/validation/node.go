package validation

import (
	"encoding/base64"

	"k8s.io/apimachinery/pkg/util/validation/field"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

// wireguardKeyLen is the length of a WireGuard (Curve25519) public key.
const wireguardKeyLen = 32

// maxASNumber is the largest 4-byte AS number.
const maxASNumber = 1<<32 - 1

// ValidateNode validates a Node: addresses are IP addresses with or without
// a prefix length, of type InternalIP, ExternalIP, CalicoNodeIP or empty;
// VXLAN tunnel addresses are bare addresses of their family and tunnel MACs
// 48-bit MAC addresses; BGP addresses are CIDRs or addresses of their
// family, the AS number is from 1 to 2^32-1 and a route reflector cluster
// ID is an IPv4 address; WireGuard interface addresses
// are addresses of their family; orchRefs name their orchestrator; status
// WireGuard public keys are base64 encodings of 32 bytes and pod CIDRs are
// CIDRs. The node name is not checked here.
func ValidateNode(n *v3.Node) field.ErrorList {
	specPath := field.NewPath("spec")
	s := &n.Spec
	errs := validateNodeAddresses(specPath.Child("addresses"), s.Addresses)
	errs = append(errs, validateNodeVXLAN(specPath, s)...)
	if s.BGP != nil {
		errs = append(errs, validateNodeBGP(specPath.Child("bgp"), s.BGP)...)
	}
	for i, r := range s.OrchRefs {
		if r.Orchestrator == "" {
			errs = append(errs, field.Required(specPath.Child("orchRefs").Index(i).Child("orchestrator"), `e.g. "k8s"`))
		}
	}
	if w := s.Wireguard; w != nil {
		p := specPath.Child("wireguard")
		if w.InterfaceIPv4Address != "" {
			errs = append(errs, validateIP(p.Child("interfaceIPv4Address"), w.InterfaceIPv4Address, ipv4)...)
		}
		if w.InterfaceIPv6Address != "" {
			errs = append(errs, validateIP(p.Child("interfaceIPv6Address"), w.InterfaceIPv6Address, ipv6)...)
		}
	}
	statusPath := field.NewPath("status")
	errs = append(errs, validateWireguardKey(statusPath.Child("wireguardPublicKey"), n.Status.WireguardPublicKey)...)
	errs = append(errs, validateWireguardKey(statusPath.Child("wireguardPublicKeyV6"), n.Status.WireguardPublicKeyV6)...)
	for i, c := range n.Status.PodCIDRs {
		_, _, cerrs := validateCIDROrIP(statusPath.Child("podCIDRs").Index(i), c, anyFamily)
		errs = append(errs, cerrs...)
	}
	return errs
}

// validateNodeAddresses checks spec.addresses: each an address (or
// CIDR) of a known type.
func validateNodeAddresses(path *field.Path, addrs []v3.NodeAddress) field.ErrorList {
	var errs field.ErrorList
	for i, a := range addrs {
		p := path.Index(i)
		if a.Address == "" {
			errs = append(errs, field.Required(p.Child("address"), "an IP address, optionally with prefix length"))
		} else {
			_, _, aerrs := validateCIDROrIP(p.Child("address"), a.Address, anyFamily)
			errs = append(errs, aerrs...)
		}
		switch a.Type {
		case "", v3.InternalIP, v3.ExternalIP, v3.CalicoNodeIP:
		default:
			errs = append(errs, field.NotSupported(p.Child("type"), a.Type,
				[]v3.NodeAddressType{v3.InternalIP, v3.ExternalIP, v3.CalicoNodeIP}))
		}
	}
	return errs
}

// validateNodeVXLAN checks the VXLAN tunnel addresses and MACs of spec s.
func validateNodeVXLAN(specPath *field.Path, s *v3.NodeSpec) field.ErrorList {
	var errs field.ErrorList
	if s.IPv4VXLANTunnelAddr != "" {
		errs = append(errs, validateIP(specPath.Child("ipv4VXLANTunnelAddr"), s.IPv4VXLANTunnelAddr, ipv4)...)
	}
	if s.IPv6VXLANTunnelAddr != "" {
		errs = append(errs, validateIP(specPath.Child("ipv6VXLANTunnelAddr"), s.IPv6VXLANTunnelAddr, ipv6)...)
	}
	if s.VXLANTunnelMACAddr != "" {
		errs = append(errs, validateMAC(specPath.Child("vxlanTunnelMACAddr"), s.VXLANTunnelMACAddr)...)
	}
	if s.VXLANTunnelMACAddrV6 != "" {
		errs = append(errs, validateMAC(specPath.Child("vxlanTunnelMACAddrV6"), s.VXLANTunnelMACAddrV6)...)
	}
	return errs
}

// validateNodeBGP checks spec.bgp: its addresses, AS number and route
// reflector cluster ID.
func validateNodeBGP(p *field.Path, b *v3.NodeBGPSpec) field.ErrorList {
	var errs field.ErrorList
	for _, f := range []struct {
		name, value string
		fam         ipFamily
	}{
		{"ipv4Address", b.IPv4Address, ipv4},
		{"ipv6Address", b.IPv6Address, ipv6},
		{"ipv4IPIPTunnelAddr", b.IPv4IPIPTunnelAddr, ipv4},
	} {
		if f.value != "" {
			_, _, ferrs := validateCIDROrIP(p.Child(f.name), f.value, f.fam)
			errs = append(errs, ferrs...)
		}
	}
	if as := b.ASNumber; as != nil {
		errs = append(errs, validateASNumber(p.Child("asNumber"), *as)...)
	}
	if id := b.RouteReflectorClusterID; id != "" {
		errs = append(errs, validateIP(p.Child("routeReflectorClusterID"), id, ipv4)...)
	}
	return errs
}

// validateWireguardKey checks that k, if set, is the standard base64
// encoding of a 32-byte key.
func validateWireguardKey(fldPath *field.Path, k string) field.ErrorList {
	if k == "" {
		return nil
	}
	b, err := base64.StdEncoding.DecodeString(k)
	if err != nil || len(b) != wireguardKeyLen {
		return field.ErrorList{field.Invalid(fldPath, k, "must be a WireGuard public key: the base64 encoding of 32 bytes")}
	}
	return nil
}
