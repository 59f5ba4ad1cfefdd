package remotesync

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/meshapi/meshapi/test/bench/benchserver"
	"github.com/meshapi/meshapi/test/bench/cputime"
)

// costSample is what the processes of a benchmark had spent at one moment:
// the CPU time of A's API server and of the remotes' (process_cpu_seconds_total
// of their /metrics; B, or all the remotes of a fleet together) and of this
// process (the controller, the benchmark's clients), and the resource
// requests A had served, by verb. The difference of two samples is the
// cost of what ran between them (and of reading the remotes' metrics).
type costSample struct {
	aCPU, bCPU, selfCPU float64 // seconds
	aRequests           map[string]float64
	remotes             bool // bCPU was read: remotes were sampled
}

// sampleCost reads the cost spent so far from a, the remotes and this
// process.
func sampleCost(ctx context.Context, a *benchserver.Server, remotes ...*benchserver.Server) (costSample, error) {
	ea, err := scrape(ctx, a)
	if err != nil {
		return costSample{}, err
	}
	c := costSample{aCPU: sampleValue(ea, "process_cpu_seconds_total"), aRequests: resourceRequests(ea), remotes: len(remotes) > 0}
	for _, r := range remotes {
		e, err := scrape(ctx, r)
		if err != nil {
			return costSample{}, err
		}
		c.bCPU += sampleValue(e, "process_cpu_seconds_total")
	}
	self, err := cputime.Self()
	if err != nil {
		return costSample{}, fmt.Errorf("reading this process's CPU time: %w", err)
	}
	c.selfCPU = self.Seconds()
	return c, nil
}

func scrape(ctx context.Context, s *benchserver.Server) (string, error) {
	body, err := s.Client.Discovery().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return "", fmt.Errorf("reading the metrics of %s: %w", s.Name, err)
	}
	return string(body), nil
}

// sampleValue returns the value of the unlabelled sample name in a
// Prometheus text exposition, 0 if it is absent.
func sampleValue(exposition, name string) float64 {
	for line := range strings.SplitSeq(exposition, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err == nil {
				return f
			}
		}
	}
	return 0
}

// since returns the cost spent between earlier and c.
func (c costSample) since(earlier costSample) costSample {
	d := costSample{aCPU: c.aCPU - earlier.aCPU, bCPU: c.bCPU - earlier.bCPU, selfCPU: c.selfCPU - earlier.selfCPU,
		aRequests: map[string]float64{}, remotes: c.remotes}
	for verb, n := range c.aRequests {
		if n -= earlier.aRequests[verb]; n != 0 {
			d.aRequests[verb] = n
		}
	}
	return d
}

// plus returns the sum of c and o.
func (c costSample) plus(o costSample) costSample {
	d := costSample{aCPU: c.aCPU + o.aCPU, bCPU: c.bCPU + o.bCPU, selfCPU: c.selfCPU + o.selfCPU,
		aRequests: maps.Clone(c.aRequests), remotes: c.remotes || o.remotes}
	if d.aRequests == nil {
		d.aRequests = map[string]float64{}
	}
	for verb, n := range o.aRequests {
		d.aRequests[verb] += n
	}
	return d
}

// reportCost reports the cost d of phase, which handled n objects, per
// object: "<phase>-a-cpu-ms/object", "-self-cpu-ms/object" and, if the
// remotes were sampled, "-b-cpu-ms/object"; and logs A's requests by verb.
func reportCost(b *testing.B, phase string, n int, d costSample) {
	per := func(s float64) float64 { return s * 1000 / float64(n) }
	b.ReportMetric(per(d.aCPU), phase+"-a-cpu-ms/object")
	if d.remotes {
		b.ReportMetric(per(d.bCPU), phase+"-b-cpu-ms/object")
	}
	b.ReportMetric(per(d.selfCPU), phase+"-self-cpu-ms/object")
	var verbs []string
	for _, verb := range slices.Sorted(maps.Keys(d.aRequests)) {
		verbs = append(verbs, fmt.Sprintf("%s %.0f (%.3f per object)", verb, d.aRequests[verb], d.aRequests[verb]/float64(n)))
	}
	remotes := ""
	if d.remotes {
		remotes = fmt.Sprintf(", %.1f s (%.3f ms per object) in the remote servers", d.bCPU, per(d.bCPU))
	}
	b.Logf("%s of %d objects: CPU %.1f s (%.3f ms per object) in A%s, %.1f s (%.3f ms per object) in this process; A served %s",
		phase, n, d.aCPU, per(d.aCPU), remotes, d.selfCPU, per(d.selfCPU), strings.Join(verbs, ", "))
}

func TestCostSample(t *testing.T) {
	exposition := `# HELP process_cpu_seconds_total x
process_cpu_seconds_total 12.5
process_cpu_seconds_total_other 3
go_goroutines 7
`
	for _, tc := range []struct {
		name string
		want float64
	}{
		{"process_cpu_seconds_total", 12.5},
		{"go_goroutines", 7},
		{"process_resident_memory_bytes", 0},
	} {
		if got := sampleValue(exposition, tc.name); got != tc.want {
			t.Errorf("sampleValue(%s) = %v, want %v", tc.name, got, tc.want)
		}
	}

	earlier := costSample{aCPU: 1, bCPU: 2, selfCPU: 3, aRequests: map[string]float64{"POST": 10, "WATCH": 2}}
	later := costSample{aCPU: 4, bCPU: 2.5, selfCPU: 5, aRequests: map[string]float64{"POST": 110, "WATCH": 2, "LIST": 1}}
	d := later.since(earlier)
	want := costSample{aCPU: 3, bCPU: 0.5, selfCPU: 2, aRequests: map[string]float64{"POST": 100, "LIST": 1}}
	if d.aCPU != want.aCPU || d.bCPU != want.bCPU || d.selfCPU != want.selfCPU || !maps.Equal(d.aRequests, want.aRequests) {
		t.Errorf("since = %+v, want %+v", d, want)
	}
	sum := d.plus(d)
	if sum.aCPU != 6 || sum.aRequests["POST"] != 200 || d.aRequests["POST"] != 100 {
		t.Errorf("plus = %+v (and d %+v), want twice d with d unchanged", sum, d)
	}
}
