#!/usr/bin/env bash
# Builds the upstream kube-apiserver, kube-controller-manager and kubectl (k8s.io/kubernetes v1.37.2,
# pinned in hack/tools/go.mod) into bin/, for the end-to-end tests.
# Idempotent: with a warm Go build cache this takes seconds; a cold build
# takes about ten minutes on two cores.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/bin"
mkdir -p "$out"
cd "$root/hack/tools"
# shellcheck source=hack/lib.sh
source "$root/hack/lib.sh"
# Download the tools module's dependencies first so that a refused download
# names itself instead of failing inside a build.
echo "hack/build-tools.sh: downloading the modules of hack/tools (cold: about a minute)"
hack::download_modules
# Stamp the binaries with the version they are built from, as the upstream
# release does, so that version skew checks and discovery report v1.37.2.
k8s_version=$(go list -m -f '{{.Version}}' k8s.io/kubernetes)
minor=$(echo "$k8s_version" | cut -d. -f2)
ldflags=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
done
for tool in kube-apiserver kube-controller-manager kubectl; do
  echo "hack/build-tools.sh: building $tool into bin/ (cold: ~10 min, warm: seconds)"
  start=$(date +%s)
  go build -trimpath -ldflags "$ldflags" -o "$out/$tool" "./$tool"
  echo "hack/build-tools.sh: $tool built in $(( $(date +%s) - start ))s: $("$out/$tool" --version 2>/dev/null || "$out/$tool" version --client 2>/dev/null | head -1)"
done
