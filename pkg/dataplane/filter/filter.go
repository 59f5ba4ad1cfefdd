package filter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/userdata"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// DefaultTableName is the inet table a Filter owns unless told otherwise.
const DefaultTableName = "meshapi-filter"

// DefaultMaxElementsPerTransaction bounds the set elements one transaction
// carries, so that a transaction stays within the netlink socket buffer.
const DefaultMaxElementsPerTransaction = 4096

// elementsPerMessage bounds the intervals of one netlink message: an IPv6
// interval takes about 80 bytes of the message's 64 KiB element list.
const elementsPerMessage = 512

// Options configure a Filter.
type Options struct {
	// NetNS is an open file descriptor of the network namespace to
	// program; 0 for the caller's own namespace. The caller keeps it open
	// while the Filter is used and closes it.
	NetNS int
	// TableName is the inet table the Filter owns; DefaultTableName when
	// empty.
	TableName string
	// Logger receives the Filter's logs; slog.Default() when nil.
	Logger *slog.Logger
	// MaxElementsPerTransaction bounds the set elements (intervals) one
	// nftables transaction adds or deletes; DefaultMaxElementsPerTransaction
	// when 0.
	MaxElementsPerTransaction int
	// OnResync, when set, is called after every Resync that Run makes.
	OnResync func(Stats, error)
}

// Filter makes one nftables table match a desired policy state. Its
// methods are safe for concurrent use.
type Filter struct {
	mu     sync.Mutex
	conn   *nftables.Conn
	table  *nftables.Table
	log    *slog.Logger
	opts   Options
	nextID uint32

	// Desired state.
	sets      map[string]*desiredSet
	endpoints map[string]*Endpoint
	refs      map[string]map[string]int // set -> endpoint -> references

	// What the kernel holds, as far as we know; valid only when known.
	known       bool
	tableExists bool
	kSets       map[string]map[interval]struct{} // nftables set name -> elements
	kChains     map[string][]string              // chain -> rule comments

	// Pending changes.
	dirtySets      map[string]*setDirt
	dirtyEndpoints map[string]struct{}
}

// desiredSet is the members of one named set.
type desiredSet struct {
	members map[netip.Prefix]struct{}
	wide    int // members that are not single addresses
}

// setDirt records what changed in a set since the last Commit: when all
// is false, only the listed single-address members changed.
type setDirt struct {
	all     bool
	touched map[netip.Prefix]struct{}
}

// New returns a Filter for the namespace in opts. It opens a lasting
// netlink connection; Close releases it. Nothing is written before the
// first Commit or Apply.
func New(opts Options) (*Filter, error) {
	if opts.TableName == "" {
		opts.TableName = DefaultTableName
	}
	if opts.MaxElementsPerTransaction <= 0 {
		opts.MaxElementsPerTransaction = DefaultMaxElementsPerTransaction
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	connOpts := []nftables.ConnOption{nftables.AsLasting(), nftables.WithSockOptions(bigBuffers)}
	if opts.NetNS != 0 {
		connOpts = append(connOpts, nftables.WithNetNSFd(opts.NetNS))
	}
	conn, err := nftables.New(connOpts...)
	if err != nil {
		return nil, fmt.Errorf("nftables connection: %w", err)
	}
	return &Filter{
		conn:           conn,
		table:          &nftables.Table{Name: opts.TableName, Family: nftables.TableFamilyINet},
		log:            log.With("table", opts.TableName),
		opts:           opts,
		sets:           map[string]*desiredSet{},
		endpoints:      map[string]*Endpoint{},
		refs:           map[string]map[string]int{},
		dirtySets:      map[string]*setDirt{},
		dirtyEndpoints: map[string]struct{}{},
	}, nil
}

// bigBuffers raises the socket buffers so that a transaction of a few
// thousand elements fits; without CAP_NET_ADMIN the defaults stay.
func bigBuffers(c *netlink.Conn) error {
	raw, err := c.SyscallConn()
	if err != nil {
		return nil
	}
	_ = raw.Control(func(fd uintptr) {
		_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, 4<<20)
		_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 4<<20)
	})
	return nil
}

