#!/usr/bin/env bash
# The project's test command (README: `make test`). Builds the real
# kube-apiserver and kubectl the tests run against, checks formatting and
# vet, then runs every test of the module: unit tests, and integration
# tests against a real meshapi-apiserver on an embedded etcd driven by the
# real kubectl.
set -o errexit -o nounset -o pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

t0=$(date +%s)
# step NAME prints the time since the start of the test run and NAME.
step() { printf '\n==> [%ds] %s\n' "$(( $(date +%s) - t0 ))" "$*"; }

step "building kube-apiserver, kube-controller-manager and kubectl (hack/build-tools.sh control-plane)"
# The real-node components (kubelet, containerd, CoreDNS, images) are built
# by `hack/build-tools.sh` with no step named; the tests that need them are
# built with -tags realpods and are not part of this run yet.
hack/build-tools.sh control-plane

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './_output/*'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:" >&2; echo "$unformatted" >&2; exit 1
fi

step "go vet"
go vet ./...

step "go test"
export KUBECTL="$root/bin/kubectl"
go test -count=1 -timeout 30m "$@" ./...
step "go test in hack/tools/ocimage (the image writer; its own module)"
(cd hack/tools/ocimage && go vet ./... && go test -count=1 "$@" ./...)
# Mutating fuzz runs are opt-in (FUZZTIME=8s make test): the first one
# rebuilds every dependency with coverage instrumentation, about ten minutes
# on a cold build cache. `go test` above already runs every target's seeds.
if [ -n "${FUZZTIME:-}" ]; then
  step "fuzz (hack/fuzz.sh, ${FUZZTIME} per target)"; hack/fuzz.sh
fi
step "done"
