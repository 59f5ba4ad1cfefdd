package framework

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"reflect"
	"slices"
	"strings"

	"github.com/google/nftables"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/generated/clientset/versioned"
	"github.com/meshapi/meshapi/pkg/remotecluster"
)

// Diff counts how an observed state differs from the truth: Missing are
// wanted and absent (or different, for mirrors), Extra present and not
// wanted (stale mirrors, leaked routes or set members). Examples name a
// few of each.
type Diff struct {
	Missing, Extra int
	Examples       []string
}

// Zero reports whether nothing differs.
func (d Diff) Zero() bool { return d.Missing == 0 && d.Extra == 0 }

// String summarizes the difference.
func (d Diff) String() string {
	return fmt.Sprintf("%d missing, %d extra %v", d.Missing, d.Extra, d.Examples)
}

// add merges e into d.
func (d *Diff) add(e Diff) {
	d.Missing += e.Missing
	d.Extra += e.Extra
	if len(d.Examples) < 6 {
		d.Examples = append(d.Examples, e.Examples...)
	}
}

// missing and extra record one difference.
func (d *Diff) missing(what string) { d.Missing++; d.example("missing " + what) }
func (d *Diff) extra(what string)   { d.Extra++; d.example("extra " + what) }
func (d *Diff) example(s string) {
	if len(d.Examples) < 6 {
		d.Examples = append(d.Examples, s)
	}
}

// CompareMirrors compares the mirrors in local of the remote cluster
// remoteName with the remote's objects, as the controller should write
// them (pkg/remotecluster's Mirror functions): the WorkloadEndpoints of
// namespace (labels, spec and remote UID), and by name the Nodes, IPPools
// and IPAMBlocks. Objects of the remote that are themselves mirrors of a
// third cluster are not mirrored and not counted.
func CompareMirrors(ctx context.Context, local, remote versioned.Interface, remoteName, namespace string) (Diff, error) {
	var d Diff
	e, err := compareEndpoints(ctx, local, remote, remoteName, namespace)
	if err != nil {
		return d, err
	}
	d.add(e)
	names, err := compareNames(ctx, local, remote, remoteName)
	if err != nil {
		return d, err
	}
	d.add(names)
	return d, nil
}

// compareEndpoints is CompareMirrors for the endpoints of namespace.
func compareEndpoints(ctx context.Context, local, remote versioned.Interface, remoteName, namespace string) (Diff, error) {
	var d Diff
	truth, err := remote.ProjectcalicoV3().WorkloadEndpoints(namespace).List(ctx, metav1.ListOptions{LabelSelector: "!" + v3.LabelCluster})
	if err != nil {
		return d, fmt.Errorf("listing %s's WorkloadEndpoints of %s: %w", remoteName, namespace, err)
	}
	mirrors, err := local.ProjectcalicoV3().WorkloadEndpoints(namespace).List(ctx, metav1.ListOptions{LabelSelector: v3.LabelCluster + "=" + remoteName})
	if err != nil {
		return d, fmt.Errorf("listing the mirrors of %s's WorkloadEndpoints of %s: %w", remoteName, namespace, err)
	}
	have := map[string]*v3.WorkloadEndpoint{}
	for i := range mirrors.Items {
		have[mirrors.Items[i].Name] = &mirrors.Items[i]
	}
	for i := range truth.Items {
		want := remotecluster.MirrorWorkloadEndpoint(remoteName, &truth.Items[i])
		got, ok := have[want.Name]
		delete(have, want.Name)
		switch {
		case !ok:
			d.missing("WorkloadEndpoint " + want.Name)
		case !maps.Equal(got.Labels, want.Labels) || !reflect.DeepEqual(got.Spec, want.Spec) ||
			got.Annotations[v3.AnnotationRemoteUID] != want.Annotations[v3.AnnotationRemoteUID]:
			// An old version: counted as stale, and as missing the new one.
			d.missing("WorkloadEndpoint " + want.Name + " as it is now")
			d.extra("WorkloadEndpoint " + want.Name + " as it was")
		}
	}
	for _, name := range slices.Sorted(maps.Keys(have)) {
		d.extra("WorkloadEndpoint " + name)
	}
	return d, nil
}

