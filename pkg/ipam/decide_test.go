package ipam

import (
	"errors"
	"net/netip"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/apis/projectcalico/validation"
)

var testNow = time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)

func testPool(name, cidr string, bits int, mod ...func(*v3.IPPool)) *v3.IPPool {
	p := &v3.IPPool{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v3.IPPoolSpec{CIDR: cidr, BlockSize: bits}}
	for _, m := range mod {
		m(p)
	}
	return p
}

// testBlock is a block of node with ordinals used held by "other.<o>".
func testBlock(node, cidr string, used ...int) *v3.IPAMBlock {
	b := newBlock(netip.MustParsePrefix(cidr), node, false, testNow)
	for _, o := range used {
		allocate(&b.Spec, o, "other."+string(rune('a'+o)), nil)
	}
	return b
}

// bare is a block of node made by hand, without an allocation record.
func bare(node, cidr string) *v3.IPAMBlock {
	b := testBlock(node, cidr)
	b.Spec.Allocations, b.Spec.Unallocated = nil, nil
	return b
}

func full(node, cidr string) *v3.IPAMBlock {
	n := blockCount(netip.MustParsePrefix(cidr))
	used := make([]int, n)
	for i := range used {
		used[i] = i
	}
	return testBlock(node, cidr, used...)
}

