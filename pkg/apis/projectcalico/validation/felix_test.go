package validation

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

func felixConfig() *v3.FelixConfiguration {
	return &v3.FelixConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "default"},
		Spec: v3.FelixConfigurationSpec{
			RouteSource:                  v3.RouteSourceCalicoIPAM,
			VXLANEnabled:                 ptr(true),
			VXLANPort:                    ptr(4789),
			VXLANVNI:                     ptr(4096),
			VXLANMTU:                     ptr(1450),
			VXLANMTUV6:                   ptr(1430),
			IPIPMTU:                      ptr(1480),
			WireguardEnabled:             ptr(true),
			WireguardEnabledV6:           ptr(true),
			WireguardListeningPort:       ptr(51820),
			WireguardListeningPortV6:     ptr(51821),
			WireguardRoutingRulePriority: ptr(99),
			WireguardInterfaceName:       "wireguard.cali",
			WireguardInterfaceNameV6:     "wg-v6.cali",
			WireguardMTU:                 ptr(1440),
			WireguardMTUV6:               ptr(1420),
			WireguardKeepAlive:           &metav1.Duration{Duration: 25 * time.Second},
			ExternalNodesList:            []string{"198.18.0.0/16", "198.19.0.7", "fd00:ff::/64"},
			LogSeverityScreen:            "Info",
		},
	}
}

