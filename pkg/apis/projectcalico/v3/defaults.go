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

// SetDefaults_BGPConfiguration fills what Calico defaults: every
// configuration listens on port 179, and the "default" one has AS number
// 64512 and the node-to-node mesh enabled unless it says otherwise.
func SetDefaults_BGPConfiguration(c *BGPConfiguration) { //nolint:revive // defaulter-gen naming
	if c.Spec.ListenPort == 0 {
		c.Spec.ListenPort = DefaultBGPListenPort
	}
	if c.Name != BGPConfigurationName {
		return
	}
	if c.Spec.ASNumber == nil {
		as := int64(DefaultASNumber)
		c.Spec.ASNumber = &as
	}
	if c.Spec.NodeToNodeMeshEnabled == nil {
		mesh := true
		c.Spec.NodeToNodeMeshEnabled = &mesh
	}
}

// SetDefaults_BGPPeerSpec makes sessions leave from the node's address
// unless the peer says otherwise.
func SetDefaults_BGPPeerSpec(spec *BGPPeerSpec) { //nolint:revive // defaulter-gen naming
	if spec.SourceAddress == "" {
		spec.SourceAddress = SourceAddressUseNodeIP
	}
}
