package ipamd

import (
	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

// MTUs of the overlays when the FelixConfiguration names none: a
// 1500-byte underlay less each overlay's IPv4 overhead (the agent's
// defaults).
const (
	DefaultMTU          = 1450 // also the MTU when no overlay is enabled
	DefaultVXLANMTU     = 1450
	DefaultWireguardMTU = 1440
)

// MTUFor is the pod MTU for the default FelixConfiguration fc (nil when
// there is none) and the cluster's pools: the smallest MTU of the enabled
// overlays, or DefaultMTU when none is. VXLAN is enabled as the agent
// decides it: by spec.vxlanEnabled when set, else by any local pool with
// a VXLAN mode.
func MTUFor(fc *v3.FelixConfiguration, pools []v3.IPPool) int {
	mtu := 0
	lower := func(m int) {
		if m > 0 && (mtu == 0 || m < mtu) {
			mtu = m
		}
	}
	if vxlanEnabled(fc, pools) {
		if fc != nil && fc.Spec.VXLANMTU != nil {
			lower(*fc.Spec.VXLANMTU)
		} else {
			lower(DefaultVXLANMTU)
		}
	}
	if fc != nil && fc.Spec.WireguardEnabled != nil && *fc.Spec.WireguardEnabled {
		if fc.Spec.WireguardMTU != nil {
			lower(*fc.Spec.WireguardMTU)
		} else {
			lower(DefaultWireguardMTU)
		}
	}
	if mtu == 0 {
		return DefaultMTU
	}
	return mtu
}

// vxlanEnabled is the agent's rule (pkg/agent).
func vxlanEnabled(fc *v3.FelixConfiguration, pools []v3.IPPool) bool {
	if fc != nil && fc.Spec.VXLANEnabled != nil {
		return *fc.Spec.VXLANEnabled
	}
	for _, p := range pools {
		if _, mirror := p.Labels[v3.LabelCluster]; mirror {
			continue
		}
		if p.Spec.VXLANMode == v3.EncapModeAlways || p.Spec.VXLANMode == v3.EncapModeCrossSubnet {
			return true
		}
	}
	return false
}
