package validation

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

func bgpConfig() *v3.BGPConfiguration {
	return &v3.BGPConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "default"},
		Spec: v3.BGPConfigurationSpec{
			LogSeverityScreen:     "Info",
			NodeToNodeMeshEnabled: ptr(true),
			ASNumber:              ptr(int64(64512)),
			ServiceClusterIPs:     []v3.ServiceClusterIPBlock{{CIDR: "10.96.0.0/12"}},
			ServiceExternalIPs:    []v3.ServiceExternalIPBlock{{CIDR: "198.19.11.0/24"}},
			Communities:           []v3.Community{{Name: "edge", Value: "64512:100"}, {Name: "large", Value: "64512:1:4294967295"}},
			PrefixAdvertisements:  []v3.PrefixAdvertisement{{CIDR: "198.19.0.0/16", Communities: []string{"edge", "65000:7"}}},
			ListenPort:            179,
			NodeMeshPassword: &v3.BGPPassword{SecretKeyRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: "bgp-secrets"}, Key: "mesh"}},
			NodeMeshMaxRestartTime: &metav1.Duration{Duration: 2 * time.Minute},
		},
	}
}

func TestValidateBGPConfiguration(t *testing.T) {
	runCases(t, bgpConfig, ValidateBGPConfiguration, []tcase[v3.BGPConfiguration]{
		{name: "full default configuration"},
		{name: "empty spec", mut: func(c *v3.BGPConfiguration) { c.Spec = v3.BGPConfigurationSpec{} }},
		{name: "per-node configuration", mut: func(c *v3.BGPConfiguration) {
			c.Name, c.Spec.NodeMeshPassword, c.Spec.NodeMeshMaxRestartTime = "node.worker-1", nil, nil
		}},
		{name: "largest AS number", mut: func(c *v3.BGPConfiguration) { c.Spec.ASNumber = ptr(int64(4294967295)) }},
		{
			name: "name missing",
			mut: func(c *v3.BGPConfiguration) {
				c.Name, c.Spec.NodeMeshPassword, c.Spec.NodeMeshMaxRestartTime = "", nil, nil
			},
			want: []want{required("metadata.name", "default")},
		},
		{
			name: "name neither default nor per node",
			mut: func(c *v3.BGPConfiguration) {
				c.Name, c.Spec.NodeMeshPassword, c.Spec.NodeMeshMaxRestartTime = "tor", nil, nil
			},
			want: []want{invalid("metadata.name", `"tor": must be "default" or "node.<node name>"`)},
		},
		{
			name: "AS number zero",
			mut:  func(c *v3.BGPConfiguration) { c.Spec.ASNumber = ptr(int64(0)) },
			want: []want{invalid("spec.asNumber", "0: must be an AS number from 1 to 4294967295")},
		},
		{
			name: "AS number too large",
			mut:  func(c *v3.BGPConfiguration) { c.Spec.ASNumber = ptr(int64(4294967296)) },
			want: []want{invalid("spec.asNumber", "4294967296")},
		},
		{
			name: "log level unknown",
			mut:  func(c *v3.BGPConfiguration) { c.Spec.LogSeverityScreen = "Verbose" },
			want: []want{notSupported("spec.logSeverityScreen", `"Verbose"`)},
		},
		{
			name: "service CIDRs invalid",
			mut: func(c *v3.BGPConfiguration) {
				c.Spec.ServiceClusterIPs[0].CIDR = "10.96.0.0"
				c.Spec.ServiceExternalIPs[0].CIDR = "external"
				c.Spec.ServiceLoadBalancerIPs = []v3.ServiceLoadBalancerIPBlock{{CIDR: "198.19.12.0/33"}}
			},
			want: []want{
				invalid("spec.serviceClusterIPs[0].cidr", `"10.96.0.0": must be a CIDR`),
				invalid("spec.serviceExternalIPs[0].cidr", `"external"`),
				invalid("spec.serviceLoadBalancerIPs[0].cidr", `"198.19.12.0/33"`),
			},
		},
		{
			name: "community values invalid",
			mut: func(c *v3.BGPConfiguration) {
				c.Spec.Communities[0].Value = "65536:1"
				c.Spec.Communities[1].Value = "1:2:3:4"
			},
			want: []want{
				invalid("spec.communities[0].value", `"65536:1": each part of a standard community must be a 16-bit number`),
				invalid("spec.communities[1].value", `"1:2:3:4"`),
			},
		},
		{
			name: "community name missing and duplicated",
			mut: func(c *v3.BGPConfiguration) {
				c.Spec.Communities = append(c.Spec.Communities, v3.Community{Name: "edge", Value: "1:1"}, v3.Community{Value: "1:2"})
			},
			want: []want{duplicate("spec.communities[2].name", `"edge"`), required("spec.communities[3].name", "")},
		},
		{
			name: "prefix advertisement with an unknown community",
			mut:  func(c *v3.BGPConfiguration) { c.Spec.PrefixAdvertisements[0].Communities[0] = "core" },
			want: []want{invalid("spec.prefixAdvertisements[0].communities[0]", `"core": must name one of spec.communities`)},
		},
		{
			name: "prefix advertisement without CIDR or communities",
			mut:  func(c *v3.BGPConfiguration) { c.Spec.PrefixAdvertisements[0] = v3.PrefixAdvertisement{} },
			want: []want{required("spec.prefixAdvertisements[0].cidr", ""), required("spec.prefixAdvertisements[0].communities", "")},
		},
		{
			name: "node mesh settings on a per-node configuration",
			mut:  func(c *v3.BGPConfiguration) { c.Name = "node.worker-1" },
			want: []want{
				forbidden("spec.nodeMeshPassword", `not "node.worker-1"`),
				forbidden("spec.nodeMeshMaxRestartTime", `not "node.worker-1"`),
			},
		},
		{
			name: "node mesh password without key, restart time negative",
			mut: func(c *v3.BGPConfiguration) {
				c.Spec.NodeMeshPassword.SecretKeyRef.Key = ""
				c.Spec.NodeMeshMaxRestartTime.Duration = -time.Second
			},
			want: []want{
				required("spec.nodeMeshPassword.secretKeyRef.key", ""),
				invalid("spec.nodeMeshMaxRestartTime", `"-1s": must not be negative`),
			},
		},
	})
}

