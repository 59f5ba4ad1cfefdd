package validation

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

func workloadEndpoint() *v3.WorkloadEndpoint {
	return &v3.WorkloadEndpoint{
		ObjectMeta: metav1.ObjectMeta{Name: "worker--1-k8s-db--0-eth0", Namespace: "myapp"},
		Spec: v3.WorkloadEndpointSpec{
			Orchestrator:  "k8s",
			Workload:      "",
			Node:          "worker-1",
			Pod:           "db-0",
			Endpoint:      "eth0",
			IPNetworks:    []string{"10.244.1.5/32", "fd00:10:244:1::5/128"},
			IPv4Gateway:   "169.254.1.1",
			IPv6Gateway:   "fe80::ecee:eeff:feee:eeee",
			Profiles:      []string{"kns.myapp", "ksa.myapp.default"},
			InterfaceName: "cali0ef24b1e2f3",
			MAC:           "66:0e:2e:3c:8e:a0",
			Ports: []v3.WorkloadEndpointPort{
				{Name: "postgres", Protocol: v3.ProtocolFromString("TCP"), Port: 5432},
				{Name: "metrics", Protocol: v3.ProtocolFromInt(17), Port: 9187, HostPort: 9187, HostIP: "198.18.0.11"},
			},
		},
	}
}

