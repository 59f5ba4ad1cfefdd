package testport

import (
	"net"
	"strconv"
	"testing"
)

func TestAllocatorFree(t *testing.T) {
	for _, tc := range []struct {
		name  string
		start int
		taken map[int]bool
		want  []int
	}{
		{"in order", Low + 10, nil, []int{Low + 10, Low + 11, Low + 12}},
		{"skips ports in use", Low, map[int]bool{Low: true, Low + 1: true}, []int{Low + 2, Low + 3}},
		{"wraps round at High", High - 1, nil, []int{High - 1, High, Low}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := &allocator{next: tc.start}
			for i, want := range tc.want {
				got, err := a.free(func(p int) bool { return !tc.taken[p] })
				if err != nil || got != want {
					t.Fatalf("port %d: got %d, %v; want %d", i, got, err, want)
				}
			}
		})
	}
}

func TestAllocatorExhausted(t *testing.T) {
	a := &allocator{next: Low}
	if p, err := a.free(func(int) bool { return false }); err == nil {
		t.Fatalf("got port %d with every port in use, want an error", p)
	}
}

// Free's ports are below the ephemeral range, distinct, and bindable.
func TestFree(t *testing.T) {
	seen := map[int]bool{}
	for range 20 {
		p, err := Free()
		if err != nil {
			t.Fatal(err)
		}
		if p < Low || p > High || seen[p] {
			t.Fatalf("port %d: outside %d-%d or handed out twice", p, Low, High)
		}
		seen[p] = true
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			t.Fatalf("port %d cannot be bound: %v", p, err)
		}
		l.Close()
	}
}
