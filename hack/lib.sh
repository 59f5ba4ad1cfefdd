#!/usr/bin/env bash
# Helpers shared by the scripts under hack/ and .ci/run. Source it; it
# defines functions only.

# hack::module_dir MODULE prints the directory of MODULE (as required by the
# go.mod of the current directory) in the module cache, downloading it first.
# `go list -m -f '{{.Dir}}'` prints an empty line for a module that is not in
# the cache yet, so asking without downloading works only on a warm machine.
# Fails with a message naming the module when the download is refused.
hack::module_dir() {
  local module=$1 dir
  if ! go mod download "$module" >&2; then
    echo "hack: go mod download $module failed (module proxy: $(go env GOPROXY)); the step needs this module" >&2
    return 1
  fi
  dir=$(go list -m -f '{{.Dir}}' "$module")
  if [ -z "$dir" ] || [ ! -d "$dir" ]; then
    echo "hack: module $module is not in the module cache ($(go env GOMODCACHE)) after go mod download" >&2
    return 1
  fi
  echo "$dir"
}

# hack::download_modules downloads every module the go.mod of the current
# directory needs, naming the directory when the module proxy refuses.
hack::download_modules() {
  if ! go mod download; then
    echo "hack: go mod download failed in $(pwd) (module proxy: $(go env GOPROXY))" >&2
    return 1
  fi
}