// Close releases the netlink connection. It does not remove the table
// (see Teardown).
func (f *Filter) Close() error {
	if err := f.conn.CloseLasting(); err != nil {
		return fmt.Errorf("closing nftables connection: %w", err)
	}
	return nil
}

// SetSet makes a named set hold exactly the given members (IPv4 and IPv6
// prefixes; invalid ones are skipped), creating it if needed.
func (f *Filter) SetSet(name string, members []netip.Prefix) error {
	if err := validateSetName(name); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	ds := &desiredSet{members: make(map[netip.Prefix]struct{}, len(members))}
	for _, p := range members {
		if p.IsValid() {
			p = p.Masked()
			if _, dup := ds.members[p]; !dup && !isHost(p) {
				ds.wide++
			}
			ds.members[p] = struct{}{}
		}
	}
	f.sets[name] = ds
	f.dirtySets[name] = &setDirt{all: true}
	return nil
}

// UpdateSet adds and removes members of a named set, creating it if
// needed. Removing a member that is not there is not an error.
func (f *Filter) UpdateSet(name string, added, removed []netip.Prefix) error {
	if err := validateSetName(name); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	ds := f.sets[name]
	if ds == nil {
		ds = &desiredSet{members: map[netip.Prefix]struct{}{}}
		f.sets[name] = ds
		f.dirtySets[name] = &setDirt{all: true}
	}
	d := f.dirtySets[name]
	if d == nil {
		d = &setDirt{touched: map[netip.Prefix]struct{}{}}
		f.dirtySets[name] = d
	}
	for _, p := range removed {
		if !p.IsValid() {
			continue
		}
		p = p.Masked()
		if _, ok := ds.members[p]; ok {
			delete(ds.members, p)
			f.touch(ds, d, p, -1)
		}
	}
	for _, p := range added {
		if !p.IsValid() {
			continue
		}
		p = p.Masked()
		if _, ok := ds.members[p]; !ok {
			ds.members[p] = struct{}{}
			f.touch(ds, d, p, 1)
		}
	}
	return nil
}

// touch records a member change; a change of a wider prefix, or any change
// while the set holds one, makes the whole set dirty.
func (f *Filter) touch(ds *desiredSet, d *setDirt, p netip.Prefix, delta int) {
	if !isHost(p) {
		ds.wide += delta
		d.all = true
	}
	if ds.wide > 0 {
		d.all = true
	}
	if !d.all {
		d.touched[p] = struct{}{}
	}
}

// DeleteSet removes a named set. It fails while an endpoint's rule refers
// to it.
func (f *Filter) DeleteSet(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if users := f.refs[name]; len(users) > 0 {
		return fmt.Errorf("set %s is still used by endpoint(s) %s", name, strings.Join(slices.Sorted(maps.Keys(users)), ", "))
	}
	if _, ok := f.sets[name]; !ok {
		return nil
	}
	delete(f.sets, name)
	f.dirtySets[name] = &setDirt{all: true}
	return nil
}

