package v3

import (
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"

	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Protocol is an IP protocol given by name ("TCP", "UDP", "SCTP", "ICMP",
// "ICMPv6", "UDPLite") or by number (0-255). In YAML it is written as a
// plain string or integer: `protocol: TCP` or `protocol: 6`.
type Protocol struct {
	// Number is the protocol number when the protocol was given as a number.
	Number *uint8 `json:"-"`
	// Name is the protocol name when the protocol was given as a string.
	Name string `json:"-"`
}

// Protocol names understood by the dataplane.
const (
	ProtocolTCP     = "TCP"
	ProtocolUDP     = "UDP"
	ProtocolSCTP    = "SCTP"
	ProtocolICMP    = "ICMP"
	ProtocolICMPv6  = "ICMPv6"
	ProtocolUDPLite = "UDPLite"
)

// ProtocolFromString returns the protocol with the given name.
func ProtocolFromString(name string) Protocol { return Protocol{Name: name} }

// ProtocolFromInt returns the protocol with the given number.
func ProtocolFromInt(n uint8) Protocol { return Protocol{Number: &n} }

// String returns the name, or the number in decimal.
func (p Protocol) String() string {
	if p.Number != nil {
		return strconv.Itoa(int(*p.Number))
	}
	return p.Name
}

// SupportsPorts reports whether rules with this protocol may match ports.
func (p Protocol) SupportsPorts() bool {
	if p.Number != nil {
		switch *p.Number {
		case 6, 17, 132, 136:
			return true
		}
		return false
	}
	switch strings.ToUpper(p.Name) {
	case "TCP", "UDP", "SCTP", "UDPLITE":
		return true
	}
	return false
}

// MarshalJSON writes the protocol as a JSON string or number.
func (p Protocol) MarshalJSON() ([]byte, error) {
	if p.Number != nil {
		return json.Marshal(*p.Number)
	}
	return json.Marshal(p.Name)
}

// UnmarshalJSON reads a JSON string or number; a quoted number ("6") is a
// number. null leaves the protocol unset.
func (p *Protocol) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		if n, err := strconv.ParseUint(s, 10, 8); err == nil {
			num := uint8(n)
			*p = Protocol{Number: &num}
			return nil
		}
		*p = Protocol{Name: s}
		return nil
	}
	var n uint8
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("protocol must be a name or a number from 0 to 255: %s", b)
	}
	*p = Protocol{Number: &n}
	return nil
}

// OpenAPISchemaType is used by the kube-openapi generator when constructing
// the OpenAPI spec of this type.
func (Protocol) OpenAPISchemaType() []string { return []string{"string"} }

// OpenAPISchemaFormat is used by the kube-openapi generator when constructing
// the OpenAPI spec of this type.
func (Protocol) OpenAPISchemaFormat() string { return "int-or-string" }

// OpenAPIV3OneOfTypes is used by the kube-openapi generator when constructing
// the OpenAPI v3 spec of this type.
func (Protocol) OpenAPIV3OneOfTypes() []string { return []string{"integer", "string"} }

// Port is a port, a port range or a named port. In YAML it is an integer
// (`5432`), a range string (`"8000:8080"`) or a port name (`"http"`).
type Port struct {
	// MinPort is the first port of the range (the port itself for a single port).
	MinPort uint16 `json:"-"`
	// MaxPort is the last port of the range (equal to MinPort for a single port).
	MaxPort uint16 `json:"-"`
	// PortName is the name of a named port; MinPort and MaxPort are then 0.
	PortName string `json:"-"`
}

// SinglePort returns the port p.
func SinglePort(p uint16) Port { return Port{MinPort: p, MaxPort: p} }

// PortRange returns the ports from min to max inclusive.
func PortRange(minPort, maxPort uint16) Port { return Port{MinPort: minPort, MaxPort: maxPort} }

// NamedPort returns the named port.
func NamedPort(name string) Port { return Port{PortName: name} }

// ParsePort reads "80", "8000:8080" or a port name.
func ParsePort(s string) (Port, error) {
	if s == "" {
		return Port{}, fmt.Errorf("empty port")
	}
	if lo, hi, ok := strings.Cut(s, ":"); ok {
		minPort, err1 := strconv.ParseUint(lo, 10, 16)
		maxPort, err2 := strconv.ParseUint(hi, 10, 16)
		if err1 != nil || err2 != nil {
			return Port{}, fmt.Errorf("port range %q: both ends must be numbers from 0 to 65535", s)
		}
		return PortRange(uint16(minPort), uint16(maxPort)), nil
	}
	if n, err := strconv.ParseUint(s, 10, 16); err == nil {
		return SinglePort(uint16(n)), nil
	}
	if s[0] >= '0' && s[0] <= '9' {
		return Port{}, fmt.Errorf("port %q: a number must be from 0 to 65535", s)
	}
	if errs := utilvalidation.IsValidPortName(s); len(errs) > 0 {
		return Port{}, fmt.Errorf("port %q: not a number, a range \"min:max\" or a port name: %s", s, strings.Join(errs, "; "))
	}
	return NamedPort(s), nil
}

// String returns the port as written in YAML.
func (p Port) String() string {
	switch {
	case p.PortName != "":
		return p.PortName
	case p.MinPort == p.MaxPort:
		return strconv.Itoa(int(p.MinPort))
	default:
		return fmt.Sprintf("%d:%d", p.MinPort, p.MaxPort)
	}
}

// MarshalJSON writes a single port as a number, anything else as a string.
func (p Port) MarshalJSON() ([]byte, error) {
	if p.PortName == "" && p.MinPort == p.MaxPort {
		return json.Marshal(p.MinPort)
	}
	return json.Marshal(p.String())
}

// UnmarshalJSON reads a number, a range string or a port name. null leaves
// the port unset.
func (p *Port) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		parsed, err := ParsePort(s)
		if err != nil {
			return err
		}
		*p = parsed
		return nil
	}
	var n uint16
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("port must be a number from 0 to 65535, a range \"min:max\" or a name: %s", b)
	}
	*p = SinglePort(n)
	return nil
}

// OpenAPISchemaType is used by the kube-openapi generator when constructing
// the OpenAPI spec of this type.
func (Port) OpenAPISchemaType() []string { return []string{"string"} }

// OpenAPISchemaFormat is used by the kube-openapi generator when constructing
// the OpenAPI spec of this type.
func (Port) OpenAPISchemaFormat() string { return "int-or-string" }

// OpenAPIV3OneOfTypes is used by the kube-openapi generator when constructing
// the OpenAPI v3 spec of this type.
func (Port) OpenAPIV3OneOfTypes() []string { return []string{"integer", "string"} }
