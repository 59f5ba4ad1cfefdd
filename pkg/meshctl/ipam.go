package meshctl

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/apis/projectcalico/validation"
	"github.com/meshapi/meshapi/pkg/ipamgc"
)

// IPAMShow is what ipam show prints with -o yaml|json.
type IPAMShow struct {
	// Pools are the local IPPools' usage.
	Pools []IPAMPoolUsage `json:"pools"`
	// Nodes are the usage of the blocks affine to each node.
	Nodes []IPAMNodeUsage `json:"nodes"`
}

// IPAMPoolUsage is one IPPool's usage.
type IPAMPoolUsage struct {
	// Name and CIDR name the pool.
	Name string `json:"name"`
	CIDR string `json:"cidr"`
	// Disabled is the pool's spec.disabled.
	Disabled bool `json:"disabled,omitempty"`
	// Size is the number of addresses (at most 2^64-1).
	Size uint64 `json:"size"`
	// Blocks counts the local blocks inside the pool.
	Blocks int `json:"blocks"`
	// Used counts the allocated addresses those blocks record.
	Used int `json:"used"`
	// Free is Size minus Used.
	Free uint64 `json:"free"`
}

// IPAMNodeUsage is the usage of the blocks affine to one node.
type IPAMNodeUsage struct {
	// Node is the node of the blocks' affinity.
	Node string `json:"node"`
	// Blocks counts its blocks.
	Blocks int `json:"blocks"`
	// Used counts the allocated addresses they record.
	Used int `json:"used"`
}

// IPAMProblem is one finding of ipam check.
type IPAMProblem struct {
	// Check is leaked, duplicate-address, outside-pools or
	// inconsistent-record.
	Check string `json:"check"`
	// Block is the IPAMBlock concerned.
	Block string `json:"block"`
	// Address and Handle name the allocation concerned, if any.
	Address string `json:"address,omitempty"`
	Handle  string `json:"handle,omitempty"`
	// Detail says what is wrong.
	Detail string `json:"detail"`
	// Fix says what to do.
	Fix string `json:"fix"`
}

// Checks of ipam check.
const (
	// IPAMCheckLeaked: an allocation whose pod (or node) is gone.
	IPAMCheckLeaked = "leaked"
	// IPAMCheckDuplicate: an address allocated in two blocks.
	IPAMCheckDuplicate = "duplicate-address"
	// IPAMCheckOutsidePools: a block no IPPool contains.
	IPAMCheckOutsidePools = "outside-pools"
	// IPAMCheckInconsistency: a block whose allocation record is broken.
	IPAMCheckInconsistency = "inconsistent-record"
)

func newIPAMCommand(o *options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ipam",
		Short: "Show IP address usage per pool and node, and check the allocation records",
		Long: `ipam reads the cluster's IPPools and IPAMBlocks (mirrors of remote clusters
left out):

  show    per pool: CIDR, size, blocks, used and free addresses;
          per node: blocks and used addresses
  check   leaked allocations (pod gone, or a node's tunnel address with the
          node gone), addresses held by two handles, blocks outside every
          pool, inconsistent allocation records; exits non-zero on a finding`,
	}
	cmd.AddCommand(&cobra.Command{
		Use:     "show",
		Short:   "Per pool: CIDR, size, blocks, used, free; per node: blocks, used",
		Example: "  meshctl ipam show\n  meshctl ipam show -o yaml --context cluster-a",
		Args:    cobra.NoArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return o.runIPAMShow(cmd.Context()) },
	}, &cobra.Command{
		Use:   "check",
		Short: "Find leaked allocations, addresses held twice, blocks outside the pools, broken records",
		Long: `check lists each problem of the cluster's IPAM with what to do, and exits
non-zero when it finds one. A leak is reported at once; meshapi-controller's
garbage collector releases it after its grace period (--ipam-gc-grace-period).`,
		Example: "  meshctl ipam check\n  meshctl ipam check -o json --context cluster-a",
		Args:    cobra.NoArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return o.runIPAMCheck(cmd.Context()) },
	})
	return cmd
}

// oneCluster returns the one cluster of --context.
func (o *options) oneCluster(what string) (cluster, error) {
	if err := o.checkOutput(); err != nil {
		return cluster{}, err
	}
	cs, err := o.clusters()
	if err != nil {
		return cluster{}, err
	}
	if len(cs) != 1 {
		return cluster{}, fmt.Errorf("%s reads one cluster: give at most one --context, not %d", what, len(cs))
	}
	return cs[0], nil
}

