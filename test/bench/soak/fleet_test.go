package soak

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strconv"
	"sync/atomic"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

// seqLabel carries the sequence number of the last event written to an
// endpoint; the mirrors carry it too, which is how a watch in another
// cluster tells which event it sees.
const seqLabel = "soak-seq"

// appLabel is the label the relabel events change.
const appLabel = "app"

// opKind is a kind of churn event.
type opKind int

const (
	opCreate opKind = iota
	opRelabel
	opReaddress
	opDelete
	opKinds
)

// String names the kind.
func (k opKind) String() string {
	return [...]string{"create", "relabel", "readdress", "delete"}[k]
}

// namespace is the namespace of endpoint id.
func namespace(id int) string { return fmt.Sprintf("soak-%02d", id%namespaces) }

// slotAddr returns the address of slot s of pool: its s-th address.
func slotAddr(pool netip.Prefix, s int) netip.Addr {
	a := pool.Masked().Addr().As4()
	off := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3]) + uint32(s)
	return netip.AddrFrom4([4]byte{byte(off >> 24), byte(off >> 16), byte(off >> 8), byte(off)})
}

// poolSlots is how many addresses pool has.
func poolSlots(pool netip.Prefix) int { return 1 << (32 - pool.Bits()) }

// shard is the endpoints one churn worker of one cluster owns: the
// workers of a cluster never write the same endpoint nor hand out the
// same address. It does no I/O: the worker plans an event, writes it,
// and commits or aborts it here.
type shard struct {
	pool netip.Prefix
	// index and of: this is worker index of of; it owns the pool's slots
	// s with s%of == index (slot 0, the pool's first address, unused).
	index, of int
	// live are the endpoints as last written (with their resourceVersion).
	live []*v3.WorkloadEndpoint
	// slots are the slot of each live endpoint, by name.
	slots map[string]int
	// free are the shard's free slots, the one freed longest ago first.
	free   []int
	nextID int
	// events counts the planned events; it picks the next kind.
	events int
	rng    *rand.Rand
	seq    *atomic.Uint64
}

// newShard returns worker index of of's shard of pool, with no endpoint;
// seq numbers the events of every shard.
func newShard(pool netip.Prefix, index, of int, seq *atomic.Uint64) *shard {
	s := &shard{pool: pool, index: index, of: of, slots: map[string]int{}, seq: seq,
		rng: rand.New(rand.NewPCG(uint64(index), uint64(pool.Addr().As4()[1])))}
	for slot := 1; slot < poolSlots(pool); slot++ {
		if slot%of == index {
			s.free = append(s.free, slot)
		}
	}
	return s
}

// take takes the free slot freed longest ago, as Calico's IPAM block
// hands out its unallocated ordinals (released ones go to the back).
func (s *shard) take() int {
	slot := s.free[0]
	s.free = s.free[1:]
	return slot
}

// newEndpoint returns a new endpoint on a free slot with the next
// sequence number, taking the slot; ok is false if the shard has none.
func (s *shard) newEndpoint() (ep *v3.WorkloadEndpoint, ok bool) {
	if len(s.free) == 0 {
		return nil, false
	}
	slot := s.take()
	id := s.nextID*s.of + s.index
	s.nextID++
	name := fmt.Sprintf("ep-%07d", id)
	ns := namespace(id)
	s.slots[name] = slot
	return &v3.WorkloadEndpoint{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{
			appLabel: strconv.Itoa(id % 10), seqLabel: strconv.FormatUint(s.seq.Add(1), 10)}},
		Spec: v3.WorkloadEndpointSpec{
			Orchestrator:  "k8s",
			Workload:      name,
			Pod:           name,
			Node:          fmt.Sprintf("host-%d", id%100),
			Endpoint:      "eth0",
			IPNetworks:    []string{netip.PrefixFrom(slotAddr(s.pool, slot), 32).String()},
			InterfaceName: fmt.Sprintf("cali%011x", id),
			Profiles:      []string{"kns." + ns},
		},
	}, true
}