func TestValidateWorkloadEndpoint(t *testing.T) {
	runCases(t, workloadEndpoint, ValidateWorkloadEndpoint, []tcase[v3.WorkloadEndpoint]{
		{name: "full endpoint"},
		{name: "mirrored endpoint on a remote node", mut: func(w *v3.WorkloadEndpoint) { w.Spec.Node = "cluster-b/worker-1" }},
		{name: "bare addresses", mut: func(w *v3.WorkloadEndpoint) { w.Spec.IPNetworks = []string{"10.244.1.5", "fd00:10:244:1::5"} }},
		{name: "no optional fields", mut: func(w *v3.WorkloadEndpoint) {
			w.Spec = v3.WorkloadEndpointSpec{Node: "worker-1"}
		}},
		{name: "unnamed port with host port", mut: func(w *v3.WorkloadEndpoint) { w.Spec.Ports[1].Name = "" }},
		{name: "lower-case SCTP and UDPLite ports", mut: func(w *v3.WorkloadEndpoint) {
			w.Spec.Ports[0].Protocol = v3.ProtocolFromString("sctp")
			w.Spec.Ports[1].Protocol = v3.ProtocolFromString("UDPLite")
		}},
		{
			name: "node missing",
			mut:  func(w *v3.WorkloadEndpoint) { w.Spec.Node = "" },
			want: []want{required("spec.node", "node")},
		},
		{
			name: "node with two separators",
			mut:  func(w *v3.WorkloadEndpoint) { w.Spec.Node = "a/b/worker-1" },
			want: []want{invalid("spec.node", `"a/b/worker-1": may contain at most one "/"`)},
		},
		{
			name: "invalid cluster part",
			mut:  func(w *v3.WorkloadEndpoint) { w.Spec.Node = "Cluster_B/worker-1" },
			want: []want{invalid("spec.node", `the cluster name "Cluster_B" before "/" must be a DNS-1123 label`)},
		},
		{
			name: "empty node part",
			mut:  func(w *v3.WorkloadEndpoint) { w.Spec.Node = "cluster-b/" },
			want: []want{invalid("spec.node", `the node name "" must be a DNS-1123 subdomain`)},
		},
		{
			name: "invalid node name",
			mut:  func(w *v3.WorkloadEndpoint) { w.Spec.Node = "Worker 1" },
			want: []want{invalid("spec.node", `"Worker 1"`)},
		},
		{
			name: "network of several addresses",
			mut:  func(w *v3.WorkloadEndpoint) { w.Spec.IPNetworks = []string{"10.244.1.0/24"} },
			want: []want{invalid("spec.ipNetworks[0]", `"10.244.1.0/24": must be a single address (/32)`)},
		},
		{
			name: "network not a CIDR",
			mut:  func(w *v3.WorkloadEndpoint) { w.Spec.IPNetworks = []string{"10.244.1.5/32", "pod-ip"} },
			want: []want{invalid("spec.ipNetworks[1]", `"pod-ip"`)},
		},
		{
			name: "gateways of the wrong family",
			mut:  func(w *v3.WorkloadEndpoint) { w.Spec.IPv4Gateway, w.Spec.IPv6Gateway = "fe80::1", "169.254.1.1" },
			want: []want{
				invalid("spec.ipv4Gateway", `"fe80::1": must be an IPv4 address`),
				invalid("spec.ipv6Gateway", `"169.254.1.1": must be an IPv6 address`),
			},
		},
		{
			name: "MAC invalid",
			mut:  func(w *v3.WorkloadEndpoint) { w.Spec.MAC = "66:0e:2e:3c:8e:a0:ff" },
			want: []want{invalid("spec.mac", `"66:0e:2e:3c:8e:a0:ff"`)},
		},
		{
			name: "interface name too long",
			mut:  func(w *v3.WorkloadEndpoint) { w.Spec.InterfaceName = "cali0ef24b1e2f3a" },
			want: []want{invalid("spec.interfaceName", `"cali0ef24b1e2f3a": not a valid Linux interface name`)},
		},
		{
			name: "empty profile",
			mut:  func(w *v3.WorkloadEndpoint) { w.Spec.Profiles = []string{"kns.myapp", ""} },
			want: []want{required("spec.profiles[1]", "profile names must not be empty")},
		},
		{
			name: "port without name or host port",
			mut:  func(w *v3.WorkloadEndpoint) { w.Spec.Ports[0].Name = "" },
			want: []want{required("spec.ports[0].name", "a port name is required")},
		},
		{
			name: "duplicate port name",
			mut:  func(w *v3.WorkloadEndpoint) { w.Spec.Ports[1].Name = "postgres" },
			want: []want{duplicate("spec.ports[1].name", `"postgres"`)},
		},
		{
			name: "port name not an IANA service name",
			mut:  func(w *v3.WorkloadEndpoint) { w.Spec.Ports[0].Name = "Postgres_Port" },
			want: []want{invalid("spec.ports[0].name", `"Postgres_Port"`)},
		},
		{
			name: "port protocol without ports",
			mut:  func(w *v3.WorkloadEndpoint) { w.Spec.Ports[0].Protocol = v3.ProtocolFromString("ICMP") },
			want: []want{invalid("spec.ports[0].protocol", `"ICMP": must be a protocol with ports: TCP, UDP, SCTP or UDPLite`)},
		},
		{
			name: "port protocol number without ports",
			mut:  func(w *v3.WorkloadEndpoint) { w.Spec.Ports[1].Protocol = v3.ProtocolFromInt(1) },
			want: []want{invalid("spec.ports[1].protocol", `"1": must be a protocol with ports`)},
		},
		{
			name: "port protocol missing",
			mut:  func(w *v3.WorkloadEndpoint) { w.Spec.Ports[0].Protocol = v3.Protocol{} },
			want: []want{required("spec.ports[0].protocol", "TCP, UDP, SCTP or UDPLite")},
		},
		{
			name: "port protocol of the wrong case",
			mut:  func(w *v3.WorkloadEndpoint) { w.Spec.Ports[0].Protocol = v3.ProtocolFromString("Tcp") },
			want: []want{invalid("spec.ports[0].protocol", `"Tcp": must be one of TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite`)},
		},
		{
			name: "port zero",
			mut:  func(w *v3.WorkloadEndpoint) { w.Spec.Ports[0].Port = 0 },
			want: []want{invalid("spec.ports[0].port", "0: must be from 1 to 65535")},
		},
		{
			name: "host IP invalid",
			mut:  func(w *v3.WorkloadEndpoint) { w.Spec.Ports[1].HostIP = "0.0.0" },
			want: []want{invalid("spec.ports[1].hostIP", `"0.0.0"`)},
		},
	})
}

