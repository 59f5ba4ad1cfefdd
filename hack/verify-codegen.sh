#!/usr/bin/env bash
# Fails when the generated code is stale: regenerates into the work tree and
# asks git whether anything changed.
set -o errexit -o nounset -o pipefail
SCRIPT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "${SCRIPT_ROOT}"
"${SCRIPT_ROOT}/hack/update-codegen.sh"
if ! git diff --exit-code --stat -- pkg/apis pkg/generated hack/api-rules-violations.list || \
   [ -n "$(git status --porcelain --untracked-files=all -- pkg/apis pkg/generated)" ]; then
  echo "verify-codegen: generated code is stale; run hack/update-codegen.sh and commit the result" >&2
  git status --porcelain -- pkg/apis pkg/generated >&2
  exit 1
fi
echo "verify-codegen: generated code is up to date"