// localPoolsAndBlocks lists the cluster's own IPPools and IPAMBlocks.
func localPoolsAndBlocks(ctx context.Context, c cluster) ([]v3.IPPool, []v3.IPAMBlock, error) {
	pools, err := c.client.ProjectcalicoV3().IPPools().List(ctx, metav1.ListOptions{LabelSelector: "!" + v3.LabelCluster})
	if err != nil {
		return nil, nil, fmt.Errorf("context %q: listing IPPools: %w", c.context, err)
	}
	blocks, err := c.client.ProjectcalicoV3().IPAMBlocks().List(ctx, metav1.ListOptions{LabelSelector: "!" + v3.LabelCluster})
	if err != nil {
		return nil, nil, fmt.Errorf("context %q: listing IPAMBlocks: %w", c.context, err)
	}
	return pools.Items, blocks.Items, nil
}

func (o *options) runIPAMShow(ctx context.Context) error {
	c, err := o.oneCluster("ipam show")
	if err != nil {
		return err
	}
	pools, blocks, err := localPoolsAndBlocks(ctx, c)
	if err != nil {
		return err
	}
	return o.printIPAMShow(IPAMUsage(pools, blocks))
}

// used counts the allocated addresses a block records.
func used(b *v3.IPAMBlock) int {
	n := 0
	for _, a := range b.Spec.Allocations {
		if a != nil {
			n++
		}
	}
	return n
}

// poolSize is the number of addresses of prefix, at most 2^64-1.
func poolSize(p netip.Prefix) uint64 {
	bits := p.Addr().BitLen() - p.Bits()
	if bits >= 64 {
		return math.MaxUint64
	}
	return 1 << bits
}

// blockIn reports whether a block's CIDR lies inside pool.
func blockIn(block, pool netip.Prefix) bool {
	return pool.Bits() <= block.Bits() && pool.Contains(block.Addr())
}

// IPAMUsage sums blocks per pool (by CIDR containment) and per node (by
// affinity), sorted by pool CIDR and node name.
func IPAMUsage(pools []v3.IPPool, blocks []v3.IPAMBlock) IPAMShow {
	show := IPAMShow{Pools: []IPAMPoolUsage{}, Nodes: []IPAMNodeUsage{}}
	byNode := map[string]*IPAMNodeUsage{}
	for _, b := range blocks {
		node := cmp.Or(ipamgc.BlockNode(&b), "(no affinity)")
		if byNode[node] == nil {
			byNode[node] = &IPAMNodeUsage{Node: node}
		}
		byNode[node].Blocks++
		byNode[node].Used += used(&b)
	}
	for _, p := range pools {
		u := IPAMPoolUsage{Name: p.Name, CIDR: p.Spec.CIDR, Disabled: p.Spec.Disabled}
		pp, err := netip.ParsePrefix(p.Spec.CIDR)
		if err == nil {
			u.Size = poolSize(pp)
			for _, b := range blocks {
				if bp, err := netip.ParsePrefix(b.Spec.CIDR); err == nil && blockIn(bp, pp) {
					u.Blocks++
					u.Used += used(&b)
				}
			}
		}
		u.Free = u.Size - min(u.Size, uint64(u.Used))
		show.Pools = append(show.Pools, u)
	}
	slices.SortFunc(show.Pools, func(a, b IPAMPoolUsage) int { return cmp.Or(cmp.Compare(a.CIDR, b.CIDR), cmp.Compare(a.Name, b.Name)) })
	for _, u := range byNode {
		show.Nodes = append(show.Nodes, *u)
	}
	slices.SortFunc(show.Nodes, func(a, b IPAMNodeUsage) int { return cmp.Compare(a.Node, b.Node) })
	return show
}