// SetEndpoint adds or replaces an endpoint (by interface). Every set its
// rules refer to must exist (SetSet or UpdateSet first).
func (f *Filter) SetEndpoint(ep Endpoint) error {
	refs, err := validateEndpoint(&ep)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var missing []string
	for s := range refs {
		if _, ok := f.sets[s]; !ok {
			missing = append(missing, s)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return fmt.Errorf("endpoint %s: rules refer to unknown set(s) %s", ep.Interface, strings.Join(missing, ", "))
	}
	f.unref(ep.Interface)
	for s, n := range refs {
		if f.refs[s] == nil {
			f.refs[s] = map[string]int{}
		}
		f.refs[s][ep.Interface] = n
	}
	cp := ep
	f.endpoints[ep.Interface] = &cp
	f.dirtyEndpoints[ep.Interface] = struct{}{}
	return nil
}

// unref drops an endpoint's set references.
func (f *Filter) unref(iface string) {
	old := f.endpoints[iface]
	if old == nil {
		return
	}
	for s, users := range f.refs {
		delete(users, iface)
		if len(users) == 0 {
			delete(f.refs, s)
		}
	}
}

// DeleteEndpoint removes an endpoint's policy: its traffic is no longer
// touched.
func (f *Filter) DeleteEndpoint(iface string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.endpoints[iface]; !ok {
		return
	}
	f.unref(iface)
	delete(f.endpoints, iface)
	f.dirtyEndpoints[iface] = struct{}{}
}

// Apply replaces the whole desired state and commits it.
func (f *Filter) Apply(ctx context.Context, d Desired) (Stats, error) {
	for name := range d.Sets {
		if err := validateSetName(name); err != nil {
			return Stats{}, err
		}
	}
	seen := map[string]bool{}
	for i := range d.Endpoints {
		ep := &d.Endpoints[i]
		refs, err := validateEndpoint(ep)
		if err != nil {
			return Stats{}, err
		}
		if seen[ep.Interface] {
			return Stats{}, fmt.Errorf("endpoint %s given twice", ep.Interface)
		}
		seen[ep.Interface] = true
		for s := range refs {
			if _, ok := d.Sets[s]; !ok {
				return Stats{}, fmt.Errorf("endpoint %s: rules refer to unknown set %s", ep.Interface, s)
			}
		}
	}
	f.mu.Lock()
	for iface := range f.endpoints {
		if !seen[iface] {
			f.unref(iface)
			delete(f.endpoints, iface)
			f.dirtyEndpoints[iface] = struct{}{}
		}
	}
	for name := range f.sets {
		if _, ok := d.Sets[name]; !ok {
			delete(f.sets, name)
			f.dirtySets[name] = &setDirt{all: true}
		}
	}
	f.mu.Unlock()
	for _, name := range slices.Sorted(maps.Keys(d.Sets)) {
		if err := f.SetSet(name, d.Sets[name]); err != nil {
			return Stats{}, err
		}
	}
	for _, ep := range d.Endpoints {
		if err := f.SetEndpoint(ep); err != nil {
			return Stats{}, err
		}
	}
	return f.Commit(ctx)
}

// Commit makes the kernel match the desired state, changing only what the
// calls since the last Commit changed: set elements added and deleted one
// by one, the chains of changed endpoints rewritten, the forward chain
// rewritten when an endpoint gains or loses a direction's policy. After a
// failed call, or on the first, it reads the kernel first (as Resync).
func (f *Filter) Commit(ctx context.Context) (Stats, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.known {
		return f.resyncLocked(ctx)
	}
	st, err := f.sync(ctx, false)
	if err != nil {
		f.known = false
	}
	return st, err
}

// Size is the number of sets and of set elements (an interval counting
// once) in the table as the Filter last read or wrote it; ok is false
// while it does not know the kernel's state (before the first Commit,
// Apply or Resync, and after a failed one).
func (f *Filter) Size() (sets, elements int, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.known {
		return 0, 0, false
	}
	for _, els := range f.kSets {
		sets++
		elements += len(els)
	}
	return sets, elements, true
}

// Resync reads the table back from the kernel and repairs any drift from
// the desired state: missing, extra or altered chains, rules, sets and set
// elements, or a missing table. It returns what it had to change.
func (f *Filter) Resync(ctx context.Context) (Stats, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.resyncLocked(ctx)
}

// resyncLocked is Resync with f.mu held.
func (f *Filter) resyncLocked(ctx context.Context) (Stats, error) {
	if err := f.readKernel(); err != nil {
		f.known = false
		return Stats{}, err
	}
	f.known = true
	st, err := f.sync(ctx, true)
	if err != nil {
		f.known = false
	}
	return st, err
}

// Run resyncs every interval until ctx is done.
func (f *Filter) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			st, err := f.Resync(ctx)
			if err != nil {
				f.log.Error("nftables resync failed", "err", err)
			} else if st.Changed() {
				f.log.Warn("nftables resync repaired drift", "stats", fmt.Sprintf("%+v", st))
			}
			if f.opts.OnResync != nil {
				f.opts.OnResync(st, err)
			}
		}
	}
}

