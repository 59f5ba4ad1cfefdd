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

step "building kube-apiserver, kube-controller-manager and kubectl (hack/build-tools.sh)"
hack/build-tools.sh

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
step "fuzz (hack/fuzz.sh, ${FUZZTIME:-8s} per target)"; FUZZTIME=${FUZZTIME:-8s} hack/fuzz.sh
step "done"
