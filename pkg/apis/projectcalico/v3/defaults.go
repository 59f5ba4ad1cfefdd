package v3

import "net/netip"

// Default block sizes of IPPools.
const (
	DefaultBlockSizeV4 = 26
	DefaultBlockSizeV6 = 122
)

// SetDefaults_IPPoolSpec fills the block size from the pool's address
// family: 26 for IPv4, 122 for IPv6. A CIDR that does not parse is left
// for validation to report.
func SetDefaults_IPPoolSpec(spec *IPPoolSpec) { //nolint:revive // defaulter-gen naming
	if spec.BlockSize != 0 {
		return
	}
	prefix, err := netip.ParsePrefix(spec.CIDR)
	if err != nil {
		return
	}
	if prefix.Addr().Is4() {
		spec.BlockSize = DefaultBlockSizeV4
	} else {
		spec.BlockSize = DefaultBlockSizeV6
	}
}
