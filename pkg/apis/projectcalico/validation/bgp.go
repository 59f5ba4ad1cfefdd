package validation

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

// bgpConfigurationNodePrefix starts the name of a per-node BGPConfiguration.
const bgpConfigurationNodePrefix = "node."

// ValidateBGPConfiguration checks a BGPConfiguration: its name is
// "default" or "node.<node name>"; asNumber is a 4-byte AS number other
// than 0; service CIDRs and prefixAdvertisements' CIDRs are CIDRs;
// communities have a name and a value "aa:nn" (16-bit numbers) or
// "aa:nn:mm" (32-bit numbers), and prefixAdvertisements name defined
// communities or give literal values; logSeverityScreen is Debug, Info,
// Warning, Error or Fatal; the node-mesh password and restart time are set
// only on "default"; durations are not negative.
func ValidateBGPConfiguration(c *v3.BGPConfiguration) field.ErrorList {
	errs := validateBGPConfigurationName(c.Name)
	specPath := field.NewPath("spec")
	s := &c.Spec
	if s.ASNumber != nil {
		errs = append(errs, validateASNumber(specPath.Child("asNumber"), *s.ASNumber)...)
	}
	switch s.LogSeverityScreen {
	case "", "Debug", "Info", "Warning", "Error", "Fatal":
	default:
		errs = append(errs, field.NotSupported(specPath.Child("logSeverityScreen"), s.LogSeverityScreen,
			[]string{"Debug", "Info", "Warning", "Error", "Fatal"}))
	}
	for i, b := range s.ServiceClusterIPs {
		errs = append(errs, validateBGPCIDR(specPath.Child("serviceClusterIPs").Index(i).Child("cidr"), b.CIDR)...)
	}
	for i, b := range s.ServiceExternalIPs {
		errs = append(errs, validateBGPCIDR(specPath.Child("serviceExternalIPs").Index(i).Child("cidr"), b.CIDR)...)
	}
	for i, b := range s.ServiceLoadBalancerIPs {
		errs = append(errs, validateBGPCIDR(specPath.Child("serviceLoadBalancerIPs").Index(i).Child("cidr"), b.CIDR)...)
	}
	errs = append(errs, validateCommunities(specPath, s)...)
	if c.Name != v3.BGPConfigurationName {
		if s.NodeMeshPassword != nil {
			errs = append(errs, field.Forbidden(specPath.Child("nodeMeshPassword"), fmt.Sprintf("only the %q BGPConfiguration may set it, not %q", v3.BGPConfigurationName, c.Name)))
		}
		if s.NodeMeshMaxRestartTime != nil {
			errs = append(errs, field.Forbidden(specPath.Child("nodeMeshMaxRestartTime"), fmt.Sprintf("only the %q BGPConfiguration may set it, not %q", v3.BGPConfigurationName, c.Name)))
		}
	}
	errs = append(errs, validateBGPPassword(specPath.Child("nodeMeshPassword"), s.NodeMeshPassword)...)
	if d := s.NodeMeshMaxRestartTime; d != nil && d.Duration < 0 {
		errs = append(errs, field.Invalid(specPath.Child("nodeMeshMaxRestartTime"), d.Duration.String(), "must not be negative"))
	}
	return errs
}

// validateBGPConfigurationName checks that name is "default" or
// "node.<node name>".
func validateBGPConfigurationName(name string) field.ErrorList {
	p := field.NewPath("metadata", "name")
	if name == "" {
		return field.ErrorList{field.Required(p, `"default" or "node.<node name>"`)}
	}
	if name == v3.BGPConfigurationName {
		return nil
	}
	node, ok := strings.CutPrefix(name, bgpConfigurationNodePrefix)
	if !ok || node == "" {
		return field.ErrorList{field.Invalid(p, name, `must be "default" or "node.<node name>"`)}
	}
	var errs field.ErrorList
	for _, msg := range utilvalidation.IsDNS1123Subdomain(name) {
		errs = append(errs, field.Invalid(p, name, msg))
	}
	return errs
}

