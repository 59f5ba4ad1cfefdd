package ipamd

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

func TestMTUFor(t *testing.T) {
	on, off := true, false
	n := func(i int) *int { return &i }
	fc := func(s v3.FelixConfigurationSpec) *v3.FelixConfiguration { return &v3.FelixConfiguration{Spec: s} }
	vxlanPool := v3.IPPool{Spec: v3.IPPoolSpec{CIDR: "198.18.0.0/16", VXLANMode: v3.EncapModeAlways}}
	mirrored := v3.IPPool{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{v3.LabelCluster: "b"}}, Spec: vxlanPool.Spec}
	tests := []struct {
		name  string
		fc    *v3.FelixConfiguration
		pools []v3.IPPool
		want  int
	}{
		{"no configuration, no overlay", nil, nil, DefaultMTU},
		{"VXLAN pool, default MTU", nil, []v3.IPPool{vxlanPool}, DefaultVXLANMTU},
		{"mirrored VXLAN pool only", nil, []v3.IPPool{mirrored}, DefaultMTU},
		{"vxlanMTU", fc(v3.FelixConfigurationSpec{VXLANEnabled: &on, VXLANMTU: n(1410)}), nil, 1410},
		{"vxlanEnabled false overrides the pool", fc(v3.FelixConfigurationSpec{VXLANEnabled: &off, VXLANMTU: n(1300)}), []v3.IPPool{vxlanPool}, DefaultMTU},
		{"WireGuard default", fc(v3.FelixConfigurationSpec{WireguardEnabled: &on}), nil, DefaultWireguardMTU},
		{"smallest of VXLAN and WireGuard", fc(v3.FelixConfigurationSpec{VXLANEnabled: &on, VXLANMTU: n(1400), WireguardEnabled: &on, WireguardMTU: n(1420)}), nil, 1400},
		{"WireGuard smaller", fc(v3.FelixConfigurationSpec{VXLANEnabled: &on, WireguardEnabled: &on, WireguardMTU: n(1380)}), nil, 1380},
		{"WireGuard off ignores its MTU", fc(v3.FelixConfigurationSpec{WireguardEnabled: &off, WireguardMTU: n(1200)}), nil, DefaultMTU},
	}
	for _, tt := range tests {
		if got := MTUFor(tt.fc, tt.pools); got != tt.want {
			t.Errorf("%s: MTUFor = %d, want %d", tt.name, got, tt.want)
		}
	}
}
