// Package nat makes a node masquerade the traffic its pods send out of the
// mesh: NAT-outgoing, as the original product's IPPool field natOutgoing
// does, with nftables. It has no Kubernetes imports: the node agent turns
// the pools into a [Desired] and hands it to [NAT.Apply].
//
// # Model
//
// One table, by default "ip meshapi-nat", holds everything:
//
//	table ip meshapi-nat {
//		set masq-sources      { type ipv4_addr; flags interval; }  # natOutgoing pools
//		set mesh-destinations { type ipv4_addr; flags interval; }  # every pool of the mesh
//		chain postrouting {
//			type nat hook postrouting priority srcnat; policy accept;
//			ip saddr @masq-sources ip daddr != @mesh-destinations counter masquerade
//		}
//	}
//
// Traffic from a natOutgoing pool is masqueraded unless it goes to a
// destination of the mesh: any local pool (enabled or not, so the seeds'
// manual "disabled IP pool" still works), any remote cluster's pool, any
// remote endpoint. IPv6 prefixes are ignored (the table is IPv4 only).
//
// # Ownership and reconciliation
//
// The package owns its table and nothing else: it never changes or
// deletes another table, whatever its family or name. [NAT.Apply] changes
// set elements incrementally (one transaction of element deletions and
// additions, split into several past 2,048 changed ranges, deletions
// first), creates the table when it is missing, and deletes it when
// nothing is to be masqueraded. [NAT.Resync] re-reads the table from the
// kernel and repairs drift: missing elements are added, foreign ones
// removed, and a table whose chain, rule or sets were changed by hand is
// deleted and written again, its rule last, so that it never masquerades
// with a partly filled set.
//
// A NAT works on the network namespace of its nftables connection: use
// nftables.New(nftables.WithNetNSFd(fd)) for a namespace other than the
// caller's.
package nat

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// Names inside the table.
const (
	// DefaultTable is the name of the table (family ip) the package owns.
	DefaultTable = "meshapi-nat"
	// SourcesSet holds the natOutgoing pools.
	SourcesSet = "masq-sources"
	// DestinationsSet holds the mesh's destinations, never masqueraded.
	DestinationsSet = "mesh-destinations"
	// Chain is the nat postrouting chain.
	Chain = "postrouting"
)

// ruleTag is the user data of our rule: a rule without it in our chain
// means the chain was edited by hand.
var ruleTag = []byte("meshapi:masquerade:v1")

// Desired is the NAT-outgoing state of a node.
type Desired struct {
	// Sources are the prefixes whose traffic leaving the mesh is
	// masqueraded: the local pools with natOutgoing. Empty means no NAT at
	// all: the table is removed.
	Sources []netip.Prefix
	// Destinations are never masqueraded to: every pool of the mesh, local
	// and remote, and remote endpoints' addresses.
	Destinations []netip.Prefix
}

// Stats tells what one Apply or Resync changed.
type Stats struct {
	// TableCreated: the table did not exist (or was rebuilt) and was
	// written whole.
	TableCreated bool
	// TableRemoved: the table was deleted (nothing to masquerade).
	TableRemoved bool
	// Rebuilt: the table existed but its chain, rule or sets differed from
	// ours, so it was replaced.
	Rebuilt bool
	// RangesAdded and RangesRemoved count set intervals added and
	// removed incrementally.
	RangesAdded, RangesRemoved int
	// Duration is the time the call took.
	Duration time.Duration
}

// Changes is the number of changes made, a whole table counting as one.
func (s Stats) Changes() int {
	n := s.RangesAdded + s.RangesRemoved
	if s.TableCreated || s.TableRemoved {
		n++
	}
	return n
}

// Options configure a NAT.
type Options struct {
	// Table is the name of the table; "" means DefaultTable.
	Table string
	// Logger receives the logs; nil discards them.
	Logger *slog.Logger
}

// NAT makes one network namespace's NAT-outgoing table match a Desired.
// Its methods are safe for concurrent use; calls are serialised.
type NAT struct {
	conn  *nftables.Conn
	table string
	log   *slog.Logger

	mu      sync.Mutex
	desired *Desired
	known   *tableState // what the kernel holds; nil = read it first
}

// tableState is the content of our table: nil sets mean no table.
type tableState struct {
	exists       bool
	sources      map[ipRange]bool
	destinations map[ipRange]bool
}

