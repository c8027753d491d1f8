#!/usr/bin/env bash
# Regenerates test/vulndb/: the advisories from a full offline snapshot of Go's
# vulnerability database (OSV files, as in ../shared/vulndb) that name a module
# this repo builds with, the standard library or the toolchain. CI runs
# govulncheck on this trimmed copy because a fresh clone has no ../shared.
# Run it after changing go.mod:  test/vulndb/update.sh [path/to/full/vulndb]
set -euo pipefail
cd "$(dirname "$0")/../.."
src=$(realpath "${1:-../shared/vulndb}")
dst=test/vulndb
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
echo "$(ls "$dst"/GO-*.json | wc -l) advisories kept of $(ls "$src"/GO-*.json | wc -l)"
