#!/usr/bin/env bash
# Runs every native Go fuzz target of the module (func FuzzXxx(*testing.F)
# in a _test.go file under pkg/) for a bounded time each, one after the
# other. `go test` alone runs only their seed corpora (f.Add and
# testdata/fuzz); this script mutates.
#
#   FUZZTIME=10s hack/fuzz.sh          # CI (hack/test.sh): ~10 s per target
#   FUZZTIME=10m hack/fuzz.sh          # a longer hunt
#   FUZZ_MATCH=Validate hack/fuzz.sh   # only targets whose name matches
#
# FUZZ_PARALLEL sets go test -parallel (default: GOMAXPROCS). A failing
# input is written by go test to <package>/testdata/fuzz/<Target>/; commit
# it with the fix as a regression case. Exits non-zero if any target
# failed, after running them all.
set -o errexit -o nounset -o pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

fuzztime=${FUZZTIME:-10s}
match=${FUZZ_MATCH:-}
parallel=()
if [ -n "${FUZZ_PARALLEL:-}" ]; then parallel=(-parallel "$FUZZ_PARALLEL"); fi

# targets prints "<package dir> <FuzzName>" for every fuzz target under pkg/.
targets() {
  grep -rEo --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*\(f \*testing\.F\)' pkg |
    sed -E 's|^(.*)/[^/]*_test\.go:func (Fuzz[A-Za-z0-9_]*)\(.*$|\1 \2|' | sort -u
}

failed=()
count=0
while read -r dir name; do
  if [ -n "$match" ] && [[ "$name" != *"$match"* ]]; then continue; fi
  count=$((count + 1))
  echo "--- fuzz ./$dir $name for $fuzztime"
  if ! go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" ${parallel[@]+"${parallel[@]}"} "./$dir"; then
    failed+=("./$dir $name")
  fi
done < <(targets)

if [ "$count" -eq 0 ]; then
  echo "fuzz: no target matched ${match:-anything} under pkg/" >&2
  exit 1
fi
if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz: ${#failed[@]} of $count targets failed (inputs under <package>/testdata/fuzz/):" >&2
  printf '  %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "fuzz: $count targets, $fuzztime each, no failure"