// Teardown deletes the table and everything in it, and forgets the desired
// state.
func (f *Filter) Teardown(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	f.sets = map[string]*desiredSet{}
	f.endpoints = map[string]*Endpoint{}
	f.refs = map[string]map[string]int{}
	f.dirtySets = map[string]*setDirt{}
	f.dirtyEndpoints = map[string]struct{}{}
	f.known = false
	t, err := f.conn.ListTableOfFamily(f.table.Name, f.table.Family)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return fmt.Errorf("looking up table %s: %w", f.table.Name, err)
	}
	f.conn.DelTable(t)
	if err := f.conn.Flush(); err != nil {
		return fmt.Errorf("deleting table %s: %w", f.table.Name, err)
	}
	return nil
}

// readKernel reads our table's sets, elements, chains and rule comments.
func (f *Filter) readKernel() error {
	f.kSets = map[string]map[interval]struct{}{}
	f.kChains = map[string][]string{}
	f.tableExists = false
	if _, err := f.conn.ListTableOfFamily(f.table.Name, f.table.Family); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return fmt.Errorf("looking up table %s: %w", f.table.Name, err)
	}
	f.tableExists = true
	sets, err := f.conn.GetSets(f.table)
	if err != nil {
		return fmt.Errorf("listing sets of %s: %w", f.table.Name, err)
	}
	for _, s := range sets {
		if s.Anonymous {
			continue
		}
		elems, err := f.conn.GetSetElements(s)
		if err != nil {
			return fmt.Errorf("listing elements of set %s: %w", s.Name, err)
		}
		ivs, err := decodeIntervals(elems)
		if err != nil {
			return fmt.Errorf("reading set %s: %w", s.Name, err)
		}
		m := make(map[interval]struct{}, len(ivs))
		for _, iv := range ivs {
			m[iv] = struct{}{}
		}
		f.kSets[s.Name] = m
	}
	chains, err := f.conn.ListChainsOfTableFamily(f.table.Family)
	if err != nil {
		return fmt.Errorf("listing chains: %w", err)
	}
	for _, c := range chains {
		if c.Table.Name != f.table.Name {
			continue
		}
		rules, err := f.conn.GetRules(f.table, c)
		if err != nil {
			return fmt.Errorf("listing rules of chain %s: %w", c.Name, err)
		}
		cs := make([]string, len(rules))
		for i, r := range rules {
			cs[i], _ = userdata.GetString(r.UserData, userdata.TypeComment)
		}
		if c.Name == forwardChain && !isOurForward(c) {
			// A forward chain with another hook or policy is rewritten.
			cs = append(cs, alteredBase)
		}
		f.kChains[c.Name] = cs
	}
	return nil
}

// alteredBase marks a base chain whose hook or policy is not ours.
const alteredBase = "\x00altered"

// isOurForward reports whether a chain has the forward chain's hook and
// policy.
func isOurForward(c *nftables.Chain) bool {
	return c.Hooknum != nil && *c.Hooknum == *nftables.ChainHookForward &&
		c.Priority != nil && *c.Priority == *nftables.ChainPriorityFilter &&
		c.Policy != nil && *c.Policy == nftables.ChainPolicyAccept && c.Type == nftables.ChainTypeFilter
}

// batch accumulates the operations of one transaction and counts them.
type batch struct {
	f     *Filter
	st    Stats
	elems int
	empty bool
}