func bgpPeer() *v3.BGPPeer {
	return &v3.BGPPeer{
		ObjectMeta: metav1.ObjectMeta{Name: "tor"},
		Spec: v3.BGPPeerSpec{
			NodeSelector:        "rack == 'a'",
			PeerIP:              "198.18.0.1",
			ASNumber:            65001,
			KeepOriginalNextHop: true,
			Password: &v3.BGPPassword{SecretKeyRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: "bgp-secrets"}, Key: "tor"}},
			SourceAddress:  v3.SourceAddressUseNodeIP,
			MaxRestartTime: &metav1.Duration{Duration: 30 * time.Second},
		},
	}
}

func TestValidateBGPPeer(t *testing.T) {
	runCases(t, bgpPeer, ValidateBGPPeer, []tcase[v3.BGPPeer]{
		{name: "peer for selected nodes"},
		{name: "peer for one node", mut: func(p *v3.BGPPeer) { p.Spec.NodeSelector, p.Spec.Node = "", "worker-1" }},
		{name: "peer with a port", mut: func(p *v3.BGPPeer) { p.Spec.PeerIP = "198.18.0.1:1179" }},
		{name: "IPv6 peer with a port", mut: func(p *v3.BGPPeer) { p.Spec.PeerIP = "[2001:db8::1]:1179" }},
		{name: "IPv6 peer", mut: func(p *v3.BGPPeer) { p.Spec.PeerIP = "2001:db8::1" }},
		{name: "route reflectors by selector", mut: func(p *v3.BGPPeer) {
			p.Spec.PeerIP, p.Spec.ASNumber, p.Spec.PeerSelector = "", 0, "has(route-reflector)"
		}},
		{name: "no source address", mut: func(p *v3.BGPPeer) { p.Spec.SourceAddress = v3.SourceAddressNone }},
		{
			name: "node and node selector",
			mut:  func(p *v3.BGPPeer) { p.Spec.Node = "worker-1" },
			want: []want{forbidden("spec.nodeSelector", `node "worker-1"`)},
		},
		{
			name: "peer IP missing",
			mut:  func(p *v3.BGPPeer) { p.Spec.PeerIP = "" },
			want: []want{required("spec.peerIP", "peerSelector")},
		},
		{
			name: "peer IP invalid",
			mut:  func(p *v3.BGPPeer) { p.Spec.PeerIP = "tor.example" },
			want: []want{invalid("spec.peerIP", `"tor.example": must be an IP address with an optional port`)},
		},
		{
			name: "peer IP with port 0",
			mut:  func(p *v3.BGPPeer) { p.Spec.PeerIP = "198.18.0.1:0" },
			want: []want{invalid("spec.peerIP", `"198.18.0.1:0": the port must be from 1 to 65535`)},
		},
		{
			name: "AS number missing",
			mut:  func(p *v3.BGPPeer) { p.Spec.ASNumber = 0 },
			want: []want{required("spec.asNumber", "")},
		},
		{
			name: "AS number too large",
			mut:  func(p *v3.BGPPeer) { p.Spec.ASNumber = 1 << 32 },
			want: []want{invalid("spec.asNumber", "4294967296: must be an AS number from 1 to 4294967295")},
		},
		{
			name: "peer selector with peer IP and AS number",
			mut:  func(p *v3.BGPPeer) { p.Spec.PeerSelector = "all()" },
			want: []want{
				forbidden("spec.peerIP", `peerIP "198.18.0.1"`),
				forbidden("spec.asNumber", "asNumber 65001"),
			},
		},
		{
			name: "selectors invalid",
			mut: func(p *v3.BGPPeer) {
				p.Spec.NodeSelector = "rack =="
				p.Spec.PeerIP, p.Spec.ASNumber, p.Spec.PeerSelector = "", 0, "has("
			},
			want: []want{invalid("spec.nodeSelector", `"rack =="`), invalid("spec.peerSelector", `"has("`)},
		},
		{
			name: "source address unknown",
			mut:  func(p *v3.BGPPeer) { p.Spec.SourceAddress = "Loopback" },
			want: []want{notSupported("spec.sourceAddress", `"Loopback"`)},
		},
		{
			name: "password without secret",
			mut:  func(p *v3.BGPPeer) { p.Spec.Password.SecretKeyRef = nil },
			want: []want{required("spec.password.secretKeyRef", "")},
		},
		{
			name: "password secret name invalid",
			mut:  func(p *v3.BGPPeer) { p.Spec.Password.SecretKeyRef.Name = "BGP" },
			want: []want{invalid("spec.password.secretKeyRef.name", `"BGP"`)},
		},
		{
			name: "negative restart time and allowed local AS count",
			mut: func(p *v3.BGPPeer) {
				p.Spec.MaxRestartTime.Duration = -time.Second
				p.Spec.NumAllowedLocalASNumbers = ptr(int32(-1))
			},
			want: []want{
				invalid("spec.maxRestartTime", `"-1s"`),
				invalid("spec.numAllowedLocalASNumbers", "-1: must not be negative"),
			},
		},
		{
			name: "name missing",
			mut:  func(p *v3.BGPPeer) { p.Name = "" },
			want: []want{required("metadata.name", "")},
		},
	})
}

// TestBGPYAMLShape decodes Calico's documented YAML strictly: the field
// names are the original's.
func TestBGPYAMLShape(t *testing.T) {
	cfg := fromYAML[v3.BGPConfiguration](t, `
apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata:
  name: default
spec:
  logSeverityScreen: Info
  nodeToNodeMeshEnabled: false
  asNumber: 63400
  listenPort: 178
  serviceClusterIPs:
  - cidr: 10.96.0.0/12
  serviceExternalIPs:
  - cidr: 104.244.42.129/32
  communities:
  - name: bgp-large-community
    value: 63400:300:100
  prefixAdvertisements:
  - cidr: 172.218.4.0/26
    communities:
    - bgp-large-community
    - 63400:120
`)
	checkErrors(t, ValidateBGPConfiguration(cfg))
	peer := fromYAML[v3.BGPPeer](t, `
apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata:
  name: rack1-tor
spec:
  peerIP: 192.20.30.40
  asNumber: 64567
  nodeSelector: rack == 'rack-1'
  keepOriginalNextHop: true
  sourceAddress: None
  maxRestartTime: 15s
  password:
    secretKeyRef:
      name: bgp-secrets
      key: rr-password
`)
	checkErrors(t, ValidateBGPPeer(peer))
}
