#!/usr/bin/env bash
# Regenerates test/vulndb/: the advisories from a full offline snapshot of Go's
# vulnerability database (OSV files, as in ../shared/vulndb) that name a module
# this repo builds with, the standard library or the toolchain. CI runs
# govulncheck on this trimmed copy because a fresh clone has no ../shared.
# Run it after changing go.mod:  test/vulndb/update.sh [path/to/full/vulndb]
# With --check it changes nothing and fails if the committed copy differs
# from what it would write (test/all.sh runs that when ../shared exists).
set -euo pipefail
cd "$(dirname "$0")/../.."
check=false
if [ "${1:-}" = --check ]; then check=true; shift; fi
src=$(realpath "${1:-../shared/vulndb}")
dst=test/vulndb
if $check; then
  dst=$(mktemp -d)
  trap 'rm -rf "$dst"' EXIT
fi
[ -f "$src/GO-2020-0001.json" ] || { echo "no OSV snapshot in $src" >&2; exit 1; }

# Every module in the build graph (go list -m all), including examples/oidc-app.
mods=$( { go list -m -f '{{.Path}}' all; (cd examples/oidc-app && go list -m -f '{{.Path}}' all); echo stdlib; echo toolchain; } | sort -u)

rm -f "$dst"/GO-*.json
# govulncheck v1.8.0 reads a directory of OSV files as is (no index needed).
find "$src" -maxdepth 1 -name 'GO-*.json' -print0 |
  xargs -0 jq -r --arg mods "$mods" \
    '($mods | split("\n")) as $m | select(any(.affected[]?.package.name; . as $n | $m | index($n))) | input_filename' |
  while read -r f; do cp "$f" "$dst/"; done
sed -n '/dated/{s/.*dated \([0-9-]*\).*/\1/p;q}' "$src/README.md" > "$dst/SNAPSHOT_DATE" || true
if $check; then
  if ! diff -rq -x update.sh -x README.md "$dst" test/vulndb >&2; then
    echo "test/vulndb is out of date for go.mod: run test/vulndb/update.sh and commit" >&2
    exit 1
  fi
  exit 0
fi
echo "$(ls "$dst"/GO-*.json | wc -l) advisories kept of $(ls "$src"/GO-*.json | wc -l)"