// flush sends the transaction.
func (b *batch) flush(ctx context.Context) (Stats, error) {
	if b.empty {
		return Stats{}, nil
	}
	if err := ctx.Err(); err != nil {
		return Stats{}, err
	}
	if err := b.f.conn.Flush(); err != nil {
		return Stats{}, fmt.Errorf("nftables transaction on table %s: %w", b.f.table.Name, err)
	}
	b.st.Transactions = 1
	return b.st, nil
}

// sync writes the pending changes (all of them when full) against the
// kernel state in kSets/kChains: first the sets' elements, in
// transactions of bounded size, then in one transaction the endpoint
// chains, the forward chain, and the removal of what is no longer wanted.
func (f *Filter) sync(ctx context.Context, full bool) (Stats, error) {
	r := &syncRun{ctx: ctx, f: f, full: full}
	r.b = r.newBatch()
	if err := r.syncSets(); err != nil {
		return r.total, err
	}
	if err := r.commit(); err != nil {
		return r.total, err
	}
	chains, err := r.syncEndpointChains()
	if err != nil {
		return r.total, err
	}
	r.dropUnwanted(chains)
	if err := r.commit(); err != nil {
		return r.total, err
	}
	clear(f.dirtySets)
	clear(f.dirtyEndpoints)
	return r.total, nil
}

// syncRun is one sync of a Filter: the transaction being built and the
// counts of those sent.
type syncRun struct {
	ctx   context.Context
	f     *Filter
	full  bool   // every set and chain, not only the dirty ones
	b     *batch // the transaction being built
	total Stats  // of the transactions sent
}

// newBatch starts a transaction, which creates the table if it is missing.
func (r *syncRun) newBatch() *batch {
	b := &batch{f: r.f, empty: true}
	if !r.f.tableExists {
		r.f.conn.AddTable(r.f.table)
		b.st.TableCreated = true
		b.empty = false
	}
	return b
}

// commit sends the transaction being built and starts the next.
func (r *syncRun) commit() error {
	st, err := r.b.flush(r.ctx)
	if err != nil {
		return err
	}
	if r.b.st.TableCreated {
		r.f.tableExists = true
	}
	r.total.add(st)
	r.b = r.newBatch()
	return nil
}

// syncSets writes the elements of every dirty set (every set when full);
// a deleted set is removed after the chains that use it.
func (r *syncRun) syncSets() error {
	names := slices.Sorted(maps.Keys(r.f.dirtySets))
	if r.full {
		names = slices.Sorted(maps.Keys(r.f.sets))
	}
	for _, name := range names {
		ds := r.f.sets[name]
		if ds == nil {
			continue
		}
		for _, fam := range []family{ipv4, ipv6} {
			if err := r.syncSet(name, ds, r.f.dirtySets[name], fam); err != nil {
				return err
			}
		}
	}
	return nil
}

// syncSet brings the kernel's set of the fam members of set name to ds,
// creating it if missing; d is what changed in ds since the last sync
// (nil: unknown).
func (r *syncRun) syncSet(name string, ds *desiredSet, d *setDirt, fam family) error {
	nft := setName(name, fam)
	have, exists := r.f.kSets[nft]
	add, del := setChanges(ds, d, have, fam, !exists || r.full || d == nil || d.all)
	set := &nftables.Set{Table: r.f.table, Name: nft, KeyType: fam.keyType, Interval: true,
		Comment: "meshapi set " + name}
	if !exists {
		r.f.nextID++
		set.ID = r.f.nextID
		if err := r.f.conn.AddSet(set, nil); err != nil {
			return fmt.Errorf("set %s: %w", nft, err)
		}
		r.b.st.SetsCreated++
		r.b.empty = false
		have = map[interval]struct{}{}
		r.f.kSets[nft] = have
	}
	sortIntervals(del)
	sortIntervals(add)
	// Deletions first, so that an element replaced by a wider or narrower
	// one never overlaps it.
	if err := r.writeElements(set, have, del, false); err != nil {
		return err
	}
	return r.writeElements(set, have, add, true)
}