// event is a planned churn event.
type event struct {
	kind opKind
	// obj is what to write: the new or updated endpoint, or the one to
	// delete.
	obj *v3.WorkloadEndpoint
	// seq is the sequence number the mirrors will show: obj's label (for
	// a delete, the last one written).
	seq uint64
	// at is obj's index in live (relabel, readdress, delete).
	at int
	// slot is the new slot of a readdress.
	slot int
}

// next plans the next event: the kinds in turn (create, relabel,
// readdress, delete), so that the count stays steady; a create when the
// shard has no endpoint, and a relabel when it has no free slot.
func (s *shard) next() event {
	kind := opKind(s.events % int(opKinds))
	s.events++
	if len(s.live) == 0 {
		kind = opCreate
	}
	if len(s.free) == 0 && (kind == opCreate || kind == opReaddress) {
		kind = opRelabel
	}
	if kind == opCreate {
		ep, _ := s.newEndpoint()
		return event{kind: kind, obj: ep, seq: mustSeq(ep)}
	}
	at := s.rng.IntN(len(s.live))
	cur := s.live[at]
	if kind == opDelete {
		return event{kind: kind, obj: cur, seq: mustSeq(cur), at: at}
	}
	ep := cur.DeepCopy()
	seq := s.seq.Add(1)
	ep.Labels[seqLabel] = strconv.FormatUint(seq, 10)
	ev := event{kind: kind, obj: ep, seq: seq, at: at}
	switch kind {
	case opRelabel:
		n, _ := strconv.Atoi(ep.Labels[appLabel])
		ep.Labels[appLabel] = strconv.Itoa((n + 1) % 10)
	case opReaddress:
		ev.slot = s.take()
		ep.Spec.IPNetworks = []string{netip.PrefixFrom(slotAddr(s.pool, ev.slot), 32).String()}
	}
	return ev
}

// commit records a written event; stored is what the API server returned
// (nil for a delete).
func (s *shard) commit(ev event, stored *v3.WorkloadEndpoint) {
	switch ev.kind {
	case opCreate:
		s.live = append(s.live, stored)
	case opRelabel:
		s.live[ev.at] = stored
	case opReaddress:
		s.free = append(s.free, s.slots[stored.Name])
		s.slots[stored.Name] = ev.slot
		s.live[ev.at] = stored
	case opDelete:
		s.free = append(s.free, s.slots[ev.obj.Name])
		delete(s.slots, ev.obj.Name)
		s.live = slices.Delete(s.live, ev.at, ev.at+1)
	}
}

// abort gives back what a failed event took. now is the endpoint as the
// API server has it after the failure (nil if it does not exist), so
// that the shard follows the truth whatever part of the write happened.
func (s *shard) abort(ev event, now *v3.WorkloadEndpoint) {
	name := ev.obj.Name
	switch ev.kind {
	case opCreate:
		if now != nil {
			s.live = append(s.live, now)
			return
		}
		s.free = append(s.free, s.slots[name])
		delete(s.slots, name)
	case opReaddress:
		if now != nil && slices.Equal(now.Spec.IPNetworks, ev.obj.Spec.IPNetworks) {
			s.commit(ev, now)
			return
		}
		s.free = append(s.free, ev.slot)
		s.follow(ev, now)
	default:
		s.follow(ev, now)
	}
}

// follow replaces live[ev.at] by now, or forgets it if now is nil.
func (s *shard) follow(ev event, now *v3.WorkloadEndpoint) {
	if now == nil {
		s.free = append(s.free, s.slots[ev.obj.Name])
		delete(s.slots, ev.obj.Name)
		s.live = slices.Delete(s.live, ev.at, ev.at+1)
		return
	}
	s.live[ev.at] = now
}

// mustSeq returns ep's sequence number (every endpoint of the benchmark
// has one).
func mustSeq(ep *v3.WorkloadEndpoint) uint64 {
	n, _ := strconv.ParseUint(ep.Labels[seqLabel], 10, 64)
	return n
}