// compareNames is CompareMirrors for the Nodes, IPPools and IPAMBlocks.
func compareNames(ctx context.Context, local, remote versioned.Interface, remoteName string) (Diff, error) {
	var d Diff
	for _, kind := range []string{"Node", "IPPool", "IPAMBlock"} {
		truth, err := listNames(ctx, remote, kind, "!"+v3.LabelCluster)
		if err != nil {
			return d, fmt.Errorf("listing %s's %ss: %w", remoteName, kind, err)
		}
		mirrors, err := listNames(ctx, local, kind, v3.LabelCluster+"="+remoteName)
		if err != nil {
			return d, fmt.Errorf("listing the mirrors of %s's %ss: %w", remoteName, kind, err)
		}
		for _, n := range truth {
			name := v3.MirrorName(remoteName, n)
			if !slices.Contains(mirrors, name) {
				d.missing(kind + " " + name)
			}
			mirrors = slices.DeleteFunc(mirrors, func(m string) bool { return m == name })
		}
		for _, m := range mirrors {
			d.extra(kind + " " + m)
		}
	}
	return d, nil
}

// listNames lists the names of the cluster-scoped objects of kind that
// selector selects.
func listNames(ctx context.Context, cs versioned.Interface, kind, selector string) ([]string, error) {
	opts := metav1.ListOptions{LabelSelector: selector}
	var names []string
	switch kind {
	case "Node":
		l, err := cs.ProjectcalicoV3().Nodes().List(ctx, opts)
		if err != nil {
			return nil, err
		}
		for _, o := range l.Items {
			names = append(names, o.Name)
		}
	case "IPPool":
		l, err := cs.ProjectcalicoV3().IPPools().List(ctx, opts)
		if err != nil {
			return nil, err
		}
		for _, o := range l.Items {
			names = append(names, o.Name)
		}
	case "IPAMBlock":
		l, err := cs.ProjectcalicoV3().IPAMBlocks().List(ctx, opts)
		if err != nil {
			return nil, err
		}
		for _, o := range l.Items {
			names = append(names, o.Name)
		}
	default:
		return nil, fmt.Errorf("kind %q: not compared", kind)
	}
	return names, nil
}

// CompareRoutes compares node n's agent routes (protocol 82, main table)
// with what its cluster's API asks for: a route via a peer's VTEP for
// every IPAM block of every other node with a VTEP, MAC and address in
// its Node (this cluster's, and the mirrored nodes of remote clusters
// whose RemoteClusterConfiguration has overlay routing Enabled), and a /32
// for every mirrored remote endpoint outside its node's blocks. The
// expected set is computed here from the objects, independently of the
// agent's code.
func (t *Topology) CompareRoutes(ctx context.Context, n *TopoNode) (Diff, error) {
	want, err := t.wantRoutes(ctx, n)
	if err != nil {
		return Diff{}, err
	}
	out, err := n.Node.NS.IPOutput("-4", "-j", "route", "show", "proto", "82")
	if err != nil {
		return Diff{}, err
	}
	var routes []struct {
		Dst     string `json:"dst"`
		Gateway string `json:"gateway"`
	}
	if err := json.Unmarshal([]byte(out), &routes); err != nil {
		return Diff{}, fmt.Errorf("ip -j route show on %s: %w: %s", n.Name, err, out)
	}
	have := map[string]string{}
	for _, r := range routes {
		dst := r.Dst
		if !strings.Contains(dst, "/") {
			dst += "/32"
		}
		have[dst] = r.Gateway
	}
	var d Diff
	for _, dst := range slices.Sorted(maps.Keys(want)) {
		if have[dst] != want[dst] {
			d.missing(fmt.Sprintf("route %s via %s on %s (have %q)", dst, want[dst], n.Name, have[dst]))
		}
	}
	for _, dst := range slices.Sorted(maps.Keys(have)) {
		if _, ok := want[dst]; !ok {
			d.extra(fmt.Sprintf("route %s via %s on %s", dst, have[dst], n.Name))
		}
	}
	return d, nil
}

