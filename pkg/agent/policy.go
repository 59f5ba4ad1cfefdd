package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"k8s.io/client-go/tools/cache"

	"github.com/meshapi/meshapi/pkg/agent/policyfilter"
	"github.com/meshapi/meshapi/pkg/dataplane/filter"
	informers "github.com/meshapi/meshapi/pkg/generated/informers/externalversions/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/runloop"
)

// PolicyConfig turns on network policy enforcement (pkg/agent/policyfilter
// and pkg/dataplane/filter).
type PolicyConfig struct {
	// Filter is the nftables filter of the namespace the agent programs,
	// created with the default table name.
	Filter *filter.Filter
}

// policyEnforcer feeds a policyfilter.Syncer from the agent's informers and
// commits its changes to the filter.
type policyEnforcer struct {
	cfg     PolicyConfig
	syncer  *policyfilter.Syncer
	metrics *Metrics
	log     *slog.Logger
	resync  time.Duration
	kick    runloop.Kicker

	// Set by run: whether a sync succeeded yet.
	mu     sync.Mutex
	synced bool
}

func newPolicyEnforcer(cfg PolicyConfig, nodeName string, m *Metrics, log *slog.Logger, resync time.Duration) (*policyEnforcer, error) {
	s, err := policyfilter.New(policyfilter.Config{NodeName: nodeName, Filter: cfg.Filter, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	return &policyEnforcer{cfg: cfg, syncer: s, metrics: m, log: log, resync: resync, kick: runloop.NewKicker()}, nil
}

// policyInformers are the informers of the Syncer's kinds, in the order the
// Syncer must learn of their objects when it starts: policy first, then
// endpoints. pkg/policy evaluates a new rule selector against every
// endpoint it knows, but a new endpoint only against the selectors'
// candidates, so 100,000 endpoints followed by 1,000 policies is much
// slower than the other way round.
func policyInformers(pc informers.Interface) [][]cache.SharedIndexInformer {
	return [][]cache.SharedIndexInformer{
		{pc.Tiers().Informer(), pc.Profiles().Informer(), pc.NetworkPolicies().Informer(), pc.GlobalNetworkPolicies().Informer()},
		{pc.HostEndpoints().Informer(), pc.WorkloadEndpoints().Informer()},
	}
}

// handler updates the Syncer and wakes run.
func (p *policyEnforcer) handler() cache.ResourceEventHandler {
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { p.syncer.Upsert(obj); p.kick.Kick() },
		UpdateFunc: func(_, obj any) { p.syncer.Upsert(obj); p.kick.Kick() },
		DeleteFunc: func(obj any) { p.syncer.Delete(obj); p.kick.Kick() },
	}
}

// feedInOrder adds h to the informers of each stage in turn (the informers
// have synced): a handler added to a running informer first receives every
// object it holds, and the next stage starts once this stage's handlers
// have received them all.
func feedInOrder(ctx context.Context, h cache.ResourceEventHandler, stages ...[]cache.SharedIndexInformer) error {
	for _, stage := range stages {
		var synced []cache.InformerSynced
		for _, inf := range stage {
			reg, err := inf.AddEventHandler(h)
			if err != nil {
				return fmt.Errorf("adding the policy event handler: %w", err)
			}
			synced = append(synced, reg.HasSynced)
		}
		if !cache.WaitForCacheSync(ctx.Done(), synced...) {
			return fmt.Errorf("feeding the policy state: %w", context.Cause(ctx))
		}
	}
	return nil
}

// ready returns nil once the policy was committed to the filter.
func (p *policyEnforcer) ready() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.synced {
		return errors.New("network policy has not been programmed yet")
	}
	return nil
}

// run commits the Syncer's changes whenever the informers report some,
// retrying with backoff after a failure, and resyncs the filter every
// resync period, until ctx ends.
func (p *policyEnforcer) run(ctx context.Context) {
	l := &runloop.Loop{
		Pass: p.sync,
		// Pending changes were handed to the filter, which keeps them and
		// reads the kernel again on the next commit.
		OnError: func(err error, in time.Duration) {
			p.log.Error("programming network policy failed; retrying", "err", err, "in", in)
		},
		Tasks: []runloop.Task{{Every: p.resync, Do: p.resyncFilter}},
	}
	l.Run(ctx, p.kick)
}

// sync commits the Syncer's changes to the filter and records the outcome.
func (p *policyEnforcer) sync(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	st, err := p.syncer.Sync(ctx)
	if ctx.Err() != nil {
		return 0, ctx.Err()
	}
	p.committed(st, time.Since(start), err)
	if err == nil && st.Changed() {
		p.log.Info("programmed network policy", "stats", fmt.Sprintf("%+v", st))
	}
	return 0, err
}

// committed records a sync's outcome in the metrics.
func (p *policyEnforcer) committed(st filter.Stats, took time.Duration, err error) {
	p.mu.Lock()
	p.synced = p.synced || err == nil
	p.mu.Unlock()
	p.publishSize()
	m := p.metrics
	if m == nil {
		return
	}
	m.ApplyDuration.WithLabelValues("policy").Observe(took.Seconds())
	m.Changes.WithLabelValues("policy").Add(float64(changes(st)))
	if err != nil {
		m.Errors.WithLabelValues("policy").Inc()
	}
}

// resyncFilter repairs drift in the filter's table and reads its size.
func (p *policyEnforcer) resyncFilter(ctx context.Context) {
	st, err := p.cfg.Filter.Resync(ctx)
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		p.log.Error("network policy resync failed", "err", err)
		if p.metrics != nil {
			p.metrics.Errors.WithLabelValues("resync").Inc()
		}
	} else if st.Changed() {
		p.log.Warn("network policy resync repaired drift", "stats", fmt.Sprintf("%+v", st))
	}
	if p.metrics != nil {
		p.metrics.DriftRepairs.WithLabelValues("policy").Add(float64(changes(st)))
	}
	p.publishSize()
}

// changes counts the kernel objects a filter call changed.
func changes(st filter.Stats) int {
	return st.SetsCreated + st.SetsDeleted + st.ElementsAdded + st.ElementsDeleted + st.ChainsWritten + st.ChainsDeleted
}

// publishSize sets the size metrics from the filter's own account of the
// table, which every commit and resync keeps: no extra kernel read.
func (p *policyEnforcer) publishSize() {
	sets, elements, ok := p.cfg.Filter.Size()
	if m := p.metrics; m != nil && ok {
		m.PolicySets.Set(float64(sets))
		m.PolicySetElements.Set(float64(elements))
	}
}

// teardownPolicy deletes the filter's table in the namespace netNS (0: our
// own), left by an agent that enforced policy, when enforcement is off.
func teardownPolicy(ctx context.Context, netNS int, log *slog.Logger) error {
	f, err := filter.New(filter.Options{NetNS: netNS, Logger: log})
	if err != nil {
		return fmt.Errorf("opening the policy filter to remove it: %w", err)
	}
	defer f.Close()
	if err := f.Teardown(ctx); err != nil {
		return fmt.Errorf("removing the policy table: %w", err)
	}
	return nil
}