// validateCommunities checks spec.communities and
// spec.prefixAdvertisements.
func validateCommunities(specPath *field.Path, s *v3.BGPConfigurationSpec) field.ErrorList {
	var errs field.ErrorList
	names := map[string]bool{}
	for i, c := range s.Communities {
		p := specPath.Child("communities").Index(i)
		switch {
		case c.Name == "":
			errs = append(errs, field.Required(p.Child("name"), "the name prefixAdvertisements use"))
		case names[c.Name]:
			errs = append(errs, field.Duplicate(p.Child("name"), c.Name))
		default:
			names[c.Name] = true
		}
		if c.Value == "" {
			errs = append(errs, field.Required(p.Child("value"), `"aa:nn" or "aa:nn:mm"`))
		} else if msg := communityProblem(c.Value); msg != "" {
			errs = append(errs, field.Invalid(p.Child("value"), c.Value, msg))
		}
	}
	for i, a := range s.PrefixAdvertisements {
		p := specPath.Child("prefixAdvertisements").Index(i)
		if a.CIDR == "" {
			errs = append(errs, field.Required(p.Child("cidr"), "the prefix whose routes are tagged"))
		} else {
			errs = append(errs, validateBGPCIDR(p.Child("cidr"), a.CIDR)...)
		}
		if len(a.Communities) == 0 {
			errs = append(errs, field.Required(p.Child("communities"), "names from spec.communities or values"))
		}
		for j, c := range a.Communities {
			if !names[c] && communityProblem(c) != "" {
				errs = append(errs, field.Invalid(p.Child("communities").Index(j), c,
					`must name one of spec.communities or be a value "aa:nn" or "aa:nn:mm"`))
			}
		}
	}
	return errs
}

// communityProblem tells what is wrong with a community value, or "".
func communityProblem(v string) string {
	parts := strings.Split(v, ":")
	bits := 0
	switch len(parts) {
	case 2:
		bits = 16
	case 3:
		bits = 32
	default:
		return `must be "aa:nn" (standard community) or "aa:nn:mm" (large community)`
	}
	for _, part := range parts {
		if _, err := strconv.ParseUint(part, 10, bits); err != nil {
			return fmt.Sprintf("each part of a %s community must be a %d-bit number", map[int]string{16: "standard", 32: "large"}[bits], bits)
		}
	}
	return ""
}

// validateBGPCIDR checks that s is a CIDR.
func validateBGPCIDR(fldPath *field.Path, s string) field.ErrorList {
	if _, err := netip.ParsePrefix(s); err != nil {
		return field.ErrorList{field.Invalid(fldPath, s, `must be a CIDR, e.g. "10.96.0.0/12"`)}
	}
	return nil
}

// validateASNumber checks that as is a 4-byte AS number other than 0,
// which RFC 7607 reserves.
func validateASNumber(fldPath *field.Path, as int64) field.ErrorList {
	if as < 1 || as > maxASNumber {
		return field.ErrorList{field.Invalid(fldPath, as, fmt.Sprintf("must be an AS number from 1 to %d", int64(maxASNumber)))}
	}
	return nil
}

// validateBGPPassword checks that a password, if given, names a Secret key.
func validateBGPPassword(fldPath *field.Path, pw *v3.BGPPassword) field.ErrorList {
	if pw == nil {
		return nil
	}
	p := fldPath.Child("secretKeyRef")
	ref := pw.SecretKeyRef
	if ref == nil {
		return field.ErrorList{field.Required(p, "the Secret key holding the password")}
	}
	var errs field.ErrorList
	if ref.Name == "" {
		errs = append(errs, field.Required(p.Child("name"), "the Secret's name"))
	} else {
		for _, msg := range utilvalidation.IsDNS1123Subdomain(ref.Name) {
			errs = append(errs, field.Invalid(p.Child("name"), ref.Name, msg))
		}
	}
	if ref.Key == "" {
		errs = append(errs, field.Required(p.Child("key"), "the key of the Secret's data"))
	} else {
		for _, msg := range utilvalidation.IsConfigMapKey(ref.Key) {
			errs = append(errs, field.Invalid(p.Child("key"), ref.Key, msg))
		}
	}
	return errs
}

