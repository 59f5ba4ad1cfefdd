package cputime

import (
	"os/exec"
	"testing"
)

// Self grows while this process computes; Children grows once a child
// that computed has been waited for.
func TestSelfAndChildren(t *testing.T) {
	for _, tt := range []struct {
		name string
		read func() (int64, error)
		work func(t *testing.T)
	}{
		{"self", func() (int64, error) { d, err := Self(); return int64(d), err }, func(*testing.T) {
			x := 0
			for i := range 50_000_000 {
				x ^= i
			}
			_ = x
		}},
		{"children", func() (int64, error) { d, err := Children(); return int64(d), err }, func(t *testing.T) {
			if out, err := exec.Command("sh", "-c", "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done").CombinedOutput(); err != nil {
				t.Fatalf("child: %v\n%s", err, out)
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before, err := tt.read()
			if err != nil {
				t.Fatal(err)
			}
			tt.work(t)
			after, err := tt.read()
			if err != nil {
				t.Fatal(err)
			}
			if after <= before {
				t.Errorf("CPU time %d before the work, %d after; want it to grow", before, after)
			}
		})
	}
}
