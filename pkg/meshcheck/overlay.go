package meshcheck

// overlays is a set of the overlays a cluster uses.
type overlays uint8

const (
	overlayVXLAN overlays = 1 << iota
	overlayWireGuard
)

// String names the overlays for messages: "none", "VXLAN", "WireGuard" or
// "VXLAN and WireGuard".
func (o overlays) String() string {
	switch o {
	case 0:
		return "none"
	case overlayVXLAN:
		return "VXLAN"
	case overlayWireGuard:
		return "WireGuard"
	default:
		return "VXLAN and WireGuard"
	}
}

// haveCommonOverlay is the common-overlay rule: two clusters must both use
// VXLAN, or both use WireGuard (or both).
func haveCommonOverlay(a, b overlays) bool {
	return a&b != 0
}
