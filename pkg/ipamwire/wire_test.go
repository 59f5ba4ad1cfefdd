package ipamwire

import "testing"

func TestContainerOfHandle(t *testing.T) {
	tests := []struct {
		network, handle, id string
		ok                  bool
	}{
		{"k8s-pod-network", Handle("k8s-pod-network", "abc"), "abc", true},
		{"k8s-pod-network", "k8s-pod-network.", "", false},
		{"k8s-pod-network", "other.abc", "", false},
		{"k8s-pod-network", "vxlan-tunnel-addr-node1", "", false},
	}
	for _, tt := range tests {
		id, ok := ContainerOfHandle(tt.network, tt.handle)
		if id != tt.id || ok != tt.ok {
			t.Errorf("ContainerOfHandle(%q, %q) = %q, %v; want %q, %v", tt.network, tt.handle, id, ok, tt.id, tt.ok)
		}
	}
}
