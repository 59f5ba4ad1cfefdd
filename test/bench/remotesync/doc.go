// Package remotesync benchmarks the remote cluster sync of meshapi: how long
// meshapi-controller's remote cluster controller (pkg/remotecluster) takes
// to mirror a remote cluster's WorkloadEndpoints into the local cluster.
//
// The benchmarks run two real standalone meshapi-apiserver processes on
// loopback, each on its own embedded etcd: "A", the local cluster, and "B",
// the remote one. The controller runs inside the benchmark process against
// A, with a RemoteClusterConfiguration that reaches B through an inline
// connection, so that its memory can be read with runtime.ReadMemStats.
//
// They measure the initial sync of 10,000 and 50,000 endpoints (time,
// memory, and the ratio of its rate to A's rate of plain creates of the
// same mirrors from 16 writers, measured in the same run), the propagation
// latency of single creates from B to A (idle, and while other endpoints
// of B churn at 1,000 updates/s) against B's own create call, the
// events per second delivered to A while B's endpoints churn, and one
// controller syncing 50 remote clusters of 1,000 endpoints each
// (BenchmarkManyRemotes, which starts its own 50 API servers), before and
// after all of them are killed and restarted at once:
//
//	go test -run '^$' -bench . -benchtime 1x -timeout 60m ./test/bench/remotesync/
//
// The results and the exact commands are in BENCHMARKS.md at the root of
// the repository.
package remotesync
