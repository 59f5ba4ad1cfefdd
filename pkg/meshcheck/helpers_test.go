package meshcheck

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

func ptr[T any](v T) *T { return &v }

// ippool returns an IPPool named name with CIDR cidr, modified by opts.
func ippool(name, cidr string, opts ...func(*v3.IPPool)) v3.IPPool {
	p := v3.IPPool{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       v3.IPPoolSpec{CIDR: cidr},
	}
	for _, o := range opts {
		o(&p)
	}
	return p
}

// withVXLAN sets a pool's vxlanMode.
func withVXLAN(m v3.EncapMode) func(*v3.IPPool) {
	return func(p *v3.IPPool) { p.Spec.VXLANMode = m }
}

// mirroredFrom labels a pool as mirrored from cluster.
func mirroredFrom(cluster string) func(*v3.IPPool) {
	return func(p *v3.IPPool) { p.Labels = map[string]string{v3.LabelCluster: cluster} }
}

// disabled disables a pool.
func disabled(p *v3.IPPool) { p.Spec.Disabled = true }

// felix returns the "default" FelixConfiguration with spec modified by mods.
func felix(mods ...func(*v3.FelixConfigurationSpec)) *v3.FelixConfiguration {
	return named("default", mods...)
}

// named returns a FelixConfiguration named name with spec modified by mods.
func named(name string, mods ...func(*v3.FelixConfigurationSpec)) *v3.FelixConfiguration {
	fc := &v3.FelixConfiguration{ObjectMeta: metav1.ObjectMeta{Name: name}}
	for _, m := range mods {
		m(&fc.Spec)
	}
	return fc
}

// Spec modifiers.
func wg(s *v3.FelixConfigurationSpec)          { s.WireguardEnabled = ptr(true) }
func wg6(s *v3.FelixConfigurationSpec)         { s.WireguardEnabledV6 = ptr(true) }
func vxlanOn(s *v3.FelixConfigurationSpec)     { s.VXLANEnabled = ptr(true) }
func vxlanOff(s *v3.FelixConfigurationSpec)    { s.VXLANEnabled = ptr(false) }
func workloadIPs(s *v3.FelixConfigurationSpec) { s.RouteSource = v3.RouteSourceWorkloadIPs }
func vxlanPort(n int) func(*v3.FelixConfigurationSpec) {
	return func(s *v3.FelixConfigurationSpec) { s.VXLANPort = ptr(n) }
}
func vxlanVNI(n int) func(*v3.FelixConfigurationSpec) {
	return func(s *v3.FelixConfigurationSpec) { s.VXLANVNI = ptr(n) }
}
func vxlanMTU(n int) func(*v3.FelixConfigurationSpec) {
	return func(s *v3.FelixConfigurationSpec) { s.VXLANMTU = ptr(n) }
}
func vxlanMTUV6(n int) func(*v3.FelixConfigurationSpec) {
	return func(s *v3.FelixConfigurationSpec) { s.VXLANMTUV6 = ptr(n) }
}
func wgPort(n int) func(*v3.FelixConfigurationSpec) {
	return func(s *v3.FelixConfigurationSpec) { s.WireguardListeningPort = ptr(n) }
}
func wgPortV6(n int) func(*v3.FelixConfigurationSpec) {
	return func(s *v3.FelixConfigurationSpec) { s.WireguardListeningPortV6 = ptr(n) }
}
func wgIface(n string) func(*v3.FelixConfigurationSpec) {
	return func(s *v3.FelixConfigurationSpec) { s.WireguardInterfaceName = n }
}
func wgIfaceV6(n string) func(*v3.FelixConfigurationSpec) {
	return func(s *v3.FelixConfigurationSpec) { s.WireguardInterfaceNameV6 = n }
}
func wgMTU(n int) func(*v3.FelixConfigurationSpec) {
	return func(s *v3.FelixConfigurationSpec) { s.WireguardMTU = ptr(n) }
}
func wgMTUV6(n int) func(*v3.FelixConfigurationSpec) {
	return func(s *v3.FelixConfigurationSpec) { s.WireguardMTUV6 = ptr(n) }
}
func wgPrio(n int) func(*v3.FelixConfigurationSpec) {
	return func(s *v3.FelixConfigurationSpec) { s.WireguardRoutingRulePriority = ptr(n) }
}
func wgHostEnc(b bool) func(*v3.FelixConfigurationSpec) {
	return func(s *v3.FelixConfigurationSpec) { s.WireguardHostEncryptionEnabled = ptr(b) }
}
func wgKeepAlive(d time.Duration) func(*v3.FelixConfigurationSpec) {
	return func(s *v3.FelixConfigurationSpec) { s.WireguardKeepAlive = &metav1.Duration{Duration: d} }
}
func logDebug(s *v3.FelixConfigurationSpec) { s.LogSeverityScreen = "Debug" }

// vxlanPools are pools that make a cluster use VXLAN.
func vxlanPools(cidr string) []v3.IPPool {
	return []v3.IPPool{ippool("default-ipv4-ippool", cidr, withVXLAN(v3.EncapModeAlways))}
}

// errStrings returns the Error() of each error.
func errStrings(errs field.ErrorList) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}

// messages returns the Message of each violation.
func messages(vs []Violation) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.Message)
	}
	return out
}

// expectStrings fails t unless got equals want, element by element.
func expectStrings(t *testing.T, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("got %d results, want %d:\ngot:\n  %s\nwant:\n  %s", len(got), len(want),
			strings.Join(got, "\n  "), strings.Join(want, "\n  "))
		return
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("result %d:\n got: %s\nwant: %s", i, got[i], want[i])
		}
	}
}
