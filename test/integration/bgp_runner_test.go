package integration

import (
	"context"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/bgp/runner"
	"github.com/meshapi/meshapi/pkg/bgp/speaker"
)

// The BGP runner against the real API server: it starts a speaker with
// the node's identity, advertises the node's blocks, writes status.bgp
// (leaving status.dataplane alone), and restarts the speaker when the
// node's AS number changes. The speaker neither listens nor programs
// routes here (the host's namespace is not touched); sessions and routes
// are tested in network namespaces (pkg/bgp/speaker).
func TestBGPRunnerWritesStatus(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := clientset(t).ProjectcalicoV3()
	const name = "bgp-runner-a"
	node := &v3.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v3.NodeSpec{BGP: &v3.NodeBGPSpec{IPv4Address: "198.18.202.1/24"}}}
	node, err := c.Nodes().Create(ctx, node, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Nodes().Delete(context.Background(), name, metav1.DeleteOptions{}) })
	node.Status.Dataplane = &v3.NodeDataplaneStatus{VXLANDevice: "vxlan.calico"}
	if _, err := c.Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	affinity := "host:" + name
	block := &v3.IPAMBlock{ObjectMeta: metav1.ObjectMeta{Name: "198-19-202-0-26"}, Spec: v3.IPAMBlockSpec{CIDR: "198.19.202.0/26", Affinity: &affinity}}
	if _, err := c.IPAMBlocks().Create(ctx, block, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.IPAMBlocks().Delete(context.Background(), block.Name, metav1.DeleteOptions{}) })

	reg := prometheus.NewRegistry()
	done := make(chan error, 1)
	go func() {
		done <- runner.Run(ctx, runner.Config{NodeName: name, Client: clientset(t), ListenPort: -1, Metrics: speaker.NewMetrics(reg),
			StatusInterval: 200 * time.Millisecond, Log: logr.Discard()})
	}()

	waitStatus := func(what string, ok func(*v3.Node) bool) *v3.Node {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			n, err := c.Nodes().Get(ctx, name, metav1.GetOptions{})
			if err == nil && ok(n) {
				return n
			}
			if time.Now().After(deadline) {
				t.Fatalf("Node %s status never %s: %+v (%v)", name, what, n.Status, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	n := waitStatus("AS64512 router 198.18.202.1", func(n *v3.Node) bool {
		b := n.Status.BGP
		return b != nil && b.ASNumber == 64512 && b.RouterID == "198.18.202.1" && b.LastUpdateTime != nil && len(b.Sessions) == 0
	})
	if n.Status.Dataplane == nil || n.Status.Dataplane.VXLANDevice != "vxlan.calico" {
		t.Errorf("status.dataplane was overwritten: %+v", n.Status.Dataplane)
	}
	if got := testutil.ToFloat64(metricVec(t, reg, "meshapi_agent_bgp_routes", "direction", "advertised")); got != 1 {
		t.Errorf("advertised routes metric %v, want 1 (the node's block)", got)
	}

	n.Spec.BGP.ASNumber = ptrTo(int64(65010))
	if _, err := c.Nodes().Update(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitStatus("AS65010 after the node's AS changed", func(n *v3.Node) bool { return n.Status.BGP != nil && n.Status.BGP.ASNumber == 65010 })

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("runner: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("runner did not stop")
	}
}

// metricVec gathers one labelled gauge from reg.
func metricVec(t *testing.T, reg *prometheus.Registry, name, label, value string) prometheus.Collector {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name})
					g.Set(m.GetGauge().GetValue())
					return g
				}
			}
		}
	}
	t.Fatalf("no %s{%s=%q}", name, label, value)
	return nil
}

func ptrTo[T any](v T) *T { return &v }