func hostEndpoint() *v3.HostEndpoint {
	return &v3.HostEndpoint{
		ObjectMeta: metav1.ObjectMeta{Name: "worker-1-eth0"},
		Spec: v3.HostEndpointSpec{
			Node:          "worker-1",
			InterfaceName: "eth0",
			ExpectedIPs:   []string{"198.18.0.11", "fd00:198:18::11"},
			Profiles:      []string{"projectcalico-default-allow"},
			Ports:         []v3.EndpointPort{{Name: "ssh", Protocol: v3.ProtocolFromString("TCP"), Port: 22}},
		},
	}
}

func TestValidateHostEndpoint(t *testing.T) {
	runCases(t, hostEndpoint, ValidateHostEndpoint, []tcase[v3.HostEndpoint]{
		{name: "full endpoint"},
		{name: "interface only", mut: func(h *v3.HostEndpoint) { h.Spec.ExpectedIPs = nil }},
		{name: "expected IPs only", mut: func(h *v3.HostEndpoint) { h.Spec.InterfaceName = "" }},
		{name: "all interfaces", mut: func(h *v3.HostEndpoint) { h.Spec.InterfaceName = "*" }},
		{name: "mirrored host endpoint", mut: func(h *v3.HostEndpoint) { h.Spec.Node = "cluster-b/worker-1" }},
		{
			name: "node missing",
			mut:  func(h *v3.HostEndpoint) { h.Spec.Node = "" },
			want: []want{required("spec.node", "")},
		},
		{
			name: "neither interface nor expected IPs",
			mut:  func(h *v3.HostEndpoint) { h.Spec.InterfaceName, h.Spec.ExpectedIPs = "", nil },
			want: []want{required("spec", "one of interfaceName or expectedIPs is required")},
		},
		{
			name: "interface name with space",
			mut:  func(h *v3.HostEndpoint) { h.Spec.InterfaceName = "eth 0" },
			want: []want{invalid("spec.interfaceName", `"eth 0": not a valid Linux interface name`)},
		},
		{
			name: "expected IP with prefix",
			mut:  func(h *v3.HostEndpoint) { h.Spec.ExpectedIPs = []string{"198.18.0.0/24"} },
			want: []want{invalid("spec.expectedIPs[0]", `"198.18.0.0/24": must be a valid IP address`)},
		},
		{
			name: "expected IP invalid",
			mut:  func(h *v3.HostEndpoint) { h.Spec.ExpectedIPs = []string{"198.18.0.11", "worker-1"} },
			want: []want{invalid("spec.expectedIPs[1]", `"worker-1"`)},
		},
		{
			name: "empty profile",
			mut:  func(h *v3.HostEndpoint) { h.Spec.Profiles = []string{""} },
			want: []want{required("spec.profiles[0]", "")},
		},
		{
			name: "port without ports protocol",
			mut:  func(h *v3.HostEndpoint) { h.Spec.Ports[0].Protocol = v3.ProtocolFromString("ICMPv6") },
			want: []want{invalid("spec.ports[0].protocol", `"ICMPv6": must be a protocol with ports`)},
		},
		{
			name: "unnamed port",
			mut:  func(h *v3.HostEndpoint) { h.Spec.Ports[0].Name = "" },
			want: []want{required("spec.ports[0].name", "")},
		},
		{
			name: "duplicate port names and port zero",
			mut: func(h *v3.HostEndpoint) {
				h.Spec.Ports = append(h.Spec.Ports, v3.EndpointPort{Name: "ssh", Protocol: v3.ProtocolFromString("udp")})
			},
			want: []want{
				duplicate("spec.ports[1].name", `"ssh"`),
				invalid("spec.ports[1].port", "0: must be from 1 to 65535"),
			},
		},
	})
}
