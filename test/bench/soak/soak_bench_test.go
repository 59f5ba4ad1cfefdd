package soak

import (
	"context"
	"flag"
	"fmt"
	"math"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The benchmark's parameters, as test binary flags:
//
//	go test ... ./test/bench/soak/ -args -soak.duration=3m -soak.endpoints=15000
var (
	durationFlag  = flag.Duration("soak.duration", 10*time.Minute, "how long the churn runs")
	endpointsFlag = flag.Int("soak.endpoints", 50000, "WorkloadEndpoints in all, spread evenly over the three clusters")
	rateFlag      = flag.Float64("soak.rate", 100, "churn events per second in all clusters together: creates, label changes, address changes and deletes in turn")
	sampleFlag    = flag.Duration("soak.sample", 30*time.Second, "sample interval: memory, errors, and the propagation latencies of the events sent in it")
	workersFlag   = flag.Int("soak.workers", 0, "churn goroutines per cluster, each writing endpoints of its own (0: one event a second each, rate/3 per cluster)")
)

// config is the validated flags.
type config struct {
	duration, sample time.Duration
	endpoints        int
	rate             float64
	workers          int
}

// configFromFlags validates the flags.
func configFromFlags() (config, error) {
	c := config{duration: *durationFlag, sample: *sampleFlag, endpoints: *endpointsFlag, rate: *rateFlag, workers: *workersFlag}
	perCluster := (c.endpoints + len(clusterNames) - 1) / len(clusterNames)
	if c.workers == 0 {
		// A write takes up to a few hundred milliseconds on a loaded
		// machine: one event a second per goroutine keeps the rate.
		c.workers = max(1, int(math.Ceil(c.rate/float64(len(clusterNames)))))
	}
	switch {
	case c.duration <= 0:
		return c, fmt.Errorf("-soak.duration %s: must be positive", c.duration)
	case c.sample <= 0 || c.sample > c.duration:
		return c, fmt.Errorf("-soak.sample %s: must be positive and at most -soak.duration %s", c.sample, c.duration)
	case c.endpoints < len(clusterNames) || perCluster > poolSlots(endpointPools[0])*3/4:
		return c, fmt.Errorf("-soak.endpoints %d: must be from %d to %d (three quarters of three /17 pools, room for the churn)",
			c.endpoints, len(clusterNames), len(clusterNames)*poolSlots(endpointPools[0])*3/4)
	case c.rate <= 0:
		return c, fmt.Errorf("-soak.rate %g: must be positive", c.rate)
	case c.workers < 1:
		return c, fmt.Errorf("-soak.workers %d: must be at least 1", c.workers)
	}
	return c, nil
}

// result is what a run measured.
type result struct {
	cfg config
	// idle is the sample before the initial load; samples[0] is at the
	// churn's start, the last one at its end; after is once the mirrors
	// converged.
	idle    sample
	samples []sample
	after   sample
	// load is how long the initial creates took; sync from their end
	// until every RCC was InSync with every endpoint counted; converge
	// from the churn's end until every mirror equalled its remote.
	load, sync, converge time.Duration
	rec                  *recorder
	churners             []*churner
	// watchRestarts counts the mirror watches opened again.
	watchRestarts int
	// unseen counts events some cluster never showed (see recorder.unseen).
	unseen int
	// problems are the problem lines of the controllers' and agents' logs.
	problems []processProblems
}

// BenchmarkSoak runs the soak once (use -benchtime 1x): set-up, initial
// load, churn, verification; see the package documentation.
func BenchmarkSoak(b *testing.B) {
	if b.N > 1 {
		b.Fatalf("BenchmarkSoak runs once: use -benchtime 1x")
	}
	cfg, err := configFromFlags()
	if err != nil {
		b.Fatal(err)
	}
	logf := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "%s soak: %s\n", time.Now().UTC().Format("15:04:05"), fmt.Sprintf(format, args...))
	}
	logf("load average at start: %s; %d endpoints, %g events/s for %s, samples every %s",
		loadAverage(), cfg.endpoints, cfg.rate, cfg.duration, cfg.sample)
	ctx := b.Context()
	m, err := newMesh(ctx, logf)
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		if err := m.close(); err != nil {
			b.Errorf("tearing down: %v", err)
		}
	}()
	res, err := soak(ctx, m, cfg, logf)
	if res != nil {
		res.problems = collectProblems(m)
		report(b, res)
	}
	if err != nil {
		b.Fatal(err)
	}
}

