package framework

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/ipam"
)

// apiSide starts c's controller and applies the agent's manifest, VXLAN
// in the FelixConfiguration (off with BGP) and the pool (vxlanMode Never
// with BGP).
func (t *Topology) apiSide(ctx context.Context, c *Cluster, pool netip.Prefix) error {
	if err := c.StartController(ctx); err != nil {
		return fmt.Errorf("starting the controller of %s: %w", c.Name, err)
	}
	manifest := filepath.Join(ArtifactsDir(), "deploy", "60-agent.yaml")
	if _, err := c.Kubectl(ctx, "", "apply", "-f", manifest); err != nil {
		return err
	}
	t.push("deleting "+manifest+" from "+c.Name, func(ctx context.Context) error {
		_, err := c.Kubectl(ctx, "", "delete", "-f", manifest, "--ignore-not-found")
		return err
	})
	if err := t.felixVXLAN(ctx, c); err != nil {
		return err
	}
	name := t.cfg.Name + "-pool"
	vxlanMode := v3.EncapModeAlways
	if t.cfg.BGP {
		vxlanMode = v3.EncapModeNever
	}
	if _, err := c.Kubectl(ctx, fmt.Sprintf(`apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: %s
spec:
  cidr: %s
  vxlanMode: %s
  natOutgoing: true
  blockSize: 26
`, name, pool, vxlanMode), "apply", "-f", "-"); err != nil {
		return err
	}
	t.push("deleting IPPool "+name+" of "+c.Name, func(ctx context.Context) error {
		_, err := c.Kubectl(ctx, "", "delete", "ippool", name, "--ignore-not-found")
		return err
	})
	return nil
}

// felixVXLAN turns VXLAN on (off with BGP) at the configured port in c's
// FelixConfiguration "default" (and applies cfg.Felix); Close restores it
// (or deletes it).
func (t *Topology) felixVXLAN(ctx context.Context, c *Cluster) error {
	felix := t.Clients[c].ProjectcalicoV3().FelixConfigurations()
	old, err := felix.Get(ctx, "default", metav1.GetOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("FelixConfiguration default of %s: %w", c.Name, err)
	}
	on, port := !t.cfg.BGP, t.cfg.VXLANPort
	if apierrors.IsNotFound(err) {
		spec := v3.FelixConfigurationSpec{VXLANEnabled: &on, VXLANPort: &port}
		if t.cfg.Felix != nil {
			t.cfg.Felix(&spec)
		}
		if _, err := felix.Create(ctx, &v3.FelixConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "default"}, Spec: spec}, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating FelixConfiguration default of %s: %w", c.Name, err)
		}
		t.push("deleting FelixConfiguration default of "+c.Name, func(ctx context.Context) error {
			_, err := c.Kubectl(ctx, "", "delete", "felixconfiguration", "default", "--ignore-not-found")
			return err
		})
		return nil
	}
	saved := *old.Spec.DeepCopy()
	old.Spec.VXLANEnabled, old.Spec.VXLANPort = &on, &port
	if t.cfg.Felix != nil {
		t.cfg.Felix(&old.Spec)
	}
	if _, err := felix.Update(ctx, old, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("updating FelixConfiguration default of %s: %w", c.Name, err)
	}
	t.push("restoring FelixConfiguration default of "+c.Name, func(ctx context.Context) error {
		cur, err := felix.Get(ctx, "default", metav1.GetOptions{})
		if err != nil {
			return err
		}
		cur.Spec = saved
		_, err = felix.Update(ctx, cur, metav1.UpdateOptions{})
		return err
	})
	return nil
}

// namespace creates the Kubernetes namespace ns in c unless it exists;
// Close deletes what it created (and waits until it is gone, so that a
// later test may create it again).
func (t *Topology) namespace(ctx context.Context, c *Cluster, ns string) error {
	t.mu.Lock()
	done := t.namespaces[c][ns]
	t.namespaces[c][ns] = true
	t.mu.Unlock()
	if done {
		return nil
	}
	if _, err := t.Kube[c].CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err == nil {
		return nil // not ours
	} else if !apierrors.IsNotFound(err) {
		return fmt.Errorf("namespace %s of %s: %w", ns, c.Name, err)
	}
	if _, err := c.Kubectl(ctx, "", "create", "namespace", ns); err != nil {
		return err
	}
	t.push("deleting namespace "+ns+" of "+c.Name, func(ctx context.Context) error {
		_, err := c.Kubectl(ctx, "", "delete", "namespace", ns, "--ignore-not-found", "--timeout=90s")
		return err
	})
	return nil
}