// setChanges returns the intervals to add to and delete from have, the
// kernel's elements of a set, for it to hold ds's members of family fam:
// comparing every member when whole, else only the members d touched.
func setChanges(ds *desiredSet, d *setDirt, have map[interval]struct{}, fam family, whole bool) (add, del []interval) {
	if whole {
		want := topLevel(ofFamily(slices.Collect(maps.Keys(ds.members)), fam))
		wantSet := make(map[interval]struct{}, len(want))
		for _, iv := range want {
			wantSet[iv] = struct{}{}
			if _, ok := have[iv]; !ok {
				add = append(add, iv)
			}
		}
		for iv := range have {
			if _, ok := wantSet[iv]; !ok {
				del = append(del, iv)
			}
		}
		return add, del
	}
	for p := range d.touched {
		if (fam.version == 4) != p.Addr().Is4() {
			continue
		}
		iv := prefixInterval(p)
		_, is := ds.members[p]
		_, was := have[iv]
		switch {
		case is && !was:
			add = append(add, iv)
		case was && !is:
			del = append(del, iv)
		}
	}
	return add, del
}

// writeElements adds ivs to set (deletes them when !add) and records that
// in have, the kernel's elements of set, committing the transaction
// whenever it holds MaxElementsPerTransaction elements.
func (r *syncRun) writeElements(set *nftables.Set, have map[interval]struct{}, ivs []interval, add bool) error {
	for len(ivs) > 0 {
		n := min(len(ivs), r.f.opts.MaxElementsPerTransaction-r.b.elems)
		if n <= 0 {
			if err := r.commit(); err != nil {
				return err
			}
			continue
		}
		part := ivs[:n]
		ivs = ivs[n:]
		// One message per elementsPerMessage intervals: a message's
		// element list is one netlink attribute, whose length must fit in
		// 16 bits.
		for m := part; len(m) > 0; {
			k := min(len(m), elementsPerMessage)
			var err error
			if add {
				err = r.f.conn.SetAddElements(set, intervalElements(m[:k]))
			} else {
				err = r.f.conn.SetDeleteElements(set, intervalElements(m[:k]))
			}
			if err != nil {
				return fmt.Errorf("set %s: %w", set.Name, err)
			}
			m = m[k:]
		}
		for _, iv := range part {
			if add {
				have[iv] = struct{}{}
			} else {
				delete(have, iv)
			}
		}
		if add {
			r.b.st.ElementsAdded += n
		} else {
			r.b.st.ElementsDeleted += n
		}
		r.b.elems += n
		r.b.empty = false
	}
	return nil
}

// syncEndpointChains writes every endpoint chain that is missing or
// differs (of dirty endpoints; of all when full), then the forward chain,
// and returns the names of all the chains wanted.
func (r *syncRun) syncEndpointChains() (map[string]bool, error) {
	want := map[string]bool{forwardChain: true}
	ifaces := slices.Sorted(maps.Keys(r.f.endpoints))
	eps := make([]*Endpoint, 0, len(ifaces))
	for _, iface := range ifaces {
		ep := r.f.endpoints[iface]
		eps = append(eps, ep)
		chains := endpointChains(ep)
		for name := range chains {
			want[name] = true
		}
		if _, dirty := r.f.dirtyEndpoints[iface]; !dirty && !r.full {
			continue
		}
		if err := r.writeEndpointChains(chains); err != nil {
			return nil, err
		}
	}
	return want, r.writeChain(forwardChain, forwardRules(eps), true)
}