// wantRoutes is the routes node n should have: destination -> gateway.
func (t *Topology) wantRoutes(ctx context.Context, n *TopoNode) (map[string]string, error) {
	cs := t.Clients[n.Cluster].ProjectcalicoV3()
	nodes, err := cs.Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing Nodes of %s: %w", n.Cluster.Name, err)
	}
	rccs, err := cs.RemoteClusterConfigurations().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing RemoteClusterConfigurations of %s: %w", n.Cluster.Name, err)
	}
	blocks, err := cs.IPAMBlocks().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing IPAMBlocks of %s: %w", n.Cluster.Name, err)
	}
	eps, err := cs.WorkloadEndpoints("").List(ctx, metav1.ListOptions{LabelSelector: v3.LabelCluster})
	if err != nil {
		return nil, fmt.Errorf("listing mirrored WorkloadEndpoints of %s: %w", n.Cluster.Name, err)
	}
	enabled := map[string]bool{"": true}
	for _, r := range rccs.Items {
		enabled[r.Name] = r.Spec.SyncOptions.OverlayRoutingMode == v3.OverlayRoutingModeEnabled
	}
	vtep := map[string]string{} // "host:<node>" affinity -> VTEP
	for _, node := range nodes.Items {
		cluster := node.Labels[v3.LabelCluster]
		if node.Name == n.Name || !enabled[cluster] || node.Spec.IPv4VXLANTunnelAddr == "" || node.Spec.VXLANTunnelMACAddr == "" {
			continue
		}
		ref := node.Name
		if cluster != "" {
			ref = v3.RemoteName(cluster, node.Annotations[v3.AnnotationRemoteName])
		}
		vtep[ref] = node.Spec.IPv4VXLANTunnelAddr
	}
	want := map[string]string{}
	var owned []netip.Prefix
	for _, b := range blocks.Items {
		if b.Spec.Affinity == nil {
			continue
		}
		if gw, ok := vtep[strings.TrimPrefix(*b.Spec.Affinity, "host:")]; ok {
			want[b.Spec.CIDR] = gw
		}
		if p, err := netip.ParsePrefix(b.Spec.CIDR); err == nil {
			owned = append(owned, p)
		}
	}
	for _, ep := range eps.Items {
		gw, ok := vtep[ep.Spec.Node]
		if !ok {
			continue
		}
		for _, s := range ep.Spec.IPNetworks {
			p, err := netip.ParsePrefix(s)
			if err != nil || slices.ContainsFunc(owned, func(b netip.Prefix) bool { return b.Contains(p.Addr()) }) {
				continue
			}
			if _, dup := want[p.String()]; !dup {
				want[p.String()] = gw
			}
		}
	}
	return want, nil
}

// NFTSetMembers returns the IPv4 members of the named sets of the
// agent's table inet meshapi-filter on node n, by set: each element that
// starts an interval (the sets hold one element per member).
func NFTSetMembers(n *TopoNode) (map[string][]netip.Addr, error) {
	c, err := nftables.New(nftables.WithNetNSFd(int(n.Node.NS.Handle)))
	if err != nil {
		return nil, fmt.Errorf("nftables in %s: %w", n.Node.NS.Name, err)
	}
	table := &nftables.Table{Name: "meshapi-filter", Family: nftables.TableFamilyINet}
	sets, err := c.GetSets(table)
	if err != nil {
		return nil, fmt.Errorf("sets of table inet meshapi-filter on %s: %w", n.Name, err)
	}
	out := map[string][]netip.Addr{}
	for _, s := range sets {
		if s.Anonymous || !strings.HasSuffix(s.Name, "-v4") {
			continue
		}
		elems, err := c.GetSetElements(s)
		if err != nil {
			return nil, fmt.Errorf("elements of set %s on %s: %w", s.Name, n.Name, err)
		}
		members := []netip.Addr{}
		for _, e := range elems {
			if a, ok := netip.AddrFromSlice(e.Key); ok && !e.IntervalEnd {
				members = append(members, a)
			}
		}
		slices.SortFunc(members, netip.Addr.Compare)
		out[s.Name] = members
	}
	return out, nil
}

// CompareSet compares the members of the one named IPv4 set of node n's
// filter table with want. It fails unless the table holds exactly one
// such set: the caller arranges that one policy rule refers to one
// selector.
func CompareSet(n *TopoNode, want []netip.Addr) (Diff, error) {
	sets, err := NFTSetMembers(n)
	if err != nil {
		return Diff{}, err
	}
	if len(sets) != 1 {
		return Diff{}, fmt.Errorf("table inet meshapi-filter on %s has %d IPv4 named sets, want 1: %v", n.Name, len(sets), slices.Sorted(maps.Keys(sets)))
	}
	var d Diff
	for name, have := range sets {
		for _, a := range want {
			if !slices.Contains(have, a) {
				d.missing(fmt.Sprintf("member %s of set %s on %s", a, name, n.Name))
			}
		}
		for _, a := range have {
			if !slices.Contains(want, a) {
				d.extra(fmt.Sprintf("member %s of set %s on %s", a, name, n.Name))
			}
		}
	}
	return d, nil
}
