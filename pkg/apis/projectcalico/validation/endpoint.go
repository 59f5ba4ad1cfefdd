package validation

import (
	"fmt"
	"strings"

	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

// ValidateWorkloadEndpoint validates a WorkloadEndpoint: spec.node is
// required and is a node name or, for a mirrored endpoint,
// "<cluster>/<node>"; ipNetworks are single addresses, as CIDRs (/32,
// /128) or bare IPs; gateways are addresses of their family; mac is a MAC
// address; ports have unique valid names (a port may be unnamed only with a
// hostPort, as in Calico), a protocol with ports and a port from 1 to
// 65535; profiles are non-empty; interfaceName is a Linux interface name.
func ValidateWorkloadEndpoint(wep *v3.WorkloadEndpoint) field.ErrorList {
	var errs field.ErrorList
	specPath := field.NewPath("spec")
	s := &wep.Spec

	errs = append(errs, validateEndpointNode(specPath.Child("node"), s.Node)...)

	for i, n := range s.IPNetworks {
		p := specPath.Child("ipNetworks").Index(i)
		prefix, ok, nerrs := validateCIDROrIP(p, n, anyFamily)
		errs = append(errs, nerrs...)
		if ok && prefix.Bits() != prefix.Addr().BitLen() {
			errs = append(errs, field.Invalid(p, n, fmt.Sprintf("must be a single address (/%d)", prefix.Addr().BitLen())))
		}
	}
	if s.IPv4Gateway != "" {
		errs = append(errs, validateIP(specPath.Child("ipv4Gateway"), s.IPv4Gateway, ipv4)...)
	}
	if s.IPv6Gateway != "" {
		errs = append(errs, validateIP(specPath.Child("ipv6Gateway"), s.IPv6Gateway, ipv6)...)
	}
	if s.MAC != "" {
		errs = append(errs, validateMAC(specPath.Child("mac"), s.MAC)...)
	}
	if s.InterfaceName != "" {
		errs = append(errs, validateInterfaceName(specPath.Child("interfaceName"), s.InterfaceName)...)
	}
	errs = append(errs, validateProfileNames(specPath.Child("profiles"), s.Profiles)...)

	portsPath := specPath.Child("ports")
	names := map[string]bool{}
	for i, port := range s.Ports {
		p := portsPath.Index(i)
		errs = append(errs, validateEndpointPort(p, port.Name, port.HostPort != 0, &port.Protocol, port.Port, names)...)
		if port.HostIP != "" {
			errs = append(errs, validateIP(p.Child("hostIP"), port.HostIP, anyFamily)...)
		}
	}
	return errs
}

// ValidateHostEndpoint validates a HostEndpoint: spec.node is required (a
// node name or "<cluster>/<node>"); interfaceName or expectedIPs is
// required; interfaceName is "*" or a Linux interface name; expectedIPs
// are IP addresses; profiles are non-empty; ports have unique valid names, a
// protocol with ports and a port from 1 to 65535.
func ValidateHostEndpoint(hep *v3.HostEndpoint) field.ErrorList {
	var errs field.ErrorList
	specPath := field.NewPath("spec")
	s := &hep.Spec

	errs = append(errs, validateEndpointNode(specPath.Child("node"), s.Node)...)
	if s.InterfaceName == "" && len(s.ExpectedIPs) == 0 {
		errs = append(errs, field.Required(specPath, "one of interfaceName or expectedIPs is required"))
	}
	if s.InterfaceName != "" && s.InterfaceName != "*" {
		errs = append(errs, validateInterfaceName(specPath.Child("interfaceName"), s.InterfaceName)...)
	}
	for i, ip := range s.ExpectedIPs {
		errs = append(errs, validateIP(specPath.Child("expectedIPs").Index(i), ip, anyFamily)...)
	}
	errs = append(errs, validateProfileNames(specPath.Child("profiles"), s.Profiles)...)

	names := map[string]bool{}
	for i, port := range s.Ports {
		errs = append(errs, validateEndpointPort(specPath.Child("ports").Index(i), port.Name, false, &port.Protocol, port.Port, names)...)
	}
	return errs
}

// validateEndpointNode checks an endpoint's node: a DNS-1123 subdomain,
// optionally prefixed by a remote cluster's name (a DNS-1123 label) and "/".
func validateEndpointNode(fldPath *field.Path, node string) field.ErrorList {
	if node == "" {
		return field.ErrorList{field.Required(fldPath, "the name of the node hosting the endpoint is required")}
	}
	parts := strings.Split(node, v3.RemoteNameSeparator)
	if len(parts) > 2 {
		return field.ErrorList{field.Invalid(fldPath, node, `may contain at most one "/", between a remote cluster's name and the node name ("<cluster>/<node>")`)}
	}
	var errs field.ErrorList
	nodeName := parts[len(parts)-1]
	if len(parts) == 2 {
		if msgs := utilvalidation.IsDNS1123Label(parts[0]); len(msgs) > 0 {
			errs = append(errs, field.Invalid(fldPath, node, fmt.Sprintf("the cluster name %q before \"/\" must be a DNS-1123 label: %s", parts[0], strings.Join(msgs, "; "))))
		}
	}
	if msgs := utilvalidation.IsDNS1123Subdomain(nodeName); len(msgs) > 0 {
		errs = append(errs, field.Invalid(fldPath, node, fmt.Sprintf("the node name %q must be a DNS-1123 subdomain: %s", nodeName, strings.Join(msgs, "; "))))
	}
	return errs
}

// validateProfileNames checks that no profile name is empty.
func validateProfileNames(fldPath *field.Path, profiles []string) field.ErrorList {
	var errs field.ErrorList
	for i, p := range profiles {
		if p == "" {
			errs = append(errs, field.Required(fldPath.Index(i), "profile names must not be empty"))
		}
	}
	return errs
}

// validateEndpointPort checks a named port of an endpoint. names collects
// the names seen so far; unnamedOK allows an empty name (a workload port
// with a hostPort).
func validateEndpointPort(fldPath *field.Path, name string, unnamedOK bool, proto *v3.Protocol, port uint16, names map[string]bool) field.ErrorList {
	var errs field.ErrorList
	switch {
	case name == "":
		if !unnamedOK {
			errs = append(errs, field.Required(fldPath.Child("name"), "a port name is required"))
		}
	case names[name]:
		errs = append(errs, field.Duplicate(fldPath.Child("name"), name))
	default:
		names[name] = true
		for _, msg := range utilvalidation.IsValidPortName(name) {
			errs = append(errs, field.Invalid(fldPath.Child("name"), name, msg))
		}
	}

	protoPath := fldPath.Child("protocol")
	switch {
	case proto.Number == nil && proto.Name == "":
		errs = append(errs, field.Required(protoPath, "TCP, UDP, SCTP or UDPLite"))
	case !isValidProtocolName(proto.Name) && proto.Number == nil:
		errs = append(errs, validateProtocol(protoPath, proto)...)
	case !proto.SupportsPorts():
		errs = append(errs, field.Invalid(protoPath, proto.String(), "must be a protocol with ports: TCP, UDP, SCTP or UDPLite"))
	}

	if port == 0 {
		errs = append(errs, field.Invalid(fldPath.Child("port"), int64(port), "must be from 1 to 65535"))
	}
	return errs
}
