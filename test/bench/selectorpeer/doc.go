// Package selectorpeer benchmarks meshapi's pkg/selector side by side with
// Calico's own selector (github.com/projectcalico/calico/libcalico-go/lib/selector)
// on the same selectors and label sets, in one run.
//
// It is a separate Go module so that the main module does not take on
// Calico's dependency tree. Run it from this directory:
//
//	go test -run '^$' -bench . -count 3
//
// Each benchmark alternates the two implementations in chunks and reports,
// per operation, wall-clock and CPU nanoseconds of each and the ratio
// meshapi/calico; below 1 means meshapi is faster. The CPU figures (from
// getrusage) are the ones to read on a loaded machine: wall-clock time
// there includes waiting for a core.
package selectorpeer
