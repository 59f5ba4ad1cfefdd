package framework

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/generated/clientset/versioned"
)

// ChurnConfig describes the WorkloadEndpoints a Churn changes.
type ChurnConfig struct {
	// Client is the typed client of the cluster whose endpoints churn.
	Client versioned.Interface
	// Namespace holds the endpoints.
	Namespace string
	// Node is the endpoints' spec.node.
	Node string
	// Addresses is where the endpoints' addresses come from: every second
	// address of it (so no two are adjacent), two per name, one /32 at a
	// time per endpoint.
	Addresses netip.Prefix
	// Names is how many endpoint names the churn cycles through
	// ("churn-0" ... ); at most a quarter of the addresses of Addresses.
	Names int
	// Rate is the number of operations per second.
	Rate int
	// Labels are every endpoint's labels, beside "gen", which updates
	// change.
	Labels map[string]string
}

// Churn creates, updates (labels and address) and deletes
// WorkloadEndpoints at a steady rate, in workers that each own a share of
// the names, so that the operations on one endpoint are never concurrent.
// It keeps no truth of its own: a checker reads the cluster.
type Churn struct {
	cfg    ChurnConfig
	cancel context.CancelFunc
	wg     sync.WaitGroup
	ops    atomic.Int64
	errs   atomic.Int64
	// live[i] is whether "churn-<i>" exists, as far as its worker knows.
	live []atomic.Bool
	last atomic.Value // string: the last error
}

// churnWorkers is the number of workers of a Churn.
const churnWorkers = 8

// StartChurn starts the churn; Stop ends it.
func StartChurn(ctx context.Context, cfg ChurnConfig) (*Churn, error) {
	if cfg.Names <= 0 || cfg.Rate <= 0 || 4*cfg.Names > 1<<(cfg.Addresses.Addr().BitLen()-cfg.Addresses.Bits()) {
		return nil, fmt.Errorf("churn: %d names at %d/s do not fit the addresses %s (four per name)", cfg.Names, cfg.Rate, cfg.Addresses)
	}
	ctx, cancel := context.WithCancel(ctx)
	c := &Churn{cfg: cfg, cancel: cancel, live: make([]atomic.Bool, cfg.Names)}
	c.last.Store("")
	for w := range churnWorkers {
		c.wg.Add(1)
		go c.work(ctx, w)
	}
	return c, nil
}

// work runs worker w: every churnWorkers/Rate seconds one operation on a
// random name of its share.
func (c *Churn) work(ctx context.Context, w int) {
	defer c.wg.Done()
	period := time.Duration(float64(time.Second) * churnWorkers / float64(c.cfg.Rate))
	tick := time.NewTicker(period)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		i := w + churnWorkers*rand.IntN((c.cfg.Names-w+churnWorkers-1)/churnWorkers)
		if err := c.step(ctx, i); err != nil && ctx.Err() == nil {
			c.errs.Add(1)
			c.last.Store(err.Error())
		}
		c.ops.Add(1)
	}
}

// step creates endpoint i if it does not exist, else updates or deletes it.
func (c *Churn) step(ctx context.Context, i int) error {
	weps := c.cfg.Client.ProjectcalicoV3().WorkloadEndpoints(c.cfg.Namespace)
	name := c.name(i)
	opCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if !c.live[i].Load() {
		_, err := weps.Create(opCtx, c.endpoint(i), metav1.CreateOptions{})
		if err == nil || apierrors.IsAlreadyExists(err) {
			c.live[i].Store(true)
			return nil
		}
		return fmt.Errorf("creating WorkloadEndpoint %s: %w", name, err)
	}
	if rand.IntN(2) == 0 {
		err := weps.Delete(opCtx, name, metav1.DeleteOptions{})
		if err == nil || apierrors.IsNotFound(err) {
			c.live[i].Store(false)
			return nil
		}
		return fmt.Errorf("deleting WorkloadEndpoint %s: %w", name, err)
	}
	cur, err := weps.Get(opCtx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		c.live[i].Store(false)
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading WorkloadEndpoint %s: %w", name, err)
	}
	upd := c.endpoint(i)
	cur.Labels, cur.Spec.IPNetworks = upd.Labels, upd.Spec.IPNetworks
	if _, err := weps.Update(opCtx, cur, metav1.UpdateOptions{}); err != nil && !apierrors.IsConflict(err) {
		return fmt.Errorf("updating WorkloadEndpoint %s: %w", name, err)
	}
	return nil
}

// name is the name of endpoint i.
func (c *Churn) name(i int) string { return "churn-" + strconv.Itoa(i) }

// endpoint is a new version of endpoint i: a fresh "gen" label and one of
// its two addresses, chosen at random.
func (c *Churn) endpoint(i int) *v3.WorkloadEndpoint {
	labels := map[string]string{"gen": strconv.FormatInt(time.Now().UnixNano(), 36)}
	for k, v := range c.cfg.Labels {
		labels[k] = v
	}
	return &v3.WorkloadEndpoint{
		ObjectMeta: metav1.ObjectMeta{Name: c.name(i), Namespace: c.cfg.Namespace, Labels: labels},
		Spec: v3.WorkloadEndpointSpec{Node: c.cfg.Node, Pod: c.name(i), Endpoint: "eth0",
			IPNetworks: []string{c.address(i, rand.IntN(2)).String() + "/32"}},
	}
}

// address is endpoint i's address number k (0 or 1): every second address
// of the range, so that no two endpoints' addresses are adjacent.
func (c *Churn) address(i, k int) netip.Addr {
	a := c.cfg.Addresses.Masked().Addr()
	for range 2 * (i + k*c.cfg.Names) {
		a = a.Next()
	}
	return a
}

// ChurnStats are what a Churn did.
type ChurnStats struct {
	// Ops is the number of operations attempted, Errors of those that
	// failed (an API server down, a timeout).
	Ops, Errors int64
	// LastError is the last failure.
	LastError string
}

// Stats returns the counts so far.
func (c *Churn) Stats() ChurnStats {
	return ChurnStats{Ops: c.ops.Load(), Errors: c.errs.Load(), LastError: c.last.Load().(string)}
}

// Stop ends the churn and waits for its workers.
func (c *Churn) Stop() ChurnStats {
	c.cancel()
	c.wg.Wait()
	return c.Stats()
}

// DeleteAll deletes every endpoint the churn may have created.
func (c *Churn) DeleteAll(ctx context.Context) error {
	weps := c.cfg.Client.ProjectcalicoV3().WorkloadEndpoints(c.cfg.Namespace)
	for i := range c.cfg.Names {
		if err := weps.Delete(ctx, c.name(i), metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting WorkloadEndpoint %s/%s: %w", c.cfg.Namespace, c.name(i), err)
		}
		c.live[i].Store(false)
	}
	return nil
}
