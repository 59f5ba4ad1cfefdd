package policyfilter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"sync"
	"time"

	"k8s.io/client-go/tools/cache"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/dataplane/filter"
	"github.com/meshapi/meshapi/pkg/policy"
)

// Config configures a Syncer.
type Config struct {
	// NodeName is this node's name: the local WorkloadEndpoints with
	// spec.node equal to it are enforced.
	NodeName string
	// Filter is programmed by the Syncer.
	Filter *filter.Filter
	// Logger receives the Syncer's logs; slog.Default() when nil.
	Logger *slog.Logger
}

// Syncer feeds a policy.State with the projectcalico.org/v3 objects an
// informer sees and keeps a filter.Filter in line with it, incrementally.
// Its methods are safe for concurrent use.
type Syncer struct {
	cfg   Config
	log   *slog.Logger
	kick  chan struct{}
	mu    sync.Mutex
	state *policy.State

	// ifaces maps the key of each local endpoint of this node that has an
	// interface to that interface; written maps the keys whose endpoint
	// the filter currently holds to the interface it holds it under.
	ifaces  map[string]string
	written map[string]string

	pending changes
}

// changes are the State's changes not yet handed to the filter.
type changes struct {
	created   map[string]struct{}              // sets to (re)create with their members
	deltas    map[string]map[netip.Prefix]bool // set -> address -> added (true) or removed
	removed   map[string]struct{}              // sets to delete
	endpoints map[string]struct{}              // endpoint keys to recompute
}

// New returns a Syncer.
func New(cfg Config) (*Syncer, error) {
	if cfg.Filter == nil {
		return nil, errors.New("policyfilter: no filter")
	}
	if cfg.NodeName == "" {
		return nil, errors.New("policyfilter: no node name")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	s := &Syncer{
		cfg:     cfg,
		log:     log,
		kick:    make(chan struct{}, 1),
		ifaces:  map[string]string{},
		written: map[string]string{},
	}
	s.reset()
	s.state = policy.NewState(policy.Callbacks{
		SetAdded: func(id string) {
			delete(s.pending.removed, id)
			delete(s.pending.deltas, id)
			s.pending.created[id] = struct{}{}
		},
		SetChanged: func(id string, added, removed []netip.Prefix) {
			if _, ok := s.pending.created[id]; ok {
				return // created with its members at Sync time
			}
			d := s.pending.deltas[id]
			if d == nil {
				d = map[netip.Prefix]bool{}
				s.pending.deltas[id] = d
			}
			for _, p := range removed {
				d[p] = false
			}
			for _, p := range added {
				d[p] = true
			}
		},
		PoliciesChanged: func(keys []string) {
			for _, k := range keys {
				s.pending.endpoints[k] = struct{}{}
			}
		},
		SetRemoved: func(id string) {
			delete(s.pending.created, id)
			delete(s.pending.deltas, id)
			s.pending.removed[id] = struct{}{}
		},
	})
	return s, nil
}

// reset forgets the pending changes.
func (s *Syncer) reset() {
	s.pending = changes{
		created:   map[string]struct{}{},
		deltas:    map[string]map[netip.Prefix]bool{},
		removed:   map[string]struct{}{},
		endpoints: map[string]struct{}{},
	}
}

// Handler returns the informer event handler for WorkloadEndpoints,
// HostEndpoints, Profiles, Tiers, NetworkPolicies and
// GlobalNetworkPolicies: it updates the State and wakes Run.
func (s *Syncer) Handler() cache.ResourceEventHandler {
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { s.Upsert(obj) },
		UpdateFunc: func(_, obj any) { s.Upsert(obj) },
		DeleteFunc: func(obj any) { s.Delete(obj) },
	}
}

// Upsert records an added or changed object of one of the kinds Handler
// handles; other objects are ignored.
func (s *Syncer) Upsert(obj any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch o := obj.(type) {
	case *v3.WorkloadEndpoint:
		ep := policy.EndpointFromWorkloadEndpoint(o)
		s.state.UpsertEndpoint(ep)
		s.trackInterface(ep.Key, ep.Cluster == "" && o.Spec.Node == s.cfg.NodeName, o.Spec.InterfaceName)
	case *v3.HostEndpoint:
		s.state.UpsertEndpoint(policy.EndpointFromHostEndpoint(o))
	case *v3.Profile:
		s.state.UpsertProfile(policy.ProfileFromV3(o))
	case *v3.Tier:
		s.state.UpsertTier(policy.TierFromV3(o))
	case *v3.NetworkPolicy:
		if err := s.state.UpsertPolicy(policy.PolicyFromNetworkPolicy(o)); err != nil {
			s.log.Error("network policy not applied", "policy", o.Namespace+"/"+o.Name, "err", err)
		}
	case *v3.GlobalNetworkPolicy:
		if err := s.state.UpsertPolicy(policy.PolicyFromGlobalNetworkPolicy(o)); err != nil {
			s.log.Error("global network policy not applied", "policy", o.Name, "err", err)
		}
	default:
		return
	}
	s.poke()
}