// soak runs the initial load, the churn and the verification on m.
func soak(ctx context.Context, m *mesh, cfg config, logf func(string, ...any)) (*result, error) {
	res := &result{cfg: cfg, idle: takeSample(ctx, m.members, nil, 0)}
	if err := initialLoad(ctx, m, cfg, res, logf); err != nil {
		return nil, err
	}
	stopWatches, err := churn(ctx, m, cfg, res, logf)
	if err != nil {
		stopWatches()
		return res, err
	}
	logf("churn over; waiting for the mirrors to equal their remotes (%d events not yet seen everywhere)", res.rec.unseen())
	// Comparing lists every endpoint of every cluster (150,000 objects at
	// full size), which loads the API servers: first wait, cheaply, until
	// the watches see no more of the events.
	churnEnd := time.Now()
	waitQuiet(ctx, res.rec.unseen, 30*time.Second, 10*time.Minute)
	_, err = waitConverged(ctx, m.members, 10*time.Minute)
	res.converge = time.Since(churnEnd)
	// The watches keep measuring the last events until the mirrors
	// converged, and a little after: a mirror event can come after the
	// list that saw it.
	for range 10 {
		if res.rec.unseen() == 0 {
			break
		}
		sleepCtx(ctx, time.Second)
	}
	res.watchRestarts = stopWatches()
	res.unseen = res.rec.unseen()
	if err != nil {
		return res, fmt.Errorf("after the churn: %w", err)
	}
	for _, local := range m.members {
		for _, remote := range m.members {
			if remote == local {
				continue
			}
			truth, err := listEndpoints(ctx, remote, truthSelector)
			if err != nil {
				return res, err
			}
			if _, err := waitRCC(ctx, local, remote.name(), len(truth), 2*time.Minute); err != nil {
				return res, fmt.Errorf("after the churn: %w", err)
			}
		}
	}
	res.after = takeSample(ctx, m.members, res.churners, time.Duration(0))
	logf("mirrors equal their remotes %s after the churn; load average at end: %s", res.converge.Round(time.Second), loadAverage())
	return res, nil
}

// initialLoad creates the endpoints in the three clusters at once and
// waits until every RCC is InSync with every endpoint of its remote.
func initialLoad(ctx context.Context, m *mesh, cfg config, res *result, logf func(string, ...any)) error {
	seq := new(atomic.Uint64)
	for _, mb := range m.members {
		res.churners = append(res.churners, newChurner(mb, cfg.workers, seq))
	}
	start := time.Now()
	errs := make([]error, len(m.members))
	var wg sync.WaitGroup
	for i, c := range res.churners {
		n := cfg.endpoints / len(m.members)
		if i < cfg.endpoints%len(m.members) {
			n++
		}
		wg.Go(func() { _, errs[i] = c.load(ctx, n) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	res.load = time.Since(start)
	logf("created %d endpoints in %s (%.0f/s); load average %s", cfg.endpoints, res.load.Round(time.Second),
		float64(cfg.endpoints)/res.load.Seconds(), loadAverage())
	start = time.Now()
	for _, local := range m.members {
		for ri, remote := range m.members {
			if remote == local {
				continue
			}
			if _, err := waitRCC(ctx, local, remote.name(), res.churners[ri].count(), 20*time.Minute); err != nil {
				return fmt.Errorf("after the initial load: %w", err)
			}
		}
	}
	res.sync = time.Since(start)
	logf("every RCC InSync with every endpoint counted %s after the last create", res.sync.Round(time.Second))
	return nil
}

// churn runs the churn for cfg.duration with a sample every cfg.sample.
// The watches of the mirrors go on until stopWatches, which returns how
// many times they were opened again.
func churn(ctx context.Context, m *mesh, cfg config, res *result, logf func(string, ...any)) (stopWatches func() int, err error) {
	watchCtx, cancel := context.WithCancel(ctx)
	start := time.Now()
	res.rec = newRecorder(start, cfg.sample, len(m.members)-1)
	restarts := make([]int, len(m.members))
	var watchers sync.WaitGroup
	for i, mb := range m.members {
		watchers.Go(func() { restarts[i] = watchMirrors(watchCtx, mb, res.rec) })
	}
	stopWatches = func() int {
		cancel()
		watchers.Wait()
		n := 0
		for _, r := range restarts {
			n += r
		}
		return n
	}
	res.samples = []sample{takeSample(ctx, m.members, res.churners, 0)}
	stop := make(chan struct{})
	period := time.Duration(float64(time.Second) * float64(len(m.members)*cfg.workers) / cfg.rate)
	var writers sync.WaitGroup
	for _, c := range res.churners {
		c.rec = res.rec
		for _, sh := range c.shards {
			writers.Go(func() { c.run(ctx, sh, period, stop) })
		}
	}
	logf("churn started: %g events/s, %d writers, one event every %s each", cfg.rate, len(m.members)*cfg.workers, period)
	for i := 1; ; i++ {
		at := min(time.Duration(i)*cfg.sample, cfg.duration)
		sleepCtx(ctx, time.Until(start.Add(at)))
		if at == cfg.duration {
			close(stop)
			writers.Wait()
		}
		s := takeSample(ctx, m.members, res.churners, time.Since(start))
		s.pending = res.rec.unseen()
		res.samples = append(res.samples, s)
		logf("%s", windowLine(res, len(res.samples)-2))
		if at == cfg.duration || ctx.Err() != nil {
			break
		}
	}
	return stopWatches, ctx.Err()
}