// New returns a NAT that works through conn. It does nothing until Apply.
func New(conn *nftables.Conn, opts Options) *NAT {
	name := opts.Table
	if name == "" {
		name = DefaultTable
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &NAT{conn: conn, table: name, log: log}
}

// Table is the name of the table this NAT owns (family ip).
func (n *NAT) Table() string { return n.table }

// Apply makes the table match want and remembers want for Resync.
func (n *NAT) Apply(ctx context.Context, want Desired) (Stats, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	want = Desired{Sources: slices.Clone(want.Sources), Destinations: slices.Clone(want.Destinations)}
	n.desired = &want
	return n.sync(ctx, want, false)
}

// Resync re-reads the table from the kernel and repairs any drift from the
// last Desired given to Apply. Before the first Apply it does nothing.
func (n *NAT) Resync(ctx context.Context) (Stats, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.desired == nil {
		return Stats{}, nil
	}
	st, err := n.sync(ctx, *n.desired, true)
	if c := st.Changes(); c > 0 {
		n.log.Info("repaired NAT-outgoing drift", "table", n.table, "changes", c, "rebuilt", st.Rebuilt)
	}
	return st, err
}

func (n *NAT) sync(ctx context.Context, want Desired, full bool) (st Stats, err error) {
	start := time.Now()
	defer func() { st.Duration = time.Since(start) }()
	if err := ctx.Err(); err != nil {
		return st, err
	}
	src, dst := toRanges(want.Sources), toRanges(want.Destinations)

	if full || n.known == nil {
		k, intact, err := n.read()
		if err != nil {
			n.known = nil
			return st, err
		}
		if k.exists && !intact {
			// Someone changed our chain, rule or sets: replace the table.
			st.Rebuilt = true
			if len(src) == 0 {
				err := n.deleteTable(&st)
				return st, err
			}
			err := n.writeTable(true, src, dst, &st)
			return st, err
		}
		n.known = k
	}

	switch {
	case len(src) == 0 && !n.known.exists:
		return st, nil
	case len(src) == 0:
		return st, n.deleteTable(&st)
	case !n.known.exists:
		return st, n.writeTable(false, src, dst, &st)
	}

	table := &nftables.Table{Name: n.table, Family: nftables.TableFamilyIPv4}
	addS, delS := diffRanges(n.known.sources, src)
	addD, delD := diffRanges(n.known.destinations, dst)
	if len(addS)+len(delS)+len(addD)+len(delD) == 0 {
		return st, nil
	}
	srcSet := &nftables.Set{Table: table, Name: SourcesSet, KeyType: nftables.TypeIPAddr, Interval: true}
	dstSet := &nftables.Set{Table: table, Name: DestinationsSet, KeyType: nftables.TypeIPAddr, Interval: true}
	// Removals first, then additions, in one transaction when fewer than
	// rangesPerTransaction ranges change (a range that changes bounds is
	// replaced atomically), else in several.
	pending := 0
	for _, c := range []struct {
		set *nftables.Set
		add []ipRange
		del []ipRange
	}{{srcSet, addS, delS}, {dstSet, addD, delD}} {
		if err := n.queueElements(c.set, c.del, true, &pending); err != nil {
			n.known = nil
			return st, fmt.Errorf("nat: deleting elements of set %s in table ip %s: %w", c.set.Name, n.table, err)
		}
		if err := n.queueElements(c.set, c.add, false, &pending); err != nil {
			n.known = nil
			return st, fmt.Errorf("nat: adding elements to set %s in table ip %s: %w", c.set.Name, n.table, err)
		}
	}
	if err := n.conn.Flush(); err != nil {
		n.known = nil
		return st, fmt.Errorf("nat: updating the sets of table ip %s (%d+%d ranges added, %d+%d removed): %w",
			n.table, len(addS), len(addD), len(delS), len(delD), err)
	}
	st.RangesAdded = len(addS) + len(addD)
	st.RangesRemoved = len(delS) + len(delD)
	n.known.sources, n.known.destinations = src, dst
	return st, nil
}

// writeTable writes the whole table in one transaction, replacing it if
// replace is set.
func (n *NAT) writeTable(replace bool, src, dst map[ipRange]bool, st *Stats) error {
	table := &nftables.Table{Name: n.table, Family: nftables.TableFamilyIPv4}
	if replace {
		n.conn.DelTable(table)
	}
	n.conn.AddTable(table)
	srcSet := &nftables.Set{Table: table, Name: SourcesSet, KeyType: nftables.TypeIPAddr, Interval: true}
	dstSet := &nftables.Set{Table: table, Name: DestinationsSet, KeyType: nftables.TypeIPAddr, Interval: true}
	for _, c := range []*nftables.Set{srcSet, dstSet} {
		if err := n.conn.AddSet(c, nil); err != nil {
			return fmt.Errorf("nat: creating set %s in table ip %s: %w", c.Name, n.table, err)
		}
	}
	// The sets are filled before the rule that uses them exists, so a set
	// too large for one transaction never masquerades with part of it.
	pending := 0
	for _, c := range []struct {
		set *nftables.Set
		rs  map[ipRange]bool
	}{{srcSet, src}, {dstSet, dst}} {
		if err := n.queueElements(c.set, sortedRanges(c.rs), false, &pending); err != nil {
			n.known = nil
			return fmt.Errorf("nat: filling set %s in table ip %s: %w", c.set.Name, n.table, err)
		}
	}
	accept := nftables.ChainPolicyAccept
	chain := n.conn.AddChain(&nftables.Chain{
		Name: Chain, Table: table, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource, Policy: &accept,
	})
	n.conn.AddRule(&nftables.Rule{Table: table, Chain: chain, UserData: ruleTag, Exprs: []expr.Any{
		// ip saddr @masq-sources
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
		&expr.Lookup{SourceRegister: 1, SetName: srcSet.Name, SetID: srcSet.ID},
		// ip daddr != @mesh-destinations
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
		&expr.Lookup{SourceRegister: 1, SetName: dstSet.Name, SetID: dstSet.ID, Invert: true},
		&expr.Counter{},
		&expr.Masq{},
	}})
	if err := n.conn.Flush(); err != nil {
		n.known = nil
		return fmt.Errorf("nat: writing table ip %s: %w", n.table, err)
	}
	st.TableCreated = true
	n.known = &tableState{exists: true, sources: src, destinations: dst}
	return nil
}

func (n *NAT) deleteTable(st *Stats) error {
	n.conn.DelTable(&nftables.Table{Name: n.table, Family: nftables.TableFamilyIPv4})
	if err := n.conn.Flush(); err != nil {
		n.known = nil
		if errors.Is(err, unix.ENOENT) {
			n.known = &tableState{}
			return nil
		}
		return fmt.Errorf("nat: deleting table ip %s: %w", n.table, err)
	}
	st.TableRemoved = true
	n.known = &tableState{}
	return nil
}

// read reads our table from the kernel. intact is false when the table
// exists but its chain, rule or sets are not the ones we write.
func (n *NAT) read() (k *tableState, intact bool, err error) {
	tables, err := n.conn.ListTablesOfFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return nil, false, fmt.Errorf("nat: listing ip tables: %w", err)
	}
	var table *nftables.Table
	for _, t := range tables {
		if t.Name == n.table {
			table = t
		}
	}
	if table == nil {
		return &tableState{}, true, nil
	}
	k = &tableState{exists: true}
	chains, err := n.conn.ListChainsOfTableFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return nil, false, fmt.Errorf("nat: listing ip chains: %w", err)
	}
	var ours []*nftables.Chain
	for _, c := range chains {
		if c.Table.Name == n.table {
			ours = append(ours, c)
		}
	}
	if len(ours) != 1 || ours[0].Name != Chain || ours[0].Type != nftables.ChainTypeNAT ||
		ours[0].Hooknum == nil || *ours[0].Hooknum != *nftables.ChainHookPostrouting {
		return k, false, nil
	}
	rules, err := n.conn.GetRules(table, ours[0])
	if err != nil {
		return nil, false, fmt.Errorf("nat: listing the rules of chain %s in table ip %s: %w", Chain, n.table, err)
	}
	if len(rules) != 1 || !bytes.Equal(rules[0].UserData, ruleTag) {
		return k, false, nil
	}
	sets, err := n.conn.GetSets(table)
	if err != nil {
		return nil, false, fmt.Errorf("nat: listing the sets of table ip %s: %w", n.table, err)
	}
	found := 0
	for _, s := range sets {
		if (s.Name != SourcesSet && s.Name != DestinationsSet) || !s.Interval || s.KeyType.Name != nftables.TypeIPAddr.Name {
			return k, false, nil
		}
		found++
		elems, err := n.conn.GetSetElements(s)
		if err != nil {
			return nil, false, fmt.Errorf("nat: reading set %s of table ip %s: %w", s.Name, n.table, err)
		}
		r, ok := parseElements(elems)
		if !ok {
			return k, false, nil
		}
		if s.Name == SourcesSet {
			k.sources = r
		} else {
			k.destinations = r
		}
	}
	if found != 2 {
		return k, false, nil
	}
	return k, true, nil
}

