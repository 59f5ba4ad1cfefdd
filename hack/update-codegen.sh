#!/usr/bin/env bash
# Regenerates everything under pkg/generated and the zz_generated files of
# pkg/apis with k8s.io/code-generator's kube_codegen.sh, at the version
# pinned in go.mod. Never edit generated code by hand: change the types and
# run this.
set -o errexit -o nounset -o pipefail

SCRIPT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "${SCRIPT_ROOT}"
# shellcheck source=hack/lib.sh
source "${SCRIPT_ROOT}/hack/lib.sh"
# Download before asking where it is: on a cold module cache `go list -m`
# prints an empty directory.
CODEGEN_PKG=$(hack::module_dir k8s.io/code-generator)
# kube_codegen.sh installs its generators with `go install`; keep them in a
# private GOBIN so that they never shadow a user's tools.
export GOBIN="${SCRIPT_ROOT}/_output/codegen-bin"
mkdir -p "${GOBIN}"

# shellcheck source=/dev/null
source "${CODEGEN_PKG}/kube_codegen.sh"

THIS_PKG="github.com/meshapi/meshapi"
BOILERPLATE="${SCRIPT_ROOT}/hack/boilerplate.go.txt"

kube::codegen::gen_helpers \
  --boilerplate "${BOILERPLATE}" \
  "${SCRIPT_ROOT}/pkg/apis"

kube::codegen::gen_openapi \
  --output-dir "${SCRIPT_ROOT}/pkg/generated/openapi" \
  --output-pkg "${THIS_PKG}/pkg/generated/openapi" \
  --report-filename "${SCRIPT_ROOT}/hack/api-rules-violations.list" \
  --update-report \
  --output-model-name-file "zz_generated.model_name.go" \
  --extra-pkgs k8s.io/api/core/v1 \
  --boilerplate "${BOILERPLATE}" \
  "${SCRIPT_ROOT}/pkg/apis"

kube::codegen::gen_client \
  --with-watch \
  --with-applyconfig \
  --applyconfig-openapi-schema <(go run "${THIS_PKG}/pkg/generated/openapi/cmd/models-schema") \
  --output-dir "${SCRIPT_ROOT}/pkg/generated" \
  --output-pkg "${THIS_PKG}/pkg/generated" \
  --boilerplate "${BOILERPLATE}" \
  "${SCRIPT_ROOT}/pkg/apis"