// Delete records a deleted object (or its tombstone).
func (s *Syncer) Delete(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch o := obj.(type) {
	case *v3.WorkloadEndpoint:
		key := o.Namespace + "/" + o.Name
		s.state.DeleteEndpoint(key)
		s.trackInterface(key, false, "")
	case *v3.HostEndpoint:
		s.state.DeleteEndpoint(policy.HostEndpointKeyPrefix + o.Name)
	case *v3.Profile:
		s.state.DeleteProfile(o.Name)
	case *v3.Tier:
		s.state.DeleteTier(o.Name)
	case *v3.NetworkPolicy:
		s.state.DeletePolicy(o.Namespace + "/" + o.Name)
	case *v3.GlobalNetworkPolicy:
		s.state.DeletePolicy(o.Name)
	default:
		return
	}
	s.poke()
}

// trackInterface records whether an endpoint is enforced here and under
// which interface, marking it for recomputation when that changed.
func (s *Syncer) trackInterface(key string, local bool, iface string) {
	if !local || iface == "" {
		if _, ok := s.ifaces[key]; ok {
			delete(s.ifaces, key)
			s.pending.endpoints[key] = struct{}{}
		}
		return
	}
	if s.ifaces[key] != iface {
		s.ifaces[key] = iface
		s.pending.endpoints[key] = struct{}{}
	}
}

// poke wakes Run.
func (s *Syncer) poke() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Sync hands the pending changes to the filter and commits them: set
// creations and member changes, the endpoints whose policies changed, then
// set deletions. Errors about single endpoints (rules left out) are
// returned joined after everything else was written.
func (s *Syncer) Sync(ctx context.Context) (filter.Stats, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	errs := s.handOver()
	st, err := s.cfg.Filter.Commit(ctx)
	if err != nil {
		errs = append(errs, fmt.Errorf("policyfilter: %w", err))
	}
	return st, errors.Join(errs...)
}

// handOver passes the pending changes to the filter (in memory) and
// forgets them.
func (s *Syncer) handOver() []error {
	f := s.cfg.Filter
	var errs []error
	for _, id := range slices.Sorted(maps.Keys(s.pending.created)) {
		if err := f.SetSet(id, s.state.SetMembers(id)); err != nil {
			errs = append(errs, fmt.Errorf("set %s: %w", id, err))
		}
	}
	for _, id := range slices.Sorted(maps.Keys(s.pending.deltas)) {
		var added, removed []netip.Prefix
		for p, in := range s.pending.deltas[id] {
			if in {
				added = append(added, p)
			} else {
				removed = append(removed, p)
			}
		}
		if err := f.UpdateSet(id, added, removed); err != nil {
			errs = append(errs, fmt.Errorf("set %s: %w", id, err))
		}
	}
	for _, key := range slices.Sorted(maps.Keys(s.pending.endpoints)) {
		old, had := s.written[key]
		iface, local := s.ifaces[key]
		var ep filter.Endpoint
		ok := false
		if local {
			var err error
			ep, ok, err = Endpoint(iface, s.state.PoliciesFor(key))
			if err != nil {
				errs = append(errs, err)
			}
		}
		if had && (!ok || old != iface) {
			f.DeleteEndpoint(old)
			delete(s.written, key)
		}
		if ok {
			if err := f.SetEndpoint(ep); err != nil {
				errs = append(errs, fmt.Errorf("endpoint %s: %w", key, err))
				continue
			}
			s.written[key] = iface
		}
	}
	for _, id := range slices.Sorted(maps.Keys(s.pending.removed)) {
		if err := f.DeleteSet(id); err != nil {
			errs = append(errs, fmt.Errorf("set %s: %w", id, err))
		}
	}
	s.reset()
	return errs
}

// Run syncs after every change Handler reports, and resyncs the filter
// (repairing drift) every resyncPeriod, until ctx is done. Failed syncs
// are logged and retried on the next change or resync.
func (s *Syncer) Run(ctx context.Context, resyncPeriod time.Duration) {
	t := time.NewTicker(resyncPeriod)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.kick:
			if st, err := s.Sync(ctx); err != nil {
				s.log.Error("policy sync", "err", err)
			} else if st.Changed() {
				s.log.Debug("policy synced", "stats", fmt.Sprintf("%+v", st))
			}
		case <-t.C:
			if st, err := s.cfg.Filter.Resync(ctx); err != nil {
				s.log.Error("policy resync", "err", err)
			} else if st.Changed() {
				s.log.Warn("policy resync repaired drift", "stats", fmt.Sprintf("%+v", st))
			}
		}
	}
}
