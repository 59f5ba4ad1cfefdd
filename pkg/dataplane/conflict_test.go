package dataplane

import (
	"errors"
	"fmt"
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"
)

func TestSplitConflicts(t *testing.T) {
	c1 := &RouteConflictError{Dst: netip.MustParsePrefix("198.18.62.5/32"), msg: "adding route 198.18.62.5/32", err: unix.EEXIST}
	c2 := &RouteConflictError{Dst: netip.MustParsePrefix("198.18.62.6/32"), msg: "adding route 198.18.62.6/32", err: unix.EEXIST}
	other := errors.New("replacing route 198.18.9.0/26: no such device")
	tests := []struct {
		name      string
		err       error
		conflicts int
		rest      error
	}{
		{"nil", nil, 0, nil},
		{"one conflict", c1, 1, nil},
		{"conflicts joined", errors.Join(c1, c2), 2, nil},
		{"nested joins", errors.Join(errors.Join(c1), c2), 2, nil},
		{"a failure", other, 0, other},
		{"a failure among conflicts", errors.Join(c1, other, c2), 2, other},
		{"a wrapped failure", fmt.Errorf("sync: %w", other), 0, other},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conflicts, rest := SplitConflicts(tt.err)
			if len(conflicts) != tt.conflicts {
				t.Errorf("conflicts %v, want %d", conflicts, tt.conflicts)
			}
			if (rest == nil) != (tt.rest == nil) || (rest != nil && !errors.Is(rest, tt.rest)) {
				t.Errorf("rest %v, want %v", rest, tt.rest)
			}
			for _, c := range conflicts {
				if !errors.Is(c, unix.EEXIST) {
					t.Errorf("conflict %v does not unwrap to EEXIST", c)
				}
			}
		})
	}
}
