#!/usr/bin/env bash
# Runs upstream Kubernetes' [sig-network] end-to-end tests (bin/e2e.test,
# built from k8s.io/kubernetes/test/e2e by `hack/build-tools.sh e2e.test`)
# against a meshapi cluster with a real node, streams ginkgo's output and
# prints its summary: how many specs ran, passed, failed and were skipped,
# and the names of the failed ones.
#
# Usage: hack/upstream-e2e.sh [--full] [--procs N] [--focus REGEX] [--skip REGEX] [--kubeconfig FILE] [E2E-FLAG...]
#
#   (default)         the small stable subset CI runs (pod-to-pod, ClusterIP
#                     and NodePort Services, DNS): 8 specs, a few minutes;
#   --full            every [sig-network] spec a cluster of one CNI without
#                     a cloud provider can run (no [Serial], [Disruptive],
#                     [Slow], [Feature:...], LoadBalancer, IPv6 or Windows);
#   --procs N         run the specs in N parallel processes with bin/ginkgo
#                     (the ginkgo CLI, as upstream's hack/ginkgo-e2e.sh);
#                     the default 1 runs e2e.test itself, serially;
#   --focus/--skip    replace the focus/skip regular expressions;
#   --kubeconfig FILE run against that running cluster instead;
#   E2E-FLAG...       passed to e2e.test as they are (e.g. --ginkgo.dry-run).
#
# Without --kubeconfig the script brings the cluster up and down itself: it
# runs the Go test TestUpstreamNetworkE2E (test/e2e/upstream_test.go, as
# root), which starts the e2e framework's real-node mesh (meshapi cluster A
# with a real kubelet/containerd node running kube-proxy, CoreDNS and the
# meshapi agent as Pods, connected to a cluster B) and calls this script
# back with --kubeconfig set to cluster A's; the Go test fails if any spec
# failed. It needs what `hack/build-tools.sh` and `hack/build-tools.sh
# e2e.test` build into bin/.
#
# A cluster of --kubeconfig needs real nodes (kubelet, containerd,
# kube-proxy), the images of bin/images/images.txt imported into every
# node's containerd (the suites use upstream's tags with the default pull
# policy, which does not pull an image already present), and CoreDNS as
# kube-system/kube-dns for the DNS specs. Results and the full log go to
# ${REPORT_DIR:-_output/upstream-e2e}. Exit status: e2e.test's (0 when no
# spec failed).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

stable_focus='\[sig-network\] (Networking Granular Checks: Pods should function for (intra|node)-pod communication: (http|udp)|Services should (serve a basic endpoint from pods|be able to create a functioning NodePort service)|DNS should (provide DNS for services|resolve DNS of partial qualified names for services ))'
full_focus='\[sig-network\]'
full_skip='\[Serial\]|\[Disruptive\]|\[Slow\]|\[Flaky\]|\[Feature:[^]]+\]|\[FeatureGate:[^]]+\]|LoadBalancer|IPv6|[Ii]ngress|ExternalName.*LoadBalancer|Windows|SCTP|hostPort'

focus=$stable_focus
skip=$full_skip
kubeconfig=""
full=false
procs=1
extra=()
args=("$@")
while [ $# -gt 0 ]; do
  case $1 in
    --full) focus=$full_focus; full=true ;;
    --focus) focus=$2; shift ;;
    --skip) skip=$2; shift ;;
    --procs) procs=$2; shift ;;
    --kubeconfig) kubeconfig=$2; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) extra+=("$1") ;;
  esac
  shift
done

case $procs in ''|*[!0-9]*|0) echo "hack/upstream-e2e.sh: --procs $procs: want a positive number of processes" >&2; exit 2 ;; esac
needed=(e2e.test kubectl)
[ "$procs" -gt 1 ] && needed+=(ginkgo)
for bin in "${needed[@]}"; do
  [ -x "$root/bin/$bin" ] || { echo "hack/upstream-e2e.sh: bin/$bin is missing: run hack/build-tools.sh $bin" >&2; exit 1; }
done

if [ -z "$kubeconfig" ]; then
  # Bring a cluster up: the Go test calls this script back with
  # --kubeconfig and the same arguments (one per line).
  timeout=25m
  $full && timeout=4h
  echo "hack/upstream-e2e.sh: starting a meshapi cluster with a real node (go test -run TestUpstreamNetworkE2E)"
  cd "$root"
  UPSTREAM_E2E_ARGS=$(printf '%s\n' "${args[@]}") \
    exec go test ./test/e2e/ -run '^TestUpstreamNetworkE2E$' -count=1 -v -timeout "$timeout"
fi

report_dir=${REPORT_DIR:-$root/_output/upstream-e2e}
mkdir -p "$report_dir"
log="$report_dir/e2e.log"

echo "hack/upstream-e2e.sh: bin/e2e.test ($("$root/bin/e2e.test" --version)) against $kubeconfig"
echo "hack/upstream-e2e.sh: focus: $focus"
echo "hack/upstream-e2e.sh: skip:  $skip"
echo "hack/upstream-e2e.sh: log:   $log"
start=$(date +%s)
status=0
e2e_flags=(--kubeconfig="$kubeconfig" --kubectl-path="$root/bin/kubectl" --provider=local
  --report-dir="$report_dir" --dump-logs-on-failure=false)
if [ "$procs" -gt 1 ]; then
  echo "hack/upstream-e2e.sh: $procs parallel processes (bin/ginkgo)"
  "$root/bin/ginkgo" --procs="$procs" --focus="$focus" --skip="$skip" --no-color --timeout=4h \
    "$root/bin/e2e.test" -- "${e2e_flags[@]}" "${extra[@]}" 2>&1 | tee "$log" || status=${PIPESTATUS[0]}
else
  "$root/bin/e2e.test" "${e2e_flags[@]}" --ginkgo.focus="$focus" --ginkgo.skip="$skip" \
    --ginkgo.no-color --ginkgo.timeout=4h "${extra[@]}" 2>&1 | tee "$log" || status=${PIPESTATUS[0]}
fi

# ginkgo ends with "Ran N of M Specs in T seconds" and one line of counts;
# the failed specs are listed after "Summarizing N Failures:".
echo
echo "hack/upstream-e2e.sh: e2e.test exited $status after $(( $(date +%s) - start ))s"
sed -n '/^Summarizing [0-9]* Failure/,/^Ran [0-9]* of/p' "$log" | grep -E '^\s*\[(FAIL|PANICKED|TIMEDOUT)\]|^Summarizing' || true
grep -E '^Ran [0-9]+ of [0-9]+ Specs|^(SUCCESS|FAIL)! -- ' "$log" || { echo "hack/upstream-e2e.sh: no ginkgo summary in $log; its last lines:" >&2; tail -20 "$log" >&2; }
exit "$status"
