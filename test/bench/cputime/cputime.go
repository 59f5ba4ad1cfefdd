// Package cputime reads the CPU time (user and system) used by this
// process, or by its children, for the benchmarks' CPU-per-operation
// figures: CPU per operation moves far less with the machine's load than
// wall-clock times do.
package cputime

import (
	"fmt"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Self is the CPU time this process has used so far.
func Self() (time.Duration, error) { return usage(unix.RUSAGE_SELF) }

// Children is the CPU time this process's children that have been
// waited for used, and theirs.
func Children() (time.Duration, error) { return usage(unix.RUSAGE_CHILDREN) }

// MustSelf is Self, failing tb if it cannot be read.
func MustSelf(tb testing.TB) time.Duration { return must(tb, Self) }

// MustChildren is Children, failing tb if it cannot be read.
func MustChildren(tb testing.TB) time.Duration { return must(tb, Children) }

func must(tb testing.TB, read func() (time.Duration, error)) time.Duration {
	tb.Helper()
	d, err := read()
	if err != nil {
		tb.Fatalf("reading CPU time: %v", err)
	}
	return d
}

// usage is getrusage(who)'s user plus system time.
func usage(who int) (time.Duration, error) {
	var ru unix.Rusage
	if err := unix.Getrusage(who, &ru); err != nil {
		return 0, fmt.Errorf("getrusage: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}
