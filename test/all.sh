#!/usr/bin/env bash
# Runs every fedgate test on a machine that may never have seen this repo:
# installs what the tests need (Debian packages, the npm peers from the lock
# file), then the Go checks and tests, then the interop/browser tests.
set -euo pipefail
cd "$(dirname "$0")/.."

# 1. System packages the tests use (Chromium for browser tests, xmlsec1 and
#    xmllint for independent XML checks).
need=()
command -v chromium >/dev/null || need+=(chromium fonts-liberation fonts-noto-cjk)
command -v node >/dev/null || need+=(nodejs npm)
if [ ${#need[@]} -gt 0 ]; then
  echo "== installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# 2. npm peers, exactly as pinned in test/package-lock.json.
echo "== npm ci (test/)"
npm ci --prefix test --no-audit --no-fund --loglevel=error

# 3. Go: formatting, vet, unit tests (with the race detector).
echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './test/node_modules/*'))
if [ -n "$unformatted" ]; then echo "gofmt needed: $unformatted"; exit 1; fi
echo "== go vet"
go vet ./...
echo "== go test"
go test -race -count=1 ./...

# 4. Interop and browser tests (node's test runner; they start fedgate themselves).
echo "== node --test"
go build -o test/out/fedgate ./cmd/fedgate
node --test --test-concurrency=1 test/e2e/
