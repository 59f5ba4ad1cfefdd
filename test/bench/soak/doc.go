// Package soak is the soak benchmark of the cluster mesh (issue 18): three
// real clusters in a full mesh (each has a RemoteClusterConfiguration for
// each of the other two, overlay routing Enabled), 50,000
// WorkloadEndpoints spread over them, and 100 events/s of churn for ten
// minutes.
//
// Each cluster is what test/e2e/framework starts: etcd, kube-apiserver,
// kube-controller-manager, meshapi-apiserver on its own etcd behind the
// APIService, and the meshapi-controller binary, plus one meshapi-agent
// node (a network namespace on a shared underlay bridge). The churn is
// creates, label changes, address changes and deletes of endpoints, in
// equal parts, so that the count stays steady. Every event's endpoint
// carries a label with its sequence number; a watch in each other cluster
// sees the mirror change, which gives the propagation latency of every
// event.
//
// Every sample interval it records, per cluster, meshapi-controller's and
// meshapi-agent's resident set size and heap (their /metrics), the
// propagation latencies of the events sent in that interval, and the
// controllers' remote_cluster_errors_total; at the end it checks that
// every mirror equals its remote's endpoints, and prints the table
// BENCHMARKS.md shows. It fails only if something is broken (a mirror
// that differs, a cluster that does not sync); speed and memory are
// reported, not asserted.
//
// It is not run by CI. As root, from the repository root:
//
//	go test -run '^$' -bench BenchmarkSoak -benchtime 1x -timeout 60m ./test/bench/soak/ \
//	    -args -soak.duration=10m -soak.endpoints=50000 -soak.rate=100 -soak.sample=30s
package soak
