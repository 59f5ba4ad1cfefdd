//go:build linux

package filter

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/netip"
	"os"
	"strconv"
	"testing"
	"time"
)

// benchAddr returns the i-th address of 198.18.0.0/15.
func benchAddr(i int) netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18 + byte(i>>16&1), byte(i >> 8), byte(i)}), 32)
}

// benchFilter returns a Filter in a fresh namespace.
func benchFilter(b *testing.B) *Filter {
	b.Helper()
	if os.Geteuid() != 0 {
		b.Skip("needs root to create network namespaces")
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	n := newTestNS(b, "meshapi-nftb-"+hex.EncodeToString(rnd[:]))
	return newFilter(b, n)
}

// BenchmarkSetLoad writes a set of 100,000 /32s from scratch with one
// Commit (transactions of DefaultMaxElementsPerTransaction elements).
func BenchmarkSetLoad(b *testing.B) {
	f := benchFilter(b)
	ctx := context.Background()
	members := make([]netip.Prefix, 100000)
	for i := range members {
		members[i] = benchAddr(i)
	}
	for b.Loop() {
		if err := f.SetSet("bench", members); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		st, err := f.Commit(ctx)
		if err != nil {
			b.Fatal(err)
		}
		d := time.Since(start)
		if st.ElementsAdded != len(members) {
			b.Fatalf("stats %+v", st)
		}
		b.ReportMetric(float64(st.ElementsAdded)/d.Seconds(), "elements/s")
		b.ReportMetric(float64(st.Transactions), "transactions")
		b.StopTimer()
		if err := f.DeleteSet("bench"); err != nil {
			b.Fatal(err)
		}
		if _, err := f.Commit(ctx); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// BenchmarkSetUpdate changes a set that holds 100,000 /32s: per op, batch
// addresses are added and the same removed again, each half one Commit, as
// the policy syncer does with membership changes.
func BenchmarkSetUpdate(b *testing.B) {
	f := benchFilter(b)
	ctx := context.Background()
	base := make([]netip.Prefix, 100000)
	for i := range base {
		base[i] = benchAddr(i)
	}
	if err := f.SetSet("bench", base); err != nil {
		b.Fatal(err)
	}
	if _, err := f.Commit(ctx); err != nil {
		b.Fatal(err)
	}
	for _, batch := range []int{1, 100, 1000} {
		b.Run("batch-"+strconv.Itoa(batch), func(b *testing.B) {
			extra := make([]netip.Prefix, batch)
			for i := range extra {
				extra[i] = benchAddr(100000 + i)
			}
			elements, transactions := 0, 0
			for b.Loop() {
				for _, add := range []bool{true, false} {
					var err error
					if add {
						err = f.UpdateSet("bench", extra, nil)
					} else {
						err = f.UpdateSet("bench", nil, extra)
					}
					if err != nil {
						b.Fatal(err)
					}
					st, err := f.Commit(ctx)
					if err != nil {
						b.Fatal(err)
					}
					if st.ElementsAdded+st.ElementsDeleted != batch {
						b.Fatalf("stats %+v", st)
					}
					elements += batch
					transactions += st.Transactions
				}
			}
			b.ReportMetric(float64(elements)/b.Elapsed().Seconds(), "elements/s")
			b.ReportMetric(float64(transactions)/b.Elapsed().Seconds(), "commits/s")
		})
	}
}