// rangesPerMessage bounds the ranges of one netlink message: a message's
// element list is one netlink attribute, whose length must fit in 16 bits
// (about 40 bytes per IPv4 element, two elements per range).
const rangesPerMessage = 512

// rangesPerTransaction bounds the ranges of one transaction: the whole
// transaction goes in one sendmsg, limited by the socket's buffer.
const rangesPerTransaction = 2048

// queueElements queues the addition (or deletion) of rs to set in
// messages of at most rangesPerMessage ranges, and sends the transaction
// whenever *pending reaches rangesPerTransaction ranges.
func (n *NAT) queueElements(set *nftables.Set, rs []ipRange, del bool, pending *int) error {
	for len(rs) > 0 {
		k := min(len(rs), rangesPerMessage, rangesPerTransaction-*pending)
		var err error
		if del {
			err = n.conn.SetDeleteElements(set, elements(rs[:k]))
		} else {
			err = n.conn.SetAddElements(set, elements(rs[:k]))
		}
		if err != nil {
			return err
		}
		rs = rs[k:]
		if *pending += k; *pending >= rangesPerTransaction {
			if err := n.conn.Flush(); err != nil {
				return err
			}
			*pending = 0
		}
	}
	return nil
}

// ipRange is an interval of IPv4 addresses [lo, hi), hi up to 1<<32.
type ipRange struct{ lo, hi uint64 }

