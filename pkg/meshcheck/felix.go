package meshcheck

import (
	"fmt"
	"time"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

// Defaults the dataplane uses for unset FelixConfiguration fields that the
// v3 package has no constant for.
const (
	defaultWireguardListeningPortV6 = 51821
	defaultWireguardInterfaceNameV6 = "wg-v6.cali"
	// autoMTU is the effective value of an MTU that is unset or 0: the
	// dataplane detects it.
	autoMTU = "auto"
)

// setting is the effective value of one FelixConfiguration setting: an int,
// a bool or a string, so that values compare with ==.
type setting struct {
	name  string // JSON name of the spec field, e.g. "vxlanPort"
	value any
}

// settings are a cluster's effective mesh-relevant dataplane settings.
type settings struct {
	routeSource setting
	vxlan       []setting // compared when both clusters use VXLAN
	wireguard   []setting // compared when both clusters use WireGuard
	overlays    overlays
}

// effectiveSettings resolves the settings of a "default" FelixConfiguration
// (nil: all defaults) with the dataplane's defaults. poolsVXLAN says
// whether any own pool of the cluster uses VXLAN: it turns the VXLAN
// overlay on, and is the value of an unset vxlanEnabled.
func effectiveSettings(fc *v3.FelixConfiguration, poolsVXLAN bool) settings {
	var s v3.FelixConfigurationSpec
	if fc != nil {
		s = fc.Spec
	}
	routeSource := s.RouteSource
	if routeSource == "" {
		routeSource = v3.RouteSourceCalicoIPAM
	}
	out := settings{
		routeSource: setting{"routeSource", string(routeSource)},
		vxlan: []setting{
			{"vxlanEnabled", boolOr(s.VXLANEnabled, poolsVXLAN)},
			{"vxlanPort", intOr(s.VXLANPort, v3.DefaultVXLANPort)},
			{"vxlanVNI", intOr(s.VXLANVNI, v3.DefaultVXLANVNI)},
			{"vxlanMTU", mtu(s.VXLANMTU)},
			{"vxlanMTUV6", mtu(s.VXLANMTUV6)},
		},
		wireguard: []setting{
			{"wireguardEnabled", boolOr(s.WireguardEnabled, false)},
			{"wireguardEnabledV6", boolOr(s.WireguardEnabledV6, false)},
			{"wireguardListeningPort", intOr(s.WireguardListeningPort, v3.DefaultWireguardListeningPort)},
			{"wireguardListeningPortV6", intOr(s.WireguardListeningPortV6, defaultWireguardListeningPortV6)},
			{"wireguardInterfaceName", stringOr(s.WireguardInterfaceName, v3.DefaultWireguardInterfaceName)},
			{"wireguardInterfaceNameV6", stringOr(s.WireguardInterfaceNameV6, defaultWireguardInterfaceNameV6)},
			{"wireguardMTU", mtu(s.WireguardMTU)},
			{"wireguardMTUV6", mtu(s.WireguardMTUV6)},
			{"wireguardRoutingRulePriority", intOr(s.WireguardRoutingRulePriority, v3.DefaultWireguardRoutingRulePri)},
			{"wireguardHostEncryptionEnabled", boolOr(s.WireguardHostEncryptionEnabled, false)},
			{"wireguardKeepAlive", keepAlive(s)},
		},
	}
	if poolsVXLAN || boolOr(s.VXLANEnabled, false) {
		out.overlays |= overlayVXLAN
	}
	if boolOr(s.WireguardEnabled, false) || boolOr(s.WireguardEnabledV6, false) {
		out.overlays |= overlayWireGuard
	}
	return out
}

// boolOr returns *p, or def when p is nil.
func boolOr(p *bool, def bool) bool {
	if p == nil {
		return def
	}
	return *p
}

// intOr returns *p, or def when p is nil.
func intOr(p *int, def int) int {
	if p == nil {
		return def
	}
	return *p
}

// stringOr returns s, or def when s is empty.
func stringOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// mtu returns an MTU's effective value: "auto" when unset or 0, else the
// number.
func mtu(p *int) any {
	if p == nil || *p == 0 {
		return autoMTU
	}
	return *p
}

// keepAlive returns wireguardKeepAlive as a duration string: "0s" (off)
// when unset.
func keepAlive(s v3.FelixConfigurationSpec) string {
	if s.WireguardKeepAlive == nil {
		return time.Duration(0).String()
	}
	return s.WireguardKeepAlive.Duration.String()
}

// settingDiff is a setting whose effective value differs between this
// cluster and another.
type settingDiff struct {
	name        string
	this, other any
}

// differingSettings is the equal-settings rule: it returns the settings
// of this that differ from other's: routeSource always, the vxlan*
// settings when both use VXLAN and the wireguard* settings when both use
// WireGuard, in that order and in the order of the FelixConfiguration
// fields.
func differingSettings(this, other settings) []settingDiff {
	var out []settingDiff
	add := func(a, b []setting) {
		for i := range a {
			if a[i].value != b[i].value {
				out = append(out, settingDiff{a[i].name, a[i].value, b[i].value})
			}
		}
	}
	add([]setting{this.routeSource}, []setting{other.routeSource})
	if this.overlays&other.overlays&overlayVXLAN != 0 {
		add(this.vxlan, other.vxlan)
	}
	if this.overlays&other.overlays&overlayWireGuard != 0 {
		add(this.wireguard, other.wireguard)
	}
	return out
}

// show formats an effective value for messages: strings quoted, numbers
// and booleans bare, as field.Invalid shows its value.
func show(v any) string {
	if s, ok := v.(string); ok {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprint(v)
}
