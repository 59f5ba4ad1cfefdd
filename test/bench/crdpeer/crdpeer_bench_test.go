package crdpeer

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
)

var (
	roundsFlag     = flag.Int("crdpeer.rounds", 2, "rounds, alternating which API goes first; figures are the means")
	cpuProfileFlag = flag.String("crdpeer.meshapi-cpuprofile", "",
		"write a CPU profile of meshapi-apiserver (its /debug/pprof/profile) taken while meshapi's creates run to this file")
)

// figures are one API's results in a round.
type figures struct {
	createsPerSecond                        float64
	fullList, labelList, fieldList, watched time.Duration
}

// BenchmarkWorkloadEndpoints runs the workload against meshapi's
// WorkloadEndpoints (through the aggregator) and against the CRD, in
// -crdpeer.rounds rounds on one cluster, alternating which goes first, and
// reports each figure's mean over the rounds and the ratio meshapi/CRD:
// above 1 is better for creates/s, below 1 is better for times. Each
// round's figures are logged (-v).
func BenchmarkWorkloadEndpoints(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	bn := startBench(ctx, b)
	var mesh, crd []figures
	for b.Loop() {
		mesh, crd = nil, nil
		for round := range *roundsFlag {
			m, c, err := bn.bothRound(ctx, round%2 == 1)
			if err != nil {
				b.Fatalf("round %d: %v", round+1, err)
			}
			b.Logf("round %d (%s first): meshapi %s; CRD %s", round+1, map[bool]string{false: "meshapi", true: "CRD"}[round%2 == 1], m, c)
			mesh, crd = append(mesh, m), append(crd, c)
		}
	}
	report := func(name, unit string, get func(figures) float64) {
		m, c := mean(mesh, get), mean(crd, get)
		b.ReportMetric(m, "meshapi-"+name+unit)
		b.ReportMetric(c, "crd-"+name+unit)
		b.ReportMetric(m/c, name+"-ratio")
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	report("creates", "/s", func(f figures) float64 { return f.createsPerSecond })
	report("list", "-ms", func(f figures) float64 { return ms(f.fullList) })
	report("labelled", "-ms", func(f figures) float64 { return ms(f.labelList) })
	report("fielded", "-ms", func(f figures) float64 { return ms(f.fieldList) })
	report("watch", "-ms", func(f figures) float64 { return ms(f.watched) })
}

// String formats the figures for the log.
func (f figures) String() string {
	return fmt.Sprintf("%.0f creates/s, list %v, label-selected %v, field-selected %v, watch %v",
		f.createsPerSecond, f.fullList.Round(time.Millisecond), f.labelList.Round(100*time.Microsecond),
		f.fieldList.Round(100*time.Microsecond), f.watched.Round(100*time.Microsecond))
}

// mean is the mean of get over fs.
func mean(fs []figures, get func(figures) float64) float64 {
	sum := 0.0
	for _, f := range fs {
		sum += get(f)
	}
	return sum / float64(len(fs))
}

// bothRound runs a round against meshapi and one against the CRD, the CRD's
// first if crdFirst. meshapi-apiserver is profiled during its creates if
// -crdpeer.meshapi-cpuprofile is set.
func (bn *bench) bothRound(ctx context.Context, crdFirst bool) (mesh, crd figures, err error) {
	runMesh := func() (err error) {
		mesh, err = bn.round(ctx, meshapiResource, *cpuProfileFlag)
		if err != nil {
			err = fmt.Errorf("meshapi: %w", err)
		}
		return err
	}
	runCRD := func() (err error) {
		crd, err = bn.round(ctx, crdResource, "")
		if err != nil {
			err = fmt.Errorf("CRD: %w", err)
		}
		return err
	}
	order := []func() error{runMesh, runCRD}
	if crdFirst {
		order = []func() error{runCRD, runMesh}
	}
	for _, run := range order {
		if err := run(); err != nil {
			return mesh, crd, err
		}
	}
	return mesh, crd, nil
}

// round runs the workload against r and deletes its endpoints again. If
// profile is set, meshapi-apiserver is profiled during the creates.
func (bn *bench) round(ctx context.Context, r schema.GroupVersionResource, profile string) (figures, error) {
	n := *endpointsFlag
	var f figures
	var err error
	done := make(chan error, 1)
	if profile != "" {
		go func() { done <- bn.profileMeshapi(ctx, profile, 10*time.Second) }()
	} else {
		done <- nil
	}
	if f.createsPerSecond, err = bn.createAll(ctx, r, n, *writersFlag); err != nil {
		return f, err
	}
	if err := <-done; err != nil {
		return f, fmt.Errorf("profiling meshapi-apiserver: %w", err)
	}
	if f.fullList, err = bn.listMedian(ctx, r, metav1.ListOptions{}, n, *listsFlag); err != nil {
		return f, err
	}
	label := metav1.ListOptions{LabelSelector: "app=app-3"}
	if f.labelList, err = bn.listMedian(ctx, r, label, countOf(n, apps, 3), *listsFlag); err != nil {
		return f, err
	}
	field := metav1.ListOptions{FieldSelector: "spec.node=" + nodeName(7)}
	if f.fieldList, err = bn.listMedian(ctx, r, field, countOf(n, nodes, 7), *listsFlag); err != nil {
		return f, err
	}
	if f.watched, err = bn.watchDelivery(ctx, r, *updatesFlag); err != nil {
		return f, err
	}
	return f, bn.deleteAll(ctx, r)
}

// countOf is how many of 0..n-1 are k modulo m.
func countOf(n, m, k int) int {
	c := n / m
	if n%m > k {
		c++
	}
	return c
}

// profileMeshapi fetches a CPU profile of meshapi-apiserver, directly on its
// port as the cluster's administrator, and writes it to path.
func (bn *bench) profileMeshapi(ctx context.Context, path string, d time.Duration) error {
	cfg := rest.CopyConfig(bn.cluster.Config)
	cfg.Host = "https://127.0.0.1:" + strconv.Itoa(bn.cluster.MeshapiPort)
	client, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return err
	}
	url := fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", cfg.Host, int(d.Seconds()))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, body)
	}
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, resp.Body); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