func (r ipRange) String() string {
	lo := netip.AddrFrom4(u32bytes(uint32(r.lo)))
	if r.hi > 0xffffffff {
		return lo.String() + "-255.255.255.255"
	}
	return lo.String() + "-" + netip.AddrFrom4(u32bytes(uint32(r.hi-1))).String()
}

func u32bytes(v uint32) [4]byte {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], v)
	return b
}

// toRanges turns IPv4 prefixes into disjoint, non-adjacent ranges, as an
// interval set without auto-merge needs. IPv6 prefixes are ignored.
func toRanges(prefixes []netip.Prefix) map[ipRange]bool {
	var rs []ipRange
	for _, p := range prefixes {
		p = p.Masked()
		if !p.IsValid() || !p.Addr().Unmap().Is4() {
			continue
		}
		a := p.Addr().Unmap().As4()
		lo := uint64(binary.BigEndian.Uint32(a[:]))
		bits := p.Bits()
		if p.Addr().Is4In6() {
			bits -= 96
		}
		rs = append(rs, ipRange{lo, lo + 1<<(32-bits)})
	}
	slices.SortFunc(rs, func(a, b ipRange) int {
		switch {
		case a.lo < b.lo:
			return -1
		case a.lo > b.lo:
			return 1
		}
		return 0
	})
	out := map[ipRange]bool{}
	var cur *ipRange
	for i := range rs {
		if cur != nil && rs[i].lo <= cur.hi {
			cur.hi = max(cur.hi, rs[i].hi)
			continue
		}
		if cur != nil {
			out[*cur] = true
		}
		c := rs[i]
		cur = &c
	}
	if cur != nil {
		out[*cur] = true
	}
	return out
}

func sortedRanges(m map[ipRange]bool) []ipRange {
	out := make([]ipRange, 0, len(m))
	for r := range m {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b ipRange) int {
		switch {
		case a.lo < b.lo:
			return -1
		case a.lo > b.lo:
			return 1
		}
		return 0
	})
	return out
}

// diffRanges returns the ranges of want missing from have, and those of
// have not in want.
func diffRanges(have, want map[ipRange]bool) (add, del []ipRange) {
	for r := range want {
		if !have[r] {
			add = append(add, r)
		}
	}
	for r := range have {
		if !want[r] {
			del = append(del, r)
		}
	}
	return add, del
}

// elements are the interval set elements of ranges: a start element and,
// unless the range reaches the top of the address space, an end element.
func elements(rs []ipRange) []nftables.SetElement {
	out := make([]nftables.SetElement, 0, 2*len(rs))
	for _, r := range rs {
		lo := u32bytes(uint32(r.lo))
		out = append(out, nftables.SetElement{Key: lo[:]})
		if r.hi <= 0xffffffff {
			hi := u32bytes(uint32(r.hi))
			out = append(out, nftables.SetElement{Key: hi[:], IntervalEnd: true})
		}
	}
	return out
}

// parseElements turns the elements of an interval set back into ranges; ok
// is false if they do not pair up.
func parseElements(elems []nftables.SetElement) (map[ipRange]bool, bool) {
	type el struct {
		key uint64
		end bool
	}
	es := make([]el, 0, len(elems))
	for _, e := range elems {
		if len(e.Key) != 4 {
			return nil, false
		}
		es = append(es, el{uint64(binary.BigEndian.Uint32(e.Key)), e.IntervalEnd})
	}
	// By address; at the same address an end closes the previous range
	// before a start opens the next.
	slices.SortFunc(es, func(a, b el) int {
		switch {
		case a.key < b.key:
			return -1
		case a.key > b.key:
			return 1
		case a.end && !b.end:
			return -1
		case !a.end && b.end:
			return 1
		}
		return 0
	})
	out := map[ipRange]bool{}
	open := false
	var lo uint64
	for _, e := range es {
		switch {
		case !e.end && !open:
			open, lo = true, e.key
		case e.end && open:
			out[ipRange{lo, e.key}] = true
			open = false
		case e.end && !open && e.key == 0:
			// The kernel may report a leading end marker at 0.0.0.0.
		default:
			return nil, false
		}
	}
	if open {
		out[ipRange{lo, 1 << 32}] = true
	}
	return out, true
}
