package validation

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"unicode"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Limits of Linux network interface names: IFNAMSIZ is 16 including the
// terminating NUL.
const maxInterfaceNameLen = 15

// ipFamily is 4 or 6; 0 means "either".
type ipFamily int

const (
	anyFamily ipFamily = 0
	ipv4      ipFamily = 4
	ipv6      ipFamily = 6
)

// familyOf returns the family of a. IPv4-mapped IPv6 addresses are IPv6.
func familyOf(a netip.Addr) ipFamily {
	if a.Is4() {
		return ipv4
	}
	return ipv6
}

// familyName returns "IPv4", "IPv6" or "IP".
func familyName(f ipFamily) string {
	switch f {
	case ipv4:
		return "IPv4"
	case ipv6:
		return "IPv6"
	}
	return "IP"
}

// parseAddr parses a bare IP address; zones ("fe80::1%eth0") are rejected.
func parseAddr(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a, true
}

// parseCIDROrIP parses "addr/len" or a bare address, which stands for a
// full-length prefix (/32 or /128). Host bits may be set; the returned
// prefix keeps them.
func parseCIDROrIP(s string) (netip.Prefix, bool) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, false
		}
		return p, true
	}
	a, ok := parseAddr(s)
	if !ok {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(a, a.BitLen()), true
}

// validateIP checks that s is a bare IP address of the given family
// (anyFamily for either). Callers check emptiness themselves.
func validateIP(fldPath *field.Path, s string, fam ipFamily) field.ErrorList {
	a, ok := parseAddr(s)
	if !ok {
		return field.ErrorList{field.Invalid(fldPath, s, ipExample(fam))}
	}
	if fam != anyFamily && familyOf(a) != fam {
		return field.ErrorList{field.Invalid(fldPath, s, fmt.Sprintf("must be an %s address, not %s", familyName(fam), familyName(familyOf(a))))}
	}
	return nil
}

func ipExample(fam ipFamily) string {
	switch fam {
	case ipv4:
		return "must be a valid IPv4 address, e.g. 10.0.0.1"
	case ipv6:
		return "must be a valid IPv6 address, e.g. fd00::1"
	}
	return "must be a valid IP address, e.g. 10.0.0.1 or fd00::1"
}

// validateCIDROrIP checks that s is a CIDR ("10.0.0.0/24", host bits
// allowed) or a bare IP address, of the given family. It returns the parsed
// prefix and whether parsing succeeded.
func validateCIDROrIP(fldPath *field.Path, s string, fam ipFamily) (netip.Prefix, bool, field.ErrorList) {
	p, ok := parseCIDROrIP(s)
	if !ok {
		msg := "must be a valid CIDR or IP address, e.g. 10.0.0.0/24, 10.0.0.1 or fd00::/64"
		if fam != anyFamily {
			msg = fmt.Sprintf("must be a valid %s CIDR or address", familyName(fam))
		}
		return netip.Prefix{}, false, field.ErrorList{field.Invalid(fldPath, s, msg)}
	}
	if fam != anyFamily && familyOf(p.Addr()) != fam {
		return p, true, field.ErrorList{field.Invalid(fldPath, s, fmt.Sprintf("must be an %s CIDR or address, not %s", familyName(fam), familyName(familyOf(p.Addr()))))}
	}
	return p, true, nil
}

// validateMaskedCIDR checks that s is a CIDR in "addr/len" form whose host
// bits are zero. It returns the masked prefix and whether s parsed (the
// prefix is usable even when it was not masked).
func validateMaskedCIDR(fldPath *field.Path, s string) (netip.Prefix, bool, field.ErrorList) {
	if s == "" {
		return netip.Prefix{}, false, field.ErrorList{field.Required(fldPath, "a CIDR such as 10.244.0.0/16 or fd00:10:244::/64 is required")}
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, false, field.ErrorList{field.Invalid(fldPath, s, "must be a CIDR in address/prefix-length form, e.g. 10.244.0.0/16 or fd00:10:244::/64")}
	}
	if m := p.Masked(); m != p {
		return m, true, field.ErrorList{field.Invalid(fldPath, s, fmt.Sprintf("must be a network address (did you mean %q?)", m.String()))}
	}
	return p, true, nil
}

// interfaceNameProblems returns why s is not a valid Linux interface name
// (the kernel's dev_valid_name): 1-15 bytes, not "." or "..", no '/', ':',
// whitespace or NUL.
func interfaceNameProblems(s string) []string {
	var msgs []string
	if s == "" {
		return []string{"must not be empty"}
	}
	if len(s) > maxInterfaceNameLen {
		msgs = append(msgs, fmt.Sprintf("must be at most %d bytes long (Linux IFNAMSIZ)", maxInterfaceNameLen))
	}
	if s == "." || s == ".." {
		msgs = append(msgs, `must not be "." or ".."`)
	}
	if strings.ContainsFunc(s, func(r rune) bool {
		return r == '/' || r == ':' || r == 0 || unicode.IsSpace(r)
	}) {
		msgs = append(msgs, "must not contain '/', ':', whitespace or NUL")
	}
	return msgs
}

// validateInterfaceName reports each problem of interfaceNameProblems as a
// field.Invalid.
func validateInterfaceName(fldPath *field.Path, s string) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range interfaceNameProblems(s) {
		errs = append(errs, field.Invalid(fldPath, s, "not a valid Linux interface name: "+msg))
	}
	return errs
}

// validateMAC checks that s is a 48-bit (Ethernet) MAC address in a form
// net.ParseMAC accepts.
func validateMAC(fldPath *field.Path, s string) field.ErrorList {
	hw, err := net.ParseMAC(s)
	if err != nil {
		return field.ErrorList{field.Invalid(fldPath, s, "must be a MAC address, e.g. 66:0e:2e:3c:8e:a0")}
	}
	if len(hw) != 6 {
		return field.ErrorList{field.Invalid(fldPath, s, fmt.Sprintf("must be a 48-bit Ethernet MAC address, not a %d-bit one", len(hw)*8))}
	}
	return nil
}

// httpURLProblem returns why s is not an http:// or https:// URL with a
// host (and an optional port from 1 to 65535), and a form of s safe to
// echo (any password redacted). The problem is empty when s is valid.
func httpURLProblem(s string) (problem, shown string) {
	const want = "must be an http:// or https:// URL with a host, e.g. https://10.0.0.1:2379"
	u, err := url.Parse(s)
	if err != nil {
		return want, s
	}
	shown = u.Redacted()
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		if u.Scheme == "" {
			return want + ": the scheme is missing", shown
		}
		return fmt.Sprintf("%s: scheme %q is not http or https", want, u.Scheme), shown
	case u.Hostname() == "":
		return want + ": the host is missing", shown
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Sprintf("%s: port %s is not from 1 to 65535", want, p), shown
		}
	}
	return "", shown
}

// validateRange checks lo <= *v <= hi when v is set; note, if not empty, is
// appended to the message (e.g. " (the VXLAN VNI is 24 bits)").
func validateRange(fldPath *field.Path, v *int, lo, hi int, note string) field.ErrorList {
	if v == nil || (*v >= lo && *v <= hi) {
		return nil
	}
	return field.ErrorList{field.Invalid(fldPath, *v, fmt.Sprintf("must be from %d to %d%s", lo, hi, note))}
}
