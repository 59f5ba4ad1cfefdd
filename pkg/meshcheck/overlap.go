package meshcheck

import "fmt"

// poolPair is a pool of one cluster that overlaps a pool of another.
type poolPair struct {
	a, b parsedPool
}

// String describes the pool for messages: IPPool "name" (cidr).
func (p parsedPool) String() string {
	return fmt.Sprintf("IPPool %q (%s)", p.name, p.cidr)
}

// overlappingPools is the pool-overlap rule: it returns every pair of a
// pool of a and a pool of b whose CIDRs share an address, in the order of
// a, then of b. Pools of different IP families never overlap. Disabled
// pools count: they may still hold addresses in use.
func overlappingPools(a, b []parsedPool) []poolPair {
	var out []poolPair
	for _, pa := range a {
		for _, pb := range b {
			if pa.prefix.Overlaps(pb.prefix) {
				out = append(out, poolPair{pa, pb})
			}
		}
	}
	return out
}
