package meshguard

import (
	"fmt"
	"net/netip"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

// BenchmarkPrefix checks remote endpoint addresses against a local
// cluster of 1,000 nodes (on 198.18.0.0/16, /24 subnets), 10 local
// pools and 5 other remote clusters: the per-endpoint cost of the
// controller's and the agent's admission.
func BenchmarkPrefix(b *testing.B) {
	var pools []*v3.IPPool
	for i := range 10 {
		pools = append(pools, &v3.IPPool{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprint("p", i)}, Spec: v3.IPPoolSpec{CIDR: fmt.Sprintf("10.%d.0.0/16", i)}})
	}
	var nodes []*v3.Node
	for i := range 1000 {
		nodes = append(nodes, &v3.Node{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprint("n", i)}, Spec: v3.NodeSpec{
			BGP: &v3.NodeBGPSpec{IPv4Address: fmt.Sprintf("198.18.%d.%d/24", i/250, 1+i%250)}}})
	}
	g := New(pools, nodes)
	for c := range 5 {
		g.AdmitPools(fmt.Sprint("other", c), []*v3.IPPool{{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: v3.IPPoolSpec{CIDR: fmt.Sprintf("10.%d.0.0/16", 100+c)}}})
	}
	g.AdmitPools("east", []*v3.IPPool{{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: v3.IPPoolSpec{CIDR: "10.200.0.0/16"}}})
	addr := netip.MustParsePrefix("10.200.3.4/32")
	b.ResetTimer()
	for range b.N {
		if r := g.Prefix("east", "WorkloadEndpoint", "x", "spec.ipNetworks", addr); r != nil {
			b.Fatal(r)
		}
	}
}