// printIPAMShow prints the pool and node tables, or YAML/JSON.
func (o *options) printIPAMShow(s IPAMShow) error {
	if done, err := o.printStructured(s); done {
		return err
	}
	w := tabwriter.NewWriter(o.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "POOL\tCIDR\tSIZE\tBLOCKS\tUSED\tFREE")
	for _, p := range s.Pools {
		name := p.Name
		if p.Disabled {
			name += " (disabled)"
		}
		fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%d\t%d\n", name, p.CIDR, p.Size, p.Blocks, p.Used, p.Free)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(o.out)
	w = tabwriter.NewWriter(o.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NODE\tBLOCKS\tUSED")
	for _, n := range s.Nodes {
		fmt.Fprintf(w, "%s\t%d\t%d\n", n.Node, n.Blocks, n.Used)
	}
	return w.Flush()
}

func (o *options) runIPAMCheck(ctx context.Context) error {
	c, err := o.oneCluster("ipam check")
	if err != nil {
		return err
	}
	pools, blocks, err := localPoolsAndBlocks(ctx, c)
	if err != nil {
		return err
	}
	state, err := liveState(ctx, c)
	if err != nil {
		return err
	}
	state.Blocks = blocks
	problems, err := IPAMChecks(pools, state)
	if err != nil {
		return err
	}
	return o.printIPAMCheck(problems, len(blocks))
}

// liveState reads the pods and nodes that hold allocations.
func liveState(ctx context.Context, c cluster) (*ipamgc.State, error) {
	pods, err := c.kube.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("context %q: listing Pods: %w", c.context, err)
	}
	kubeNodes, err := c.kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("context %q: listing Kubernetes Nodes: %w", c.context, err)
	}
	nodes, err := c.client.ProjectcalicoV3().Nodes().List(ctx, metav1.ListOptions{LabelSelector: "!" + v3.LabelCluster})
	if err != nil {
		return nil, fmt.Errorf("context %q: listing Nodes: %w", c.context, err)
	}
	s := &ipamgc.State{Pods: map[string]ipamgc.Pod{}}
	for i := range pods.Items {
		p := &pods.Items[i]
		s.Pods[p.Namespace+"/"+p.Name] = ipamgc.PodOf(p)
	}
	var names []string
	for _, n := range kubeNodes.Items {
		names = append(names, n.Name)
	}
	s.Nodes = ipamgc.LiveNodes(names, nodes.Items)
	return s, nil
}

// IPAMChecks finds the problems of the local blocks of s against the
// local pools, sorted by check, block and address.
func IPAMChecks(pools []v3.IPPool, s *ipamgc.State) ([]IPAMProblem, error) {
	local := slices.DeleteFunc(slices.Clone(s.Blocks), func(b v3.IPAMBlock) bool { return !ipamgc.IsLocal(&b) })
	leaks, err := ipamgc.Leaks(&ipamgc.State{Blocks: local, Pods: s.Pods, Nodes: s.Nodes})
	if err != nil {
		return nil, err
	}
	problems := []IPAMProblem{}
	for _, l := range leaks {
		problems = append(problems, IPAMProblem{Check: IPAMCheckLeaked, Block: l.Block, Address: l.Addr.String(), Handle: l.Handle,
			Detail: l.Describe() + allocatedAt(l.Attrs),
			Fix: "meshapi-controller's IPAM garbage collector releases it after --ipam-gc-grace-period (default 5m); " +
				"if it stays, check the controller: kubectl logs deployment/calico-typha -n calico-system | grep 'IPAM'"})
	}
	problems = append(problems, duplicates(local)...)
	problems = append(problems, outsidePools(pools, local)...)
	for i := range local {
		problems = append(problems, inconsistent(&local[i])...)
	}
	slices.SortStableFunc(problems, func(a, b IPAMProblem) int {
		return cmp.Or(cmp.Compare(a.Check, b.Check), cmp.Compare(a.Block, b.Block), cmp.Compare(a.Address, b.Address))
	})
	return problems, nil
}

// allocatedAt renders an allocation's timestamp attribute, if any.
func allocatedAt(attrs map[string]string) string {
	if ts := attrs[ipamgc.AttrTimestamp]; ts != "" {
		return " (allocated " + ts + ")"
	}
	return ""
}

