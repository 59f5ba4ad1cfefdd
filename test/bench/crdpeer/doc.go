// Package crdpeer benchmarks meshapi's WorkloadEndpoints side by side with
// what a user would otherwise pick: a CustomResourceDefinition of the same
// schema, workloadendpoints.crd.projectcalico.org (Calico's own CRD group),
// served by the same kube-apiserver.
//
// Each run starts one e2e cluster (test/e2e/framework: etcd, the upstream
// kube-apiserver with the aggregation layer, meshapi-apiserver behind the
// APIService v3.projectcalico.org), installs the CRD, and runs the same
// workload against both through kube-apiserver with the dynamic client:
// creates from 8 writers, a full list, a label-selected list, a
// field-selected list (spec.node, a selectable field of both), and watch
// delivery (one update at a time until its MODIFIED event arrives). It
// reports each figure for both and the ratio meshapi/CRD. A run is two
// rounds on one cluster (-crdpeer.rounds), alternating which API goes
// first; the figures are the means of the rounds, each round is logged:
//
//	flock /tmp/e2e.lock go test -run '^$' -bench . -benchtime 1x -v -timeout 30m ./test/bench/crdpeer/
//
// The results and the exact command are in BENCHMARKS.md at the root of the
// repository.
package crdpeer
