package selector

import (
	"fmt"
	"maps"
	"testing"
)

func BenchmarkEvaluate(b *testing.B) {
	sel := MustParse(`app == "postgres" && (tier in {"backend", "db", "storage"} || !has(canary)) && ` +
		`k8s.io/zone starts with "eu-" && version != "v1"`)
	labels := map[string]string{
		"app": "postgres", "tier": "db", "k8s.io/zone": "eu-west-1", "version": "v2",
		"team": "storage", "pod-template-hash": "7d9f8c",
	}
	if !sel.Evaluate(labels) {
		b.Fatal("benchmark selector does not match")
	}
	b.ReportAllocs()
	for b.Loop() {
		sel.Evaluate(labels)
	}
}

func BenchmarkParse(b *testing.B) {
	const s = `app == "postgres" && (tier in {"backend", "db", "storage"} || !has(canary)) && version != "v1"`
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(s); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIndexUpdateLabels measures updating one item's labels in an
// index holding 10,000 selectors and 1,000 other items. Each iteration flips
// one label between two values:
//
//   - gated: "app", read by 5,000 selectors of the form app == "app-N";
//     only the 100 accepting one of the two values are evaluated;
//   - ungated: "team-2", read by 25 selectors using has(team-2), all
//     evaluated;
//   - unread: a key no selector reads; nothing is evaluated.
func BenchmarkIndexUpdateLabels(b *testing.B) {
	const numSelectors = 10000
	idx := NewIndex[int, string](nil, nil)
	for i := range numSelectors {
		n := i / 4 % 100 // each n is used by 25 selectors of each form
		var s string
		switch i % 4 {
		case 0:
			s = fmt.Sprintf("app == 'app-%d'", n)
		case 1:
			s = fmt.Sprintf("app == 'app-%d' && tier in {'web', 'db'}", n)
		case 2:
			s = fmt.Sprintf("svc-%d != 'x' && has(team-%d)", i, n)
		default:
			s = fmt.Sprintf("role-%d in {'a', 'b'} || env == 'prod-%d'", i, i)
		}
		idx.UpdateSelector(i, MustParse(s))
	}
	for i := range 1000 {
		idx.UpdateLabels(fmt.Sprint("other-", i), map[string]string{"app": fmt.Sprint("app-", i%100), "tier": "web"})
	}
	base := map[string]string{"app": "app-1", "tier": "web", "team-2": "x", "env": "dev", "unread": "x"}
	for _, bc := range []struct{ name, key, value string }{
		{"gated", "app", "app-2"},
		{"ungated", "team-2", "y"},
		{"unread", "unread", "y"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			flipped := maps.Clone(base)
			flipped[bc.key] = bc.value
			labels := [2]map[string]string{base, flipped}
			idx.UpdateLabels("pod", base)
			idx.evaluations = 0
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i ^= 1
				idx.UpdateLabels("pod", labels[i])
			}
			b.ReportMetric(float64(idx.evaluations)/float64(b.N), "evals/op")
		})
	}
}

// BenchmarkIndexAddSelector measures adding (and deleting) one selector in
// an index holding 100,000 items with 500 app values over 100 namespaces:
//
//   - app-eq: app == "app-N" && ns == "ns-M": evaluates the 200 items of
//     that app (the rarer of its two required values);
//   - has: has(app) && app != "app-1": every item has app, so all are
//     evaluated;
//   - all: all() matches the empty set: every item is evaluated.
func BenchmarkIndexAddSelector(b *testing.B) {
	idx := NewIndex[string, int](nil, nil)
	for i := range 100000 {
		idx.UpdateLabels(i, map[string]string{
			"app": fmt.Sprint("app-", i%500), "ns": fmt.Sprint("ns-", i%100), "hash": fmt.Sprintf("%x", i),
		})
	}
	// Keep the value indexes of app and ns alive across iterations, as
	// other selectors would.
	idx.UpdateSelector("keep", MustParse("app == 'none' && ns == 'none'"))
	for _, bc := range []struct{ name, sel string }{
		{"app-eq", "app == 'app-7' && ns == 'ns-7'"},
		{"has", "has(app) && app != 'app-1'"},
		{"all", "all()"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			sel := MustParse(bc.sel)
			idx.evaluations = 0
			for b.Loop() {
				idx.UpdateSelector("s", sel)
				idx.DeleteSelector("s")
			}
			b.ReportMetric(float64(idx.evaluations)/float64(b.N), "evals/op")
		})
	}
}

// BenchmarkEvaluateLabels is BenchmarkEvaluate over interned labels.
func BenchmarkEvaluateLabels(b *testing.B) {
	sel := MustParse(`app == "postgres" && (tier in {"backend", "db", "storage"} || !has(canary)) && ` +
		`k8s.io/zone starts with "eu-" && version != "v1"`).(LabelsEvaluator)
	labels := InternLabels(map[string]string{
		"app": "postgres", "tier": "db", "k8s.io/zone": "eu-west-1", "version": "v2",
		"team": "storage", "pod-template-hash": "7d9f8c",
	})
	if !sel.EvaluateLabels(labels) {
		b.Fatal("benchmark selector does not match")
	}
	b.ReportAllocs()
	for b.Loop() {
		sel.EvaluateLabels(labels)
	}
}