// writeEndpointChains writes the chains of one endpoint: every one is
// created first, as tier chains go to one another, then the tier chains
// are written before the direction chains that go to them.
func (r *syncRun) writeEndpointChains(chains map[string][]ruleSpec) error {
	names := slices.Sorted(maps.Keys(chains))
	for _, name := range names {
		if _, ok := r.f.kChains[name]; !ok {
			r.f.conn.AddChain(&nftables.Chain{Name: name, Table: r.f.table})
			r.f.kChains[name] = nil
			r.b.empty = false
		}
	}
	sort.SliceStable(names, func(i, j int) bool { return strings.Count(names[i], "/") > strings.Count(names[j], "/") })
	for _, name := range names {
		if err := r.writeChain(name, chains[name], false); err != nil {
			return err
		}
	}
	return nil
}

// writeChain writes chain name with rules, if it differs from the
// kernel's, counting it in the transaction.
func (r *syncRun) writeChain(name string, rules []ruleSpec, base bool) error {
	wrote, err := r.f.writeChain(name, rules, base)
	if err != nil {
		return err
	}
	if wrote {
		r.b.st.ChainsWritten++
		r.b.empty = false
	}
	return nil
}

// dropUnwanted removes the chains not in want, and then the sets no longer
// wanted, which no chain uses any more.
func (r *syncRun) dropUnwanted(want map[string]bool) {
	var drop []string
	for name := range r.f.kChains {
		if !want[name] {
			drop = append(drop, name)
		}
	}
	slices.Sort(drop)
	for _, name := range drop {
		r.f.conn.FlushChain(&nftables.Chain{Name: name, Table: r.f.table})
	}
	for _, name := range drop {
		r.f.conn.DelChain(&nftables.Chain{Name: name, Table: r.f.table})
		delete(r.f.kChains, name)
		r.b.st.ChainsDeleted++
		r.b.empty = false
	}
	wantSets := map[string]bool{}
	for name := range r.f.sets {
		wantSets[setName(name, ipv4)] = true
		wantSets[setName(name, ipv6)] = true
	}
	for _, nft := range slices.Sorted(maps.Keys(r.f.kSets)) {
		if !wantSets[nft] {
			r.f.conn.DelSet(&nftables.Set{Table: r.f.table, Name: nft})
			delete(r.f.kSets, nft)
			r.b.st.SetsDeleted++
			r.b.empty = false
		}
	}
}

// writeChain queues a rewrite of a chain (flush and add its rules) if its
// rules differ from what the kernel holds, and reports whether it did. A
// base chain whose hook or policy was altered is deleted and re-created.
func (f *Filter) writeChain(name string, rules []ruleSpec, base bool) (bool, error) {
	cs := comments(rules)
	have, exists := f.kChains[name]
	if exists && sameComments(have, cs) {
		return false, nil
	}
	chain := &nftables.Chain{Name: name, Table: f.table}
	if base {
		if exists && slices.Contains(have, alteredBase) {
			f.conn.FlushChain(chain)
			f.conn.DelChain(chain)
			exists = false
		}
		policy := nftables.ChainPolicyAccept
		chain = &nftables.Chain{Name: name, Table: f.table, Type: nftables.ChainTypeFilter,
			Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &policy}
		f.conn.AddChain(chain)
	}
	if exists {
		f.conn.FlushChain(chain)
	}
	for _, r := range rules {
		for _, a := range r.anon {
			f.nextID++
			s := &nftables.Set{Table: f.table, Name: "__set%d", ID: f.nextID, Anonymous: true, Constant: true,
				Interval: true, KeyType: a.keyType}
			a.lookup.SetName, a.lookup.SetID = s.Name, s.ID
			if err := f.conn.AddSet(s, a.elems); err != nil {
				return false, fmt.Errorf("chain %s: constant set: %w", name, err)
			}
		}
		f.conn.AddRule(&nftables.Rule{Table: f.table, Chain: chain, Exprs: r.exprs,
			UserData: userdata.AppendString(nil, userdata.TypeComment, r.comment)})
	}
	f.kChains[name] = cs
	return true, nil
}

// sortIntervals sorts intervals by start.
func sortIntervals(ivs []interval) {
	slices.SortFunc(ivs, func(a, b interval) int { return a.from.Compare(b.from) })
}
