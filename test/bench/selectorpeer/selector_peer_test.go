package selectorpeer

import (
	"syscall"
	"testing"
	"time"

	"github.com/meshapi/meshapi/pkg/selector"
	calico "github.com/projectcalico/calico/libcalico-go/lib/selector"
)

// evaluateCases are the selectors and label sets of issue 22, item 4.
var evaluateCases = []struct {
	name   string
	sel    string
	labels map[string]string
	want   bool
}{
	{"eq", `a == "b"`, map[string]string{"a": "b", "c": "d", "e": "f"}, true},
	{"eq-miss", `a == "b"`, map[string]string{"a": "x", "c": "d", "e": "f"}, false},
	{"in-has-ne", `a in {'x','y','z'} && has(b) && c != 'd'`, map[string]string{"a": "y", "b": "", "c": "e"}, true},
	{"in-has-ne-miss", `a in {'x','y','z'} && has(b) && c != 'd'`, map[string]string{"a": "y", "b": "", "c": "d"}, false},
	{
		"policy",
		`app == "postgres" && (tier in {"backend", "db", "storage"} || !has(canary)) && ` +
			`k8s.io/zone starts with "eu-" && version != "v1"`,
		map[string]string{
			"app": "postgres", "tier": "db", "k8s.io/zone": "eu-west-1", "version": "v2",
			"team": "storage", "pod-template-hash": "7d9f8c",
		},
		true,
	},
}

// validateCases are selectors to validate; Calico validates a selector by
// parsing it (libcalico-go/lib/validator/v3 validateSelector).
var validateCases = []struct{ name, sel string }{
	{"eq", `a == "b"`},
	{"in-has-ne", `a in {'x','y','z'} && has(b) && c != 'd'`},
	{"policy", `app == "postgres" && (tier in {"backend", "db", "storage"} || !has(canary)) && version != "v1"`},
}

// BenchmarkEvaluate compares Selector.Evaluate on a parsed selector.
func BenchmarkEvaluate(b *testing.B) {
	for _, tc := range evaluateCases {
		ours := selector.MustParse(tc.sel)
		theirs, err := calico.Parse(tc.sel)
		if err != nil {
			b.Fatalf("calico.Parse(%q): %v", tc.sel, err)
		}
		if got := ours.Evaluate(tc.labels); got != tc.want {
			b.Fatalf("meshapi: %q on %v = %v, want %v", tc.sel, tc.labels, got, tc.want)
		}
		if got := theirs.Evaluate(tc.labels); got != tc.want {
			b.Fatalf("calico: %q on %v = %v, want %v", tc.sel, tc.labels, got, tc.want)
		}
		b.Run(tc.name, func(b *testing.B) {
			compare(b,
				func(n int) {
					for range n {
						theirs.Evaluate(tc.labels)
					}
				},
				func(n int) {
					for range n {
						ours.Evaluate(tc.labels)
					}
				})
		})
	}
}

// BenchmarkEvaluateInterned compares meshapi's EvaluateLabels, over labels
// interned once beforehand, with Calico's Evaluate: the Calico version the
// module proxy serves has no interned labels, so its side evaluates the map.
func BenchmarkEvaluateInterned(b *testing.B) {
	for _, tc := range evaluateCases {
		ours := selector.MustParse(tc.sel).(selector.LabelsEvaluator)
		labels := selector.InternLabels(tc.labels)
		theirs, err := calico.Parse(tc.sel)
		if err != nil {
			b.Fatalf("calico.Parse(%q): %v", tc.sel, err)
		}
		if got := ours.EvaluateLabels(labels); got != tc.want {
			b.Fatalf("meshapi: %q on %v = %v, want %v", tc.sel, tc.labels, got, tc.want)
		}
		b.Run(tc.name, func(b *testing.B) {
			compare(b,
				func(n int) {
					for range n {
						theirs.Evaluate(tc.labels)
					}
				},
				func(n int) {
					for range n {
						ours.EvaluateLabels(labels)
					}
				})
		})
	}
}

// BenchmarkValidate compares validating a selector: meshapi's Validate and
// Calico's Parse, which is how Calico validates one.
func BenchmarkValidate(b *testing.B) {
	for _, tc := range validateCases {
		if err := selector.Validate(tc.sel); err != nil {
			b.Fatalf("meshapi: Validate(%q): %v", tc.sel, err)
		}
		if _, err := calico.Parse(tc.sel); err != nil {
			b.Fatalf("calico: Parse(%q): %v", tc.sel, err)
		}
		b.Run(tc.name, func(b *testing.B) {
			compare(b,
				func(n int) {
					for range n {
						_, _ = calico.Parse(tc.sel)
					}
				},
				func(n int) {
					for range n {
						_ = selector.Validate(tc.sel)
					}
				})
		})
	}
}

// chunk is how many operations of one implementation run before switching
// to the other, so that both see the same machine load.
const chunk = 4096

// compare runs calico and meshapi alternately, b.N operations each, and
// reports each one's wall and CPU time per operation and the ratios
// meshapi/calico. run(n) performs n operations.
func compare(b *testing.B, calicoRun, meshapiRun func(n int)) {
	var wall, cpu [2]time.Duration
	runs := [2]func(int){calicoRun, meshapiRun}
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; done += chunk {
		n := min(chunk, b.N-done)
		for i, run := range runs {
			w0, c0 := time.Now(), cpuTime(b)
			run(n)
			wall[i] += time.Since(w0)
			cpu[i] += cpuTime(b) - c0
		}
	}
	perOp := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(b.N) }
	b.ReportMetric(perOp(wall[0]), "calico-ns/op")
	b.ReportMetric(perOp(wall[1]), "meshapi-ns/op")
	b.ReportMetric(perOp(cpu[0]), "calico-cpu-ns/op")
	b.ReportMetric(perOp(cpu[1]), "meshapi-cpu-ns/op")
	if wall[0] > 0 && cpu[0] > 0 {
		b.ReportMetric(float64(wall[1])/float64(wall[0]), "ratio")
		b.ReportMetric(float64(cpu[1])/float64(cpu[0]), "cpu-ratio")
	}
}

// cpuTime returns the CPU time (user and system) the process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
