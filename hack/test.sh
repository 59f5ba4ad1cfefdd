#!/usr/bin/env bash
# The project's test command (README: `make test`). Builds the real
# Kubernetes, containerd and CoreDNS programs the tests run, checks
# formatting and vet, then runs every test of the module: unit tests,
# integration tests against a real meshapi-apiserver on an embedded etcd
# driven by the real kubectl, and the end-to-end tests, among them the
# real-node ones (kubelet and containerd, TestRealPods*) and upstream's
# stable [sig-network] subset (TestUpstreamNetworkE2E).
set -o errexit -o nounset -o pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

t0=$(date +%s)
# step NAME prints the time since the start of the test run and NAME.
step() { printf '\n==> [%ds] %s\n' "$(( $(date +%s) - t0 ))" "$*"; }

# Every upstream program the end-to-end tests run, built from source
# (hack/build-tools.sh with no step: the control plane, the real nodes'
# kubelet, kube-proxy, kube-scheduler, containerd and CoreDNS, and their
# images), then upstream's [sig-network] e2e.test, which
# TestUpstreamNetworkE2E runs against a cluster with a real node. Warm,
# both take a few minutes (linking); cold, see the README.
step "building the control plane, the node components and their images (hack/build-tools.sh)"
hack/build-tools.sh
step "building upstream's [sig-network] e2e.test (hack/build-tools.sh e2e.test)"
hack/build-tools.sh e2e.test

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './_output/*'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:" >&2; echo "$unformatted" >&2; exit 1
fi

step "go vet"
go vet ./...

step "go test"
export KUBECTL="$root/bin/kubectl"
go test -count=1 -timeout 60m "$@" ./...
step "go test in hack/tools/ocimage (the image writer; its own module)"
(cd hack/tools/ocimage && go vet ./... && go test -count=1 "$@" ./...)
# Mutating fuzz runs are opt-in (FUZZTIME=8s make test): the first one
# rebuilds every dependency with coverage instrumentation, about ten minutes
# on a cold build cache. `go test` above already runs every target's seeds.
if [ -n "${FUZZTIME:-}" ]; then
  step "fuzz (hack/fuzz.sh, ${FUZZTIME} per target)"; hack/fuzz.sh
fi
step "done"