// ValidateBGPPeer checks a BGPPeer: node and nodeSelector are not both
// set; peerIP with asNumber, or peerSelector alone; peerIP is an address
// with an optional port ("198.18.0.1", "198.18.0.1:1179",
// "[2001:db8::1]:1179"); asNumber is a 4-byte AS number other than 0;
// selectors parse; sourceAddress is UseNodeIP or None; the password names a
// Secret key; durations and the allowed local AS count are not negative.
func ValidateBGPPeer(bp *v3.BGPPeer) field.ErrorList {
	var errs field.ErrorList
	namePath := field.NewPath("metadata", "name")
	if bp.Name == "" {
		errs = append(errs, field.Required(namePath, "a DNS subdomain"))
	} else {
		for _, msg := range utilvalidation.IsDNS1123Subdomain(bp.Name) {
			errs = append(errs, field.Invalid(namePath, bp.Name, msg))
		}
	}
	specPath := field.NewPath("spec")
	s := &bp.Spec
	if s.Node != "" && s.NodeSelector != "" {
		errs = append(errs, field.Forbidden(specPath.Child("nodeSelector"), fmt.Sprintf("must be empty when spec.node is set (node %q)", s.Node)))
	}
	if s.Node != "" {
		for _, msg := range utilvalidation.IsDNS1123Subdomain(s.Node) {
			errs = append(errs, field.Invalid(specPath.Child("node"), s.Node, msg))
		}
	}
	errs = append(errs, ValidateSelector(specPath.Child("nodeSelector"), s.NodeSelector)...)
	errs = append(errs, validatePeerTarget(specPath, s)...)
	switch s.SourceAddress {
	case "", v3.SourceAddressUseNodeIP, v3.SourceAddressNone:
	default:
		errs = append(errs, field.NotSupported(specPath.Child("sourceAddress"), s.SourceAddress,
			[]v3.SourceAddress{v3.SourceAddressUseNodeIP, v3.SourceAddressNone}))
	}
	errs = append(errs, validateBGPPassword(specPath.Child("password"), s.Password)...)
	if d := s.MaxRestartTime; d != nil && d.Duration < 0 {
		errs = append(errs, field.Invalid(specPath.Child("maxRestartTime"), d.Duration.String(), "must not be negative"))
	}
	if n := s.NumAllowedLocalASNumbers; n != nil && *n < 0 {
		errs = append(errs, field.Invalid(specPath.Child("numAllowedLocalASNumbers"), *n, "must not be negative"))
	}
	return errs
}

// validatePeerTarget checks that a peer is either peerIP with asNumber or
// a peerSelector alone.
func validatePeerTarget(specPath *field.Path, s *v3.BGPPeerSpec) field.ErrorList {
	var errs field.ErrorList
	if s.PeerSelector != "" {
		if s.PeerIP != "" {
			errs = append(errs, field.Forbidden(specPath.Child("peerIP"), fmt.Sprintf("must be empty when spec.peerSelector is set (peerIP %q)", s.PeerIP)))
		}
		if s.ASNumber != 0 {
			errs = append(errs, field.Forbidden(specPath.Child("asNumber"), fmt.Sprintf("must be empty when spec.peerSelector is set (asNumber %d): the selected nodes' AS numbers are used", s.ASNumber)))
		}
		return append(errs, ValidateSelector(specPath.Child("peerSelector"), s.PeerSelector)...)
	}
	if s.PeerIP == "" {
		errs = append(errs, field.Required(specPath.Child("peerIP"), "the peer's address, or a spec.peerSelector"))
	} else if _, err := ParsePeerIP(s.PeerIP); err != nil {
		errs = append(errs, field.Invalid(specPath.Child("peerIP"), s.PeerIP, err.Error()))
	}
	if s.ASNumber == 0 {
		errs = append(errs, field.Required(specPath.Child("asNumber"), "the peer's AS number"))
	} else {
		errs = append(errs, validateASNumber(specPath.Child("asNumber"), s.ASNumber)...)
	}
	return errs
}

// ParsePeerIP parses a BGPPeer's peerIP: an address, "<IPv4>:<port>" or
// "[<IPv6>]:<port>". The port is 0 when not given.
func ParsePeerIP(s string) (netip.AddrPort, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		if a.Zone() != "" {
			return netip.AddrPort{}, fmt.Errorf("must not have a zone")
		}
		return netip.AddrPortFrom(a, 0), nil
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf(`must be an IP address with an optional port: "198.18.0.1", "198.18.0.1:1179" or "[2001:db8::1]:1179"`)
	}
	if ap.Port() == 0 {
		return netip.AddrPort{}, fmt.Errorf("the port must be from 1 to 65535")
	}
	return ap, nil
}
