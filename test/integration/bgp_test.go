package integration

import (
	"context"
	"regexp"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/test/integration/framework"
)

// Calico's documented BGPConfiguration and BGPPeer apply unchanged through
// kubectl, read back with their defaults, list with their columns and are
// explained from the published OpenAPI.
func TestBGPKindsWithKubectl(t *testing.T) {
	const docs = `apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata:
  name: default
spec:
  logSeverityScreen: Info
  serviceClusterIPs:
  - cidr: 10.96.0.0/12
---
apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata:
  name: rack1-tor
spec:
  peerIP: 198.18.200.254
  asNumber: 64567
  nodeSelector: rack == 'rack-1'
  maxRestartTime: 15s
`
	kubectl(t, docs, "apply", "-f", "-")
	defer kubectl(t, docs, "delete", "--ignore-not-found", "-f", "-")

	cfg, err := clientset(t).ProjectcalicoV3().BGPConfigurations().Get(context.Background(), "default", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Spec.ASNumber == nil || *cfg.Spec.ASNumber != 64512 || cfg.Spec.NodeToNodeMeshEnabled == nil || !*cfg.Spec.NodeToNodeMeshEnabled || cfg.Spec.ListenPort != 179 {
		t.Errorf("default BGPConfiguration not defaulted to AS 64512, mesh on, port 179: %+v", cfg.Spec)
	}
	peer, err := clientset(t).ProjectcalicoV3().BGPPeers().Get(context.Background(), "rack1-tor", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if peer.Spec.SourceAddress != v3.SourceAddressUseNodeIP || peer.Spec.MaxRestartTime == nil || peer.Spec.MaxRestartTime.Seconds() != 15 {
		t.Errorf("BGPPeer read back as %+v", peer.Spec)
	}

	for _, tc := range []struct {
		args   []string
		header string
		row    *regexp.Regexp
	}{
		{[]string{"get", "bgpconfigurations"}, "NAME AS NUMBER NODE MESH LISTEN PORT AGE", regexp.MustCompile(`(?m)^default\s+64512\s+true\s+179\s+`)},
		{[]string{"get", "bgpconfigurations", "-o", "wide"}, "NAME AS NUMBER NODE MESH LISTEN PORT SERVICE CLUSTER IPS AGE", regexp.MustCompile(`(?m)^default\s+64512\s+true\s+179\s+10\.96\.0\.0/12\s+`)},
		{[]string{"get", "bgppeers"}, "NAME PEER IP AS NUMBER NODES PEER SELECTOR AGE", regexp.MustCompile(`(?m)^rack1-tor\s+198\.18\.200\.254\s+64567\s+rack == 'rack-1'\s+`)},
	} {
		out := kubectl(t, "", tc.args...)
		if got := header(out); got != tc.header {
			t.Errorf("kubectl %v header %q, want %q", tc.args, got, tc.header)
		}
		if !tc.row.MatchString(out) {
			t.Errorf("kubectl %v: no row matching %s:\n%s", tc.args, tc.row, out)
		}
	}

	for resource, want := range map[string]string{
		"bgppeers.spec.peerIP":                         "optionally with a port",
		"bgpconfigurations.spec.nodeToNodeMeshEnabled": "every node peers with every other node",
		"nodes.spec.bgp.routeReflectorClusterID":       "route reflector",
		"nodes.status.bgp.sessions":                    "prefixesReceived",
	} {
		if out := kubectl(t, "", "explain", resource); !strings.Contains(out, want) {
			t.Errorf("kubectl explain %s lacks %q:\n%s", resource, want, out)
		}
	}
	out := kubectl(t, "", "api-resources", "--api-group=projectcalico.org", "-o", "name")
	for _, r := range []string{"bgpconfigurations", "bgppeers"} {
		if !strings.Contains(out, r+".projectcalico.org") {
			t.Errorf("api-resources lacks %s:\n%s", r, out)
		}
	}
}

// What breaks BGP peering is refused with the field and the value named,
// and nothing is stored: an invalid AS number, two nodes with one router
// ID in one AS, a BGPPeer whose peerIP is a node it selects.
func TestBGPRefusals(t *testing.T) {
	const nodeA = `apiVersion: projectcalico.org/v3
kind: Node
metadata:
  name: bgp-refusals-a
  labels: {rack: bgp-refusals}
spec:
  bgp:
    ipv4Address: 198.18.201.1/24
`
	// The cluster uses BGP: router IDs matter.
	const bgpConfig = "apiVersion: projectcalico.org/v3\nkind: BGPConfiguration\nmetadata: {name: default}\nspec: {asNumber: 64512}\n"
	kubectl(t, nodeA+"---\n"+bgpConfig, "apply", "-f", "-")
	defer kubectl(t, nodeA+"---\n"+bgpConfig, "delete", "--ignore-not-found", "-f", "-")

	for _, tc := range []struct {
		name, doc, kind, object string
		want                    []string
	}{
		{
			name: "AS number out of range", kind: "bgpconfiguration", object: "node.bgp-refusals-a",
			doc:  "apiVersion: projectcalico.org/v3\nkind: BGPConfiguration\nmetadata: {name: node.bgp-refusals-a}\nspec: {asNumber: 4294967296}\n",
			want: []string{`spec.asNumber: Invalid value: 4294967296`, "must be an AS number from 1 to 4294967295"},
		},
		{
			name: "peer AS number missing", kind: "bgppeer", object: "no-as",
			doc:  "apiVersion: projectcalico.org/v3\nkind: BGPPeer\nmetadata: {name: no-as}\nspec: {peerIP: 198.18.201.254}\n",
			want: []string{`spec.asNumber: Required value`},
		},
		{
			name: "router ID conflict", kind: "node", object: "bgp-refusals-b",
			doc:  "apiVersion: projectcalico.org/v3\nkind: Node\nmetadata: {name: bgp-refusals-b}\nspec: {bgp: {ipv4Address: 198.18.201.1/32}}\n",
			want: []string{`spec.bgp.ipv4Address: Invalid value: "198.18.201.1/32"`, `node "bgp-refusals-a" has the same router ID 198.18.201.1 in the same AS 64512`},
		},
		{
			name: "peer with a node's own address", kind: "bgppeer", object: "self",
			doc:  "apiVersion: projectcalico.org/v3\nkind: BGPPeer\nmetadata: {name: self}\nspec: {peerIP: 198.18.201.1, asNumber: 64512, nodeSelector: rack == 'bgp-refusals'}\n",
			want: []string{`spec.peerIP: Invalid value: "198.18.201.1"`, `is the address of node "bgp-refusals-a", which the peer selects`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := framework.Kubectl(server.Kubeconfig, tc.doc, "apply", "-f", "-")
			if err == nil {
				t.Fatalf("kubectl apply succeeded: %s", out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("refusal lacks %q:\n%s", w, out)
				}
			}
			if out, err := framework.Kubectl(server.Kubeconfig, "", "get", tc.kind+"/"+tc.object); err == nil {
				t.Errorf("refused object was stored: %s", out)
			}
		})
	}
}