// NodeBlocks lists the IPAM blocks affine to node n, in address order.
func (t *Topology) NodeBlocks(ctx context.Context, n *TopoNode) ([]netip.Prefix, error) {
	list, err := t.Clients[n.Cluster].ProjectcalicoV3().IPAMBlocks().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("IPAM blocks of %s: %w", n.Cluster.Name, err)
	}
	var out []netip.Prefix
	for _, b := range list.Items {
		if b.Spec.Affinity == nil || *b.Spec.Affinity != "host:"+n.Name {
			continue
		}
		p, err := netip.ParsePrefix(b.Spec.CIDR)
		if err != nil {
			return nil, fmt.Errorf("IPAM block %s: cidr %q: %w", b.Name, b.Spec.CIDR, err)
		}
		out = append(out, p)
	}
	sortPrefixes(out)
	return out, nil
}

// sortPrefixes sorts ps by address.
func sortPrefixes(ps []netip.Prefix) {
	for i := 1; i < len(ps); i++ {
		for j := i; j > 0 && ps[j].Addr().Less(ps[j-1].Addr()); j-- {
			ps[j], ps[j-1] = ps[j-1], ps[j]
		}
	}
}

// waitBlock waits until n's agent claimed n's first block (its VXLAN
// tunnel address allocation) and records it as n.Block.
func (t *Topology) waitBlock(ctx context.Context, n *TopoNode) error {
	return Poll(ctx, time.Minute, n.Name+"'s first IPAM block", func() (bool, string) {
		blocks, err := t.NodeBlocks(ctx, n)
		if err != nil || len(blocks) == 0 {
			return false, fmt.Sprint(blocks, err, "\n", n.Agent.Log(10))
		}
		n.Block = blocks[0]
		return true, ""
	})
}

// forgetNode deletes n's Node object, releases its tunnel address and
// deletes its (then empty) blocks: what the agent and the plugin took.
func (t *Topology) forgetNode(ctx context.Context, n *TopoNode) error {
	cs := t.Clients[n.Cluster].ProjectcalicoV3()
	if err := cs.Nodes().Delete(ctx, n.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting Node %s: %w", n.Name, err)
	}
	if _, err := ipam.NewClient(t.Clients[n.Cluster]).ReleaseByHandle(ctx, ipam.VXLANTunnelHandle(n.Name)); err != nil {
		return err
	}
	blocks, err := t.NodeBlocks(ctx, n)
	if err != nil {
		return err
	}
	for _, b := range blocks {
		if err := cs.IPAMBlocks().Delete(ctx, ipam.BlockName(b), metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting IPAM block %s of %s: %w", b, n.Name, err)
		}
	}
	return nil
}

// waitRoutes waits until every node routes the block of every node that
// pair selects.
func (t *Topology) waitRoutes(ctx context.Context, pair func(from, to *TopoNode) bool) error {
	for _, from := range t.Nodes {
		for _, to := range t.Nodes {
			if from == to || !pair(from, to) {
				continue
			}
			if err := Poll(ctx, time.Minute, fmt.Sprintf("%s routes %s's block %s", from.Name, to.Name, to.Block),
				func() (bool, string) { return t.Routed(from, to.Block) }); err != nil {
				return fmt.Errorf("%w\n%s", err, t.AgentLogs())
			}
		}
	}
	return nil
}

// Routed reports whether node n has an agent route (protocol 82; with
// BGP, protocol 84: a route its speaker learned) to dst, and the routes
// it has.
func (t *Topology) Routed(n *TopoNode, dst netip.Prefix) (bool, string) {
	proto := "82"
	if t.cfg.BGP {
		proto = "84"
	}
	out, err := n.Node.NS.IPOutput("route", "show", "proto", proto)
	if err != nil {
		return false, err.Error()
	}
	return strings.Contains(out, dst.String()+" via "), out
}

// AgentLogs returns the end of every agent's log, for failures.
func (t *Topology) AgentLogs() string {
	var s strings.Builder
	for _, n := range t.Nodes {
		if n.Agent != nil {
			s.WriteString(n.Agent.Log(15) + "\n")
		}
	}
	return s.String()
}

// Dump shows what the agents and the plugin programmed, for failures.
func (t *Topology) Dump() string {
	var s strings.Builder
	for _, n := range t.Nodes {
		for _, args := range [][]string{{"-d", "link", "show", "vxlan.calico"}, {"addr", "show", "vxlan.calico"}, {"route"}, {"neigh", "show", "dev", "vxlan.calico"}} {
			out, err := n.Node.NS.IPOutput(args...)
			fmt.Fprintf(&s, "%s: ip %s: %s%v\n", n.Name, strings.Join(args, " "), out, err)
		}
	}
	return s.String()
}
