#!/usr/bin/env bash
# Runs every Go fuzz target in the module for a short fixed time each.
# Targets are discovered (go test -list), so a new Fuzz* function anywhere
# is picked up without editing this file. A failure leaves its input in
# the package's testdata/fuzz/ for `go test -run` to replay.
#   test/fuzz.sh [seconds-per-target]   (default 5; FUZZTIME overrides)
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime="${1:-${FUZZTIME:-5}}s"

# Packages with a Fuzz* function in a _test.go file.
mapfile -t pkgs < <(grep -rlE --include='*_test.go' '^func Fuzz[A-Z0-9_]' . |
  grep -v -e '/node_modules/' -e '^./examples/' | xargs -n1 dirname | sort -u)
total=0
failed=()
for dir in "${pkgs[@]}"; do
  pkg="./${dir#./}"
  mapfile -t targets < <(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true)
  for target in "${targets[@]}"; do
    total=$((total + 1))
    echo "== fuzz $pkg $target ($fuzztime)"
    # -run '^$' skips unit tests; one worker keeps a shared machine usable.
    if ! go test "$pkg" -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" -parallel 1; then
      failed+=("$pkg $target")
    fi
  done
done
if [ "$total" -eq 0 ]; then echo "fuzz: no targets found" >&2; exit 1; fi
if [ ${#failed[@]} -gt 0 ]; then
  printf 'fuzz: FAILED %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "fuzz: $total targets passed"
