package validation

import (
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

// FelixConfiguration limits.
const (
	maxVXLANVNI        = 1<<24 - 1
	minMTUV4           = 576
	minMTUV6           = 1280
	maxMTU             = 9000
	maxRoutingRulePrio = 32765 // 32766 and 32767 are the kernel's main and default rules
)

// ValidateFelixConfiguration validates a FelixConfiguration: the name is a
// DNS-1123 subdomain ("default", "node.<node name>" or any other); UDP ports
// are 1-65535; vxlanVNI is 1-16777215; MTUs are 0 (auto-detect) or 576-9000
// (1280-9000 for the IPv6 devices); routeSource is empty, CalicoIPAM or
// WorkloadIPs; WireGuard interface names are valid Linux interface names;
// wireguardRoutingRulePriority is 1-32765; wireguardKeepAlive is not
// negative; externalNodesList holds CIDRs or IP addresses; logSeverityScreen
// is empty, Debug, Info, Warning, Error or Fatal.
func ValidateFelixConfiguration(fc *v3.FelixConfiguration) field.ErrorList {
	var errs field.ErrorList
	namePath := field.NewPath("metadata", "name")
	if fc.Name == "" {
		errs = append(errs, field.Required(namePath, `"default" or "node.<node name>"`))
	} else {
		for _, msg := range utilvalidation.IsDNS1123Subdomain(fc.Name) {
			errs = append(errs, field.Invalid(namePath, fc.Name, msg))
		}
	}

	specPath := field.NewPath("spec")
	s := &fc.Spec

	switch s.RouteSource {
	case "", v3.RouteSourceCalicoIPAM, v3.RouteSourceWorkloadIPs:
	default:
		errs = append(errs, field.NotSupported(specPath.Child("routeSource"), s.RouteSource,
			[]v3.RouteSource{v3.RouteSourceCalicoIPAM, v3.RouteSourceWorkloadIPs}))
	}

	errs = append(errs, validateRange(specPath.Child("vxlanPort"), s.VXLANPort, 1, 65535, "")...)
	errs = append(errs, validateRange(specPath.Child("wireguardListeningPort"), s.WireguardListeningPort, 1, 65535, "")...)
	errs = append(errs, validateRange(specPath.Child("wireguardListeningPortV6"), s.WireguardListeningPortV6, 1, 65535, "")...)
	errs = append(errs, validateRange(specPath.Child("vxlanVNI"), s.VXLANVNI, 1, maxVXLANVNI, " (a VXLAN VNI has 24 bits)")...)

	errs = append(errs, validateMTU(specPath.Child("vxlanMTU"), s.VXLANMTU, minMTUV4)...)
	errs = append(errs, validateMTU(specPath.Child("vxlanMTUV6"), s.VXLANMTUV6, minMTUV6)...)
	errs = append(errs, validateMTU(specPath.Child("ipipMTU"), s.IPIPMTU, minMTUV4)...)
	errs = append(errs, validateMTU(specPath.Child("wireguardMTU"), s.WireguardMTU, minMTUV4)...)
	errs = append(errs, validateMTU(specPath.Child("wireguardMTUV6"), s.WireguardMTUV6, minMTUV6)...)

	if s.WireguardInterfaceName != "" {
		errs = append(errs, validateInterfaceName(specPath.Child("wireguardInterfaceName"), s.WireguardInterfaceName)...)
	}
	if s.WireguardInterfaceNameV6 != "" {
		errs = append(errs, validateInterfaceName(specPath.Child("wireguardInterfaceNameV6"), s.WireguardInterfaceNameV6)...)
	}
	errs = append(errs, validateRange(specPath.Child("wireguardRoutingRulePriority"), s.WireguardRoutingRulePriority, 1, maxRoutingRulePrio,
		" (32766 and above are the kernel's main and default rules)")...)
	if ka := s.WireguardKeepAlive; ka != nil && ka.Duration < 0 {
		errs = append(errs, field.Invalid(specPath.Child("wireguardKeepAlive"), ka.Duration.String(), "must not be negative (0 disables keepalives)"))
	}

	for i, c := range s.ExternalNodesList {
		_, _, cerrs := validateCIDROrIP(specPath.Child("externalNodesList").Index(i), c, anyFamily)
		errs = append(errs, cerrs...)
	}

	switch s.LogSeverityScreen {
	case "", "Debug", "Info", "Warning", "Error", "Fatal":
	default:
		errs = append(errs, field.NotSupported(specPath.Child("logSeverityScreen"), s.LogSeverityScreen,
			[]string{"Debug", "Info", "Warning", "Error", "Fatal"}))
	}
	return errs
}

// validateMTU checks that an MTU is 0 (auto-detect) or from lo to 9000.
func validateMTU(fldPath *field.Path, v *int, lo int) field.ErrorList {
	if v == nil || *v == 0 {
		return nil
	}
	return validateRange(fldPath, v, lo, maxMTU, " (or 0 to detect it automatically)")
}