func TestPlanAuto(t *testing.T) {
	disabled := func(p *v3.IPPool) { p.Spec.Disabled = true }
	mirrored := func(p *v3.IPPool) { p.Labels = map[string]string{v3.LabelCluster: "cluster-b"} }
	rackA := func(p *v3.IPPool) { p.Spec.NodeSelector = "rack == 'a'" }
	workloadOnly := func(p *v3.IPPool) { p.Spec.AllowedUses = []v3.IPPoolAllowedUse{v3.IPPoolAllowedUseWorkload} }
	strictBlock := func(b *v3.IPAMBlock) *v3.IPAMBlock { b.Spec.StrictAffinity = true; return b }
	mirrorBlock := func(b *v3.IPAMBlock) *v3.IPAMBlock {
		b.Labels = map[string]string{v3.LabelCluster: "cluster-b"}
		return b
	}
	for _, tc := range []struct {
		name   string
		pools  []*v3.IPPool
		blocks []*v3.IPAMBlock
		labels map[string]string
		cfg    Config
		want   []string // Pools restriction
		use    use
		addr   string // wanted address; "" : an error
		create bool
		err    error
	}{
		{name: "own block first", pools: []*v3.IPPool{testPool("p", "198.18.4.0/24", 30)},
			blocks: []*v3.IPAMBlock{testBlock("n2", "198.18.4.0/30"), testBlock("n1", "198.18.4.4/30", 0)}, addr: "198.18.4.5"},
		{name: "claim the next free block when own are full", pools: []*v3.IPPool{testPool("p", "198.18.4.0/24", 30)},
			blocks: []*v3.IPAMBlock{testBlock("n2", "198.18.4.0/30"), full("n1", "198.18.4.4/30")}, addr: "198.18.4.8", create: true},
		{name: "borrow only when the pools are exhausted", pools: []*v3.IPPool{testPool("p", "198.18.4.0/29", 30)},
			blocks: []*v3.IPAMBlock{testBlock("n2", "198.18.4.0/30", 0, 1), full("n1", "198.18.4.4/30")}, addr: "198.18.4.2"},
		{name: "strict affinity: no borrowing", pools: []*v3.IPPool{testPool("p", "198.18.4.0/29", 30)}, cfg: Config{StrictAffinity: true},
			blocks: []*v3.IPAMBlock{testBlock("n2", "198.18.4.0/30", 0, 1), full("n1", "198.18.4.4/30")},
			err:    &PoolsExhaustedError{Node: "n1", Pools: []string{"p"}}},
		{name: "a strict block is not borrowed from", pools: []*v3.IPPool{testPool("p", "198.18.4.0/29", 30)},
			blocks: []*v3.IPAMBlock{strictBlock(testBlock("n2", "198.18.4.0/30")), full("n1", "198.18.4.4/30")},
			err:    &PoolsExhaustedError{Node: "n1", Pools: []string{"p"}}},
		{name: "a mirrored block is neither borrowed nor claimed over", pools: []*v3.IPPool{testPool("p", "198.18.4.0/29", 30)},
			blocks: []*v3.IPAMBlock{mirrorBlock(testBlock("cluster-b/n2", "198.18.4.0/30")), full("n1", "198.18.4.4/30")},
			err:    &PoolsExhaustedError{Node: "n1", Pools: []string{"p"}}},
		{name: "maxBlocksPerHost reached: borrow", pools: []*v3.IPPool{testPool("p", "198.18.4.0/24", 30)}, cfg: Config{MaxBlocksPerHost: 1},
			blocks: []*v3.IPAMBlock{testBlock("n2", "198.18.4.0/30"), full("n1", "198.18.4.4/30")}, addr: "198.18.4.0"},
		{name: "autoAllocateBlocks off: borrow", pools: []*v3.IPPool{testPool("p", "198.18.4.0/24", 30)}, cfg: Config{DisableAutoAllocateBlocks: true},
			blocks: []*v3.IPAMBlock{testBlock("n2", "198.18.4.0/30")}, addr: "198.18.4.0"},
		{name: "disabled and mirrored pools are skipped", pools: []*v3.IPPool{
			testPool("off", "198.18.4.0/24", 26, disabled), testPool("remote", "198.18.5.0/24", 26, mirrored), testPool("on", "198.18.6.0/24", 26)},
			addr: "198.18.6.0", create: true},
		{name: "only disabled and mirrored pools", pools: []*v3.IPPool{testPool("off", "198.18.4.0/24", 26, disabled), testPool("remote", "198.18.5.0/24", 26, mirrored)},
			err: &NoPoolError{Node: "n1"}},
		{name: "own block of a disabled pool is not used", pools: []*v3.IPPool{testPool("off", "198.18.4.0/24", 26, disabled), testPool("on", "198.18.6.0/24", 26)},
			blocks: []*v3.IPAMBlock{testBlock("n1", "198.18.4.0/26")}, addr: "198.18.6.0", create: true},
		{name: "nodeSelector admits the node", pools: []*v3.IPPool{testPool("a", "198.18.4.0/24", 26, rackA), testPool("all", "198.18.6.0/24", 26)},
			labels: map[string]string{"rack": "a"}, addr: "198.18.4.0", create: true},
		{name: "nodeSelector refuses the node", pools: []*v3.IPPool{testPool("a", "198.18.4.0/24", 26, rackA), testPool("all", "198.18.6.0/24", 26)},
			labels: map[string]string{"rack": "b"}, addr: "198.18.6.0", create: true},
		{name: "no labels: refused by a selector", pools: []*v3.IPPool{testPool("a", "198.18.4.0/24", 26, rackA)},
			err: &NoPoolError{Node: "n1"}},
		{name: "requested pool by name", pools: []*v3.IPPool{testPool("a", "198.18.4.0/24", 26), testPool("b", "198.18.6.0/24", 26)},
			want: []string{"b"}, addr: "198.18.6.0", create: true},
		{name: "requested pool by CIDR", pools: []*v3.IPPool{testPool("a", "198.18.4.0/24", 26), testPool("b", "198.18.6.0/24", 26)},
			want: []string{"198.18.6.0/24"}, addr: "198.18.6.0", create: true},
		{name: "requested pool disabled", pools: []*v3.IPPool{testPool("a", "198.18.4.0/24", 26), testPool("b", "198.18.6.0/24", 26, disabled)},
			want: []string{"b"}, err: &NoPoolError{Node: "n1", Requested: []string{"b"}}},
		{name: "requested pool unknown", pools: []*v3.IPPool{testPool("a", "198.18.4.0/24", 26)},
			want: []string{"nope"}, err: &NoPoolError{Node: "n1", Requested: []string{"nope"}}},
		{name: "tunnel address skips a workload-only pool", pools: []*v3.IPPool{testPool("w", "198.18.4.0/24", 26, workloadOnly), testPool("t", "198.18.6.0/24", 26)},
			use: v3.IPPoolAllowedUseTunnel, addr: "198.18.6.0", create: true},
		{name: "every pool full", pools: []*v3.IPPool{testPool("a", "198.18.4.0/30", 30), testPool("b", "198.18.6.0/30", 30)},
			blocks: []*v3.IPAMBlock{full("n2", "198.18.4.0/30"), full("n1", "198.18.6.0/30")},
			err:    &PoolsExhaustedError{Node: "n1", Pools: []string{"a", "b"}}},
		{name: "own block without a record is adopted", pools: []*v3.IPPool{testPool("p", "198.18.4.0/24", 26)},
			blocks: []*v3.IPAMBlock{bare("n1", "198.18.4.64/26")}, addr: "198.18.4.64"},
		{name: "another node's block without a record is not borrowed", pools: []*v3.IPPool{testPool("p", "198.18.4.0/26", 26)},
			blocks: []*v3.IPAMBlock{bare("n2", "198.18.4.0/26")}, err: &PoolsExhaustedError{Node: "n1", Pools: []string{"p"}}},
		{name: "IPv6 pools are not used for IPv4", pools: []*v3.IPPool{testPool("v6", "fd00::/64", 122)},
			err: &NoPoolError{Node: "n1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := tc.use
			if u == "" {
				u = v3.IPPoolAllowedUseWorkload
			}
			r := request{handle: "net.c1", node: "n1", attrs: map[string]string{"pod": "p"}, pools: tc.want, use: u, family: 4}
			before := make([]*v3.IPAMBlock, len(tc.blocks))
			for i, b := range tc.blocks {
				before[i] = b.DeepCopy()
			}
			ch, err := planAuto(snapshot{labels: tc.labels, pools: tc.pools, blocks: tc.blocks}, r, tc.cfg, testNow)
			for i := range before {
				if before[i].Spec.SequenceNumber != tc.blocks[i].Spec.SequenceNumber || !slices.Equal(before[i].Spec.Unallocated, tc.blocks[i].Spec.Unallocated) {
					t.Fatalf("planAuto changed its input block %s", tc.blocks[i].Name)
				}
			}
			if tc.err != nil {
				checkErr(t, err, tc.err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			checkChange(t, ch, tc.addr, tc.create, r.handle)
		})
	}
}

// checkErr compares err with want by type and message.
func checkErr(t *testing.T, err, want error) {
	t.Helper()
	if err == nil || err.Error() != want.Error() {
		t.Fatalf("error %v, want %v", err, want)
	}
	var pe *PoolsExhaustedError
	var ne *NoPoolError
	var ae *AddressInUseError
	if !(errors.As(err, &pe) && errors.As(want, &pe)) && !(errors.As(err, &ne) && errors.As(want, &ne)) && !(errors.As(err, &ae) && errors.As(want, &ae)) {
		t.Fatalf("error %T, want %T", err, want)
	}
}

// checkChange checks that ch writes a valid block in which handle holds
// addr, and claims it with create.
func checkChange(t *testing.T, ch change, addr string, create bool, handle string) {
	t.Helper()
	if ch.addr != netip.MustParseAddr(addr) || ch.create != create {
		t.Fatalf("change gives %s (create %v), want %s (create %v)", ch.addr, ch.create, addr, create)
	}
	if errs := validation.ValidateIPAMBlock(ch.block); len(errs) > 0 {
		t.Fatalf("the written block is invalid: %v", errs.ToAggregate())
	}
	if got := addrsOf(holdings([]*v3.IPAMBlock{ch.block}, handle)); !slices.Equal(got, []netip.Addr{ch.addr}) {
		t.Fatalf("handle %s holds %v in the written block, want %s", handle, got, ch.addr)
	}
	if create && (ch.block.Name != BlockName(netip.MustParsePrefix(ch.block.Spec.CIDR)) || blockNode(ch.block) != "n1") {
		t.Fatalf("claimed block %s (%s) affine to %q", ch.block.Name, ch.block.Spec.CIDR, blockNode(ch.block))
	}
}

func TestPlanAddr(t *testing.T) {
	pools := []*v3.IPPool{testPool("p", "198.18.4.0/24", 28), testPool("off", "198.18.5.0/24", 28, func(p *v3.IPPool) { p.Spec.Disabled = true })}
	mine := testBlock("n2", "198.18.4.0/28")
	allocate(&mine.Spec, 3, "net.c1", nil)
	for _, tc := range []struct {
		name   string
		blocks []*v3.IPAMBlock
		addr   string
		create bool
		held   bool
		err    error
	}{
		{name: "free address in another node's block", blocks: []*v3.IPAMBlock{testBlock("n2", "198.18.4.0/28", 1)}, addr: "198.18.4.2"},
		{name: "taken address refused", blocks: []*v3.IPAMBlock{testBlock("n2", "198.18.4.0/28", 1)}, addr: "198.18.4.1",
			err: &AddressInUseError{Addr: netip.MustParseAddr("198.18.4.1"), Handle: "other.b"}},
		{name: "already held by the handle", blocks: []*v3.IPAMBlock{mine}, addr: "198.18.4.3", held: true},
		{name: "no block yet: claimed for the node", addr: "198.18.4.20", create: true},
		{name: "in a disabled pool", addr: "198.18.5.1", err: &NoPoolError{Node: "n1", Requested: []string{"198.18.5.1"}}},
		{name: "in no pool", addr: "198.18.9.1", err: &NoPoolError{Node: "n1", Requested: []string{"198.18.9.1"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := request{handle: "net.c1", node: "n1", use: v3.IPPoolAllowedUseWorkload, family: 4}
			ch, held, err := planAddr(snapshot{pools: pools, blocks: tc.blocks}, r, netip.MustParseAddr(tc.addr), Config{}, testNow)
			switch {
			case tc.err != nil:
				checkErr(t, err, tc.err)
			case err != nil:
				t.Fatal(err)
			case held != tc.held:
				t.Fatalf("held = %v, want %v", held, tc.held)
			case !held:
				checkChange(t, ch, tc.addr, tc.create, r.handle)
			}
		})
	}
}

func TestAllocateRelease(t *testing.T) {
	b := newBlock(netip.MustParsePrefix("198.18.4.0/29"), "n1", false, testNow)
	for i, h := range []string{"a", "b", "a", "c"} {
		allocate(&b.Spec, b.Spec.Unallocated[0], h, map[string]string{"i": string(rune('0' + i))})
	}
	for _, tc := range []struct {
		handle string
		freed  []int
		left   int // allocated ordinals left
	}{
		{"a", []int{0, 2}, 2},
		{"a", nil, 2},
		{"c", []int{3}, 1},
		{"b", []int{1}, 0},
	} {
		seq := b.Spec.SequenceNumber
		if got := release(&b.Spec, tc.handle); !slices.Equal(got, tc.freed) {
			t.Fatalf("release(%s) = %v, want %v", tc.handle, got, tc.freed)
		}
		if errs := validation.ValidateIPAMBlock(b); len(errs) > 0 {
			t.Fatalf("after release(%s): %v", tc.handle, errs.ToAggregate())
		}
		if tc.freed != nil && b.Spec.SequenceNumber != seq+1 {
			t.Errorf("release(%s) left sequenceNumber at %d", tc.handle, b.Spec.SequenceNumber)
		}
		if n := len(b.Spec.Allocations) - len(b.Spec.Unallocated); n != tc.left || len(b.Spec.Attributes) != tc.left {
			t.Errorf("after release(%s): %d allocated, %d attributes, want %d", tc.handle, n, len(b.Spec.Attributes), tc.left)
		}
	}
	// Released addresses are reused last.
	if want := []int{4, 5, 6, 7, 0, 2, 3, 1}; !slices.Equal(b.Spec.Unallocated, want) {
		t.Errorf("unallocated = %v, want %v", b.Spec.Unallocated, want)
	}
}

func TestConfigFrom(t *testing.T) {
	yes, no := true, false
	for _, tc := range []struct {
		name string
		spec v3.IPAMConfigurationSpec
		want Config
	}{
		{"defaults", v3.IPAMConfigurationSpec{}, Config{}},
		{"autoAllocateBlocks true", v3.IPAMConfigurationSpec{AutoAllocateBlocks: &yes}, Config{}},
		{"autoAllocateBlocks false", v3.IPAMConfigurationSpec{AutoAllocateBlocks: &no}, Config{DisableAutoAllocateBlocks: true}},
		{"strict, 3 blocks", v3.IPAMConfigurationSpec{StrictAffinity: true, MaxBlocksPerHost: 3}, Config{StrictAffinity: true, MaxBlocksPerHost: 3}},
	} {
		if got := ConfigFrom(&tc.spec); got != tc.want {
			t.Errorf("%s: ConfigFrom = %+v, want %+v", tc.name, got, tc.want)
		}
	}
}