func TestValidateFelixConfiguration(t *testing.T) {
	runCases(t, felixConfig, ValidateFelixConfiguration, []tcase[v3.FelixConfiguration]{
		{name: "full default configuration"},
		{name: "empty spec", mut: func(f *v3.FelixConfiguration) { f.Spec = v3.FelixConfigurationSpec{} }},
		{name: "per-node configuration", mut: func(f *v3.FelixConfiguration) { f.Name = "node.worker-1.example.com" }},
		{name: "other subdomain name", mut: func(f *v3.FelixConfiguration) { f.Name = "experiments" }},
		{name: "route source WorkloadIPs", mut: func(f *v3.FelixConfiguration) { f.Spec.RouteSource = v3.RouteSourceWorkloadIPs }},
		{name: "port bounds", mut: func(f *v3.FelixConfiguration) {
			f.Spec.VXLANPort, f.Spec.WireguardListeningPort, f.Spec.WireguardListeningPortV6 = ptr(1), ptr(65535), ptr(1)
		}},
		{name: "VNI bounds", mut: func(f *v3.FelixConfiguration) { f.Spec.VXLANVNI = ptr(16777215) }},
		{name: "VNI lower bound", mut: func(f *v3.FelixConfiguration) { f.Spec.VXLANVNI = ptr(1) }},
		{name: "MTUs auto-detected", mut: func(f *v3.FelixConfiguration) {
			f.Spec.VXLANMTU, f.Spec.VXLANMTUV6, f.Spec.IPIPMTU, f.Spec.WireguardMTU, f.Spec.WireguardMTUV6 = ptr(0), ptr(0), ptr(0), ptr(0), ptr(0)
		}},
		{name: "MTU bounds", mut: func(f *v3.FelixConfiguration) {
			f.Spec.VXLANMTU, f.Spec.VXLANMTUV6, f.Spec.IPIPMTU, f.Spec.WireguardMTU, f.Spec.WireguardMTUV6 = ptr(576), ptr(1280), ptr(9000), ptr(9000), ptr(9000)
		}},
		{name: "routing rule priority bounds", mut: func(f *v3.FelixConfiguration) { f.Spec.WireguardRoutingRulePriority = ptr(32765) }},
		{name: "15-byte interface name", mut: func(f *v3.FelixConfiguration) { f.Spec.WireguardInterfaceName = "wireguard.cali0" }},
		{name: "keepalive disabled", mut: func(f *v3.FelixConfiguration) { f.Spec.WireguardKeepAlive = &metav1.Duration{} }},
		{name: "fatal log level", mut: func(f *v3.FelixConfiguration) { f.Spec.LogSeverityScreen = "Fatal" }},
		{
			name: "name missing",
			mut:  func(f *v3.FelixConfiguration) { f.Name = "" },
			want: []want{required("metadata.name", "default")},
		},
		{
			name: "name not a subdomain",
			mut:  func(f *v3.FelixConfiguration) { f.Name = "Default" },
			want: []want{invalid("metadata.name", `"Default"`)},
		},
		{
			name: "route source unknown",
			mut:  func(f *v3.FelixConfiguration) { f.Spec.RouteSource = "BGP" },
			want: []want{notSupported("spec.routeSource", `"BGP": supported values: "CalicoIPAM", "WorkloadIPs"`)},
		},
		{
			name: "vxlan port zero",
			mut:  func(f *v3.FelixConfiguration) { f.Spec.VXLANPort = ptr(0) },
			want: []want{invalid("spec.vxlanPort", "0: must be from 1 to 65535")},
		},
		{
			name: "vxlan port too large",
			mut:  func(f *v3.FelixConfiguration) { f.Spec.VXLANPort = ptr(65536) },
			want: []want{invalid("spec.vxlanPort", "65536")},
		},
		{
			name: "wireguard ports out of range",
			mut: func(f *v3.FelixConfiguration) {
				f.Spec.WireguardListeningPort, f.Spec.WireguardListeningPortV6 = ptr(70000), ptr(-1)
			},
			want: []want{
				invalid("spec.wireguardListeningPort", "70000: must be from 1 to 65535"),
				invalid("spec.wireguardListeningPortV6", "-1: must be from 1 to 65535"),
			},
		},
		{
			name: "VNI zero",
			mut:  func(f *v3.FelixConfiguration) { f.Spec.VXLANVNI = ptr(0) },
			want: []want{invalid("spec.vxlanVNI", "0: must be from 1 to 16777215")},
		},
		{
			name: "VNI beyond 24 bits",
			mut:  func(f *v3.FelixConfiguration) { f.Spec.VXLANVNI = ptr(16777216) },
			want: []want{invalid("spec.vxlanVNI", "16777216: must be from 1 to 16777215 (a VXLAN VNI has 24 bits)")},
		},
		{
			name: "IPv4 MTUs out of range",
			mut: func(f *v3.FelixConfiguration) {
				f.Spec.VXLANMTU, f.Spec.IPIPMTU, f.Spec.WireguardMTU = ptr(575), ptr(9001), ptr(-1)
			},
			want: []want{
				invalid("spec.vxlanMTU", "575: must be from 576 to 9000 (or 0 to detect it automatically)"),
				invalid("spec.ipipMTU", "9001: must be from 576 to 9000"),
				invalid("spec.wireguardMTU", "-1: must be from 576 to 9000"),
			},
		},
		{
			name: "IPv6 MTUs below the IPv6 minimum",
			mut:  func(f *v3.FelixConfiguration) { f.Spec.VXLANMTUV6, f.Spec.WireguardMTUV6 = ptr(1279), ptr(576) },
			want: []want{
				invalid("spec.vxlanMTUV6", "1279: must be from 1280 to 9000"),
				invalid("spec.wireguardMTUV6", "576: must be from 1280 to 9000"),
			},
		},
		{
			name: "interface name too long",
			mut:  func(f *v3.FelixConfiguration) { f.Spec.WireguardInterfaceName = "wireguard.cali01" },
			want: []want{invalid("spec.wireguardInterfaceName", `"wireguard.cali01": not a valid Linux interface name: must be at most 15 bytes long`)},
		},
		{
			name: "interface name with slash",
			mut:  func(f *v3.FelixConfiguration) { f.Spec.WireguardInterfaceName = "wg/0" },
			want: []want{invalid("spec.wireguardInterfaceName", "must not contain '/', ':', whitespace or NUL")},
		},
		{
			name: "interface name with space",
			mut:  func(f *v3.FelixConfiguration) { f.Spec.WireguardInterfaceName = "wg 0" },
			want: []want{invalid("spec.wireguardInterfaceName", `"wg 0"`)},
		},
		{
			name: "interface name with colon",
			mut:  func(f *v3.FelixConfiguration) { f.Spec.WireguardInterfaceNameV6 = "wg:6" },
			want: []want{invalid("spec.wireguardInterfaceNameV6", `"wg:6"`)},
		},
		{
			name: "interface names dot and dot-dot",
			mut: func(f *v3.FelixConfiguration) {
				f.Spec.WireguardInterfaceName, f.Spec.WireguardInterfaceNameV6 = ".", ".."
			},
			want: []want{
				invalid("spec.wireguardInterfaceName", `must not be "." or ".."`),
				invalid("spec.wireguardInterfaceNameV6", `must not be "." or ".."`),
			},
		},
		{
			name: "routing rule priority zero",
			mut:  func(f *v3.FelixConfiguration) { f.Spec.WireguardRoutingRulePriority = ptr(0) },
			want: []want{invalid("spec.wireguardRoutingRulePriority", "0: must be from 1 to 32765")},
		},
		{
			name: "routing rule priority of the main table rule",
			mut:  func(f *v3.FelixConfiguration) { f.Spec.WireguardRoutingRulePriority = ptr(32766) },
			want: []want{invalid("spec.wireguardRoutingRulePriority", "32766")},
		},
		{
			name: "negative keepalive",
			mut:  func(f *v3.FelixConfiguration) { f.Spec.WireguardKeepAlive = &metav1.Duration{Duration: -time.Second} },
			want: []want{invalid("spec.wireguardKeepAlive", `"-1s": must not be negative`)},
		},
		{
			name: "external nodes list with bad entries",
			mut: func(f *v3.FelixConfiguration) {
				f.Spec.ExternalNodesList = []string{"10.0.0.0/8", "10.0.0.0/33", "host-a"}
			},
			want: []want{
				invalid("spec.externalNodesList[1]", `"10.0.0.0/33": must be a valid CIDR or IP address`),
				invalid("spec.externalNodesList[2]", `"host-a"`),
			},
		},
		{
			name: "log level lower case",
			mut:  func(f *v3.FelixConfiguration) { f.Spec.LogSeverityScreen = "debug" },
			want: []want{notSupported("spec.logSeverityScreen", `"debug": supported values: "Debug", "Info", "Warning", "Error", "Fatal"`)},
		},
		{
			name: "log level unknown",
			mut:  func(f *v3.FelixConfiguration) { f.Spec.LogSeverityScreen = "Trace" },
			want: []want{notSupported("spec.logSeverityScreen", `"Trace"`)},
		},
	})
}