// duplicates finds addresses allocated in two blocks (blocks that
// overlap), each allocation a problem.
func duplicates(blocks []v3.IPAMBlock) []IPAMProblem {
	byAddr := map[netip.Addr][]ipamgc.Allocation{}
	for i := range blocks {
		allocs, err := ipamgc.Allocations(&blocks[i])
		if err != nil {
			continue // reported as inconsistent
		}
		for _, a := range allocs {
			byAddr[a.Addr] = append(byAddr[a.Addr], a)
		}
	}
	var out []IPAMProblem
	for addr, as := range byAddr {
		if len(as) < 2 {
			continue
		}
		var holders []string
		for _, a := range as {
			holders = append(holders, fmt.Sprintf("handle %q in block %s", a.Handle, a.Block))
		}
		for _, a := range as {
			out = append(out, IPAMProblem{Check: IPAMCheckDuplicate, Block: a.Block, Address: addr.String(), Handle: a.Handle,
				Detail: fmt.Sprintf("%s is allocated %d times: %s", addr, len(as), strings.Join(holders, ", ")),
				Fix: "the blocks overlap: delete the pod of all but one handle (its CNI DEL releases the address), " +
					"then delete the block that was made by hand or lies outside the pools (kubectl delete ipamblock <name>)"})
		}
	}
	return out
}

// outsidePools finds blocks that no local IPPool contains.
func outsidePools(pools []v3.IPPool, blocks []v3.IPAMBlock) []IPAMProblem {
	var prefixes []netip.Prefix
	for _, p := range pools {
		if pp, err := netip.ParsePrefix(p.Spec.CIDR); err == nil {
			prefixes = append(prefixes, pp.Masked())
		}
	}
	var out []IPAMProblem
	for _, b := range blocks {
		bp, err := netip.ParsePrefix(b.Spec.CIDR)
		if err != nil || slices.ContainsFunc(prefixes, func(p netip.Prefix) bool { return blockIn(bp, p) }) {
			continue
		}
		out = append(out, IPAMProblem{Check: IPAMCheckOutsidePools, Block: b.Name,
			Detail: fmt.Sprintf("block %s (%s, %d addresses allocated) lies outside every IPPool", b.Name, b.Spec.CIDR, used(&b)),
			Fix:    fmt.Sprintf("recreate the IPPool it came from, or delete the pods holding its addresses and then the block (kubectl delete ipamblock %s)", b.Name)})
	}
	return out
}

// inconsistent finds what is wrong with a block's allocation record: what
// the API server's validation refuses (a block stored before it), and
// attributes no allocation uses or allocations without a handle.
func inconsistent(b *v3.IPAMBlock) []IPAMProblem {
	fix := fmt.Sprintf("delete the pods holding the block's addresses, then the block (kubectl delete ipamblock %s); only the CNI plugin and meshapi-controller (pkg/ipam) may write allocation records", b.Name)
	var out []IPAMProblem
	for _, e := range validation.ValidateIPAMBlock(b) {
		out = append(out, IPAMProblem{Check: IPAMCheckInconsistency, Block: b.Name, Detail: e.Error(), Fix: fix})
	}
	if len(out) > 0 {
		return out
	}
	refs := make([]int, len(b.Spec.Attributes))
	for _, a := range b.Spec.Allocations {
		if a != nil {
			refs[*a]++
		}
	}
	for i, n := range refs {
		attr := b.Spec.Attributes[i]
		switch {
		case n == 0:
			out = append(out, IPAMProblem{Check: IPAMCheckInconsistency, Block: b.Name, Handle: deref(attr.HandleID),
				Detail: fmt.Sprintf("spec.attributes[%d] is used by no allocation", i), Fix: fix})
		case attr.HandleID == nil || *attr.HandleID == "":
			out = append(out, IPAMProblem{Check: IPAMCheckInconsistency, Block: b.Name,
				Detail: fmt.Sprintf("spec.attributes[%d] has no handle_id: its %d address(es) can never be released", i, n), Fix: fix})
		}
	}
	return out
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// printIPAMCheck prints the problems, one line each with its fix, or
// YAML/JSON, and returns an error when there is one.
func (o *options) printIPAMCheck(problems []IPAMProblem, blocks int) error {
	var failed error
	if len(problems) > 0 {
		failed = fmt.Errorf("ipam check found %d problem(s) in %d block(s)", len(problems), blocks)
	}
	if done, err := o.printStructured(problems); done {
		if err != nil {
			return err
		}
		return failed
	}
	if len(problems) == 0 {
		_, err := fmt.Fprintf(o.out, "No IPAM problems in %d block(s).\n", blocks)
		return err
	}
	w := tabwriter.NewWriter(o.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "CHECK\tBLOCK\tADDRESS\tHANDLE\tDETAIL")
	for _, p := range problems {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s; fix: %s\n", p.Check, p.Block, orDash(p.Address), orDash(p.Handle), p.Detail, p.Fix)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return failed
}
