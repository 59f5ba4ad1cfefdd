package agent

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

func TestAffectsDataplane(t *testing.T) {
	rcc := &v3.RemoteClusterConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "cluster-b", UID: "u", Generation: 2, ResourceVersion: "5"},
		Spec: v3.RemoteClusterConfigurationSpec{SyncOptions: v3.RemoteClusterSyncOptions{OverlayRoutingMode: v3.OverlayRoutingModeEnabled}}}
	node := &v3.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1", ResourceVersion: "7"},
		Spec:   v3.NodeSpec{IPv4VXLANTunnelAddr: "198.18.64.0", VXLANTunnelMACAddr: "66:00:00:00:00:01"},
		Status: v3.NodeStatus{WireguardPublicKey: "key-1"}}
	rccWith := func(f func(*v3.RemoteClusterConfiguration)) *v3.RemoteClusterConfiguration {
		c := rcc.DeepCopy()
		c.ResourceVersion = "6"
		f(c)
		return c
	}
	nodeWith := func(f func(*v3.Node)) *v3.Node {
		c := node.DeepCopy()
		c.ResourceVersion = "8"
		f(c)
		return c
	}
	now := metav1.Now()
	cases := []struct {
		name     string
		old, new any
		want     bool
	}{
		{"RCC status written", rcc, rccWith(func(c *v3.RemoteClusterConfiguration) {
			c.Status.SyncState = v3.SyncStateInSync
			c.Status.MirroredObjects = &v3.MirroredObjectCounts{WorkloadEndpoints: 3}
		}), false},
		{"RCC mode switched", rcc, rccWith(func(c *v3.RemoteClusterConfiguration) {
			c.Generation = 3
			c.Spec.SyncOptions.OverlayRoutingMode = v3.OverlayRoutingModeDisabled
		}), true},
		{"RCC being deleted", rcc, rccWith(func(c *v3.RemoteClusterConfiguration) { c.DeletionTimestamp = &now }), true},
		{"node's agent report written", node, nodeWith(func(n *v3.Node) {
			n.Status.Dataplane = &v3.NodeDataplaneStatus{VXLANDevice: "vxlan.calico", Routes: 4}
		}), false},
		{"node's VTEP MAC changed", node, nodeWith(func(n *v3.Node) { n.Spec.VXLANTunnelMACAddr = "66:00:00:00:00:02" }), true},
		{"node's WireGuard key published", node, nodeWith(func(n *v3.Node) { n.Status.WireguardPublicKey = "key-2" }), true},
		{"node's labels changed", node, nodeWith(func(n *v3.Node) { n.Labels = map[string]string{"zone": "a"} }), true},
		{"other kinds always", &v3.IPPool{}, &v3.IPPool{}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := affectsDataplane(tc.old, tc.new); got != tc.want {
				t.Errorf("affectsDataplane = %v, want %v", got, tc.want)
			}
		})
	}
}
