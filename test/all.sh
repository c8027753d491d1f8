#!/usr/bin/env bash
# Runs every fedgate test on a machine that may never have seen this repo:
# installs what the tests need (Debian packages, the npm peers from the lock
# file), then the Go checks and tests, then the interop/browser tests.
set -euo pipefail
cd "$(dirname "$0")/.."

# 1. System packages the tests use: Chromium for browser tests, nginx and
#    Caddy for the forward-auth tests (they run docs/proxy.md's snippets), an
#    MIT KDC and its clients (kinit, curl's GSSAPI) for Windows integrated
#    sign-in, wrk for the proxy benchmark, redis-server for the Redis store
#    and the fleet test, systemd-analyze to verify the example unit, xmlsec1 to check every XML
#    signature independently, xmllint and the SAML schemas to validate
#    what fedgate emits, gcc for the race detector (cgo), jq to check the
#    vulnerability snapshot.
need=()
command -v gcc >/dev/null || need+=(gcc libc6-dev)
command -v jq >/dev/null || need+=(jq)  # test/vulndb/update.sh
command -v chromium >/dev/null || need+=(chromium fonts-liberation fonts-noto-cjk)
command -v nginx >/dev/null || need+=(nginx)
command -v caddy >/dev/null || need+=(caddy)
[ -x /usr/sbin/krb5kdc ] || need+=(krb5-kdc krb5-admin-server)
command -v kinit >/dev/null || need+=(krb5-user libgssapi-krb5-2)
command -v curl >/dev/null || need+=(curl)
command -v openssl >/dev/null || need+=(openssl)   # test/saml/upstream.test.mjs: IdP and SP keys
command -v wrk >/dev/null || need+=(wrk)
command -v redis-server >/dev/null || need+=(redis-server)
command -v systemd-analyze >/dev/null || need+=(systemd)
command -v xmlsec1 >/dev/null || need+=(xmlsec1)
command -v xmllint >/dev/null || need+=(libxml2-utils)
[ -f /usr/share/xml/opensaml/saml-schema-metadata-2.0.xsd ] || need+=(opensaml-schemas)
[ -f /usr/share/xml/xmltooling/xmldsig-core-schema.xsd ] || need+=(xmltooling-schemas)
command -v node >/dev/null || need+=(nodejs npm)
if [ ${#need[@]} -gt 0 ]; then
  echo "== installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# Node as test/package.json's engines.node (">=N") asks: Debian's may lag.
want_node=$(sed -n 's/.*"node": *">=\([0-9][0-9]*\)".*/\1/p' test/package.json)
have_node=$(node -p 'process.versions.node.split(".")[0]')
if [ "$have_node" -lt "${want_node:?no engines.node in test/package.json}" ]; then
  echo "Node $want_node or newer is needed (test/package.json engines); found $(node --version)" >&2
  exit 1
fi

# 2. npm peers, exactly as pinned in the lock files: test/ (OIDC peers,
#    playwright-core) and test/saml/ (node-saml, passport-wsfed-saml2, which
#    pin different versions of xml-crypto and so live apart).
for dir in test test/saml; do
  echo "== npm ci ($dir/)"
  npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error
done

# 3. Go: formatting, vet, staticcheck, unit tests (with the race detector).
echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './test/node_modules/*'))
if [ -n "$unformatted" ]; then echo "gofmt needed: $unformatted"; exit 1; fi
echo "== go vet"
go vet ./...
echo "== staticcheck"
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...
echo "== govulncheck (offline, test/vulndb: regenerate with test/vulndb/update.sh)"
# Fails (exit 3) only when our code reaches a vulnerable symbol. Where the
# full snapshot is at hand, the trimmed copy must match go.mod.
if [ -d ../shared/vulndb ]; then test/vulndb/update.sh --check ../shared/vulndb; fi
go run golang.org/x/vuln/cmd/govulncheck@v1.8.0 -db "file://$PWD/test/vulndb" ./...
echo "== go test"
# Tests that need a real peer (nginx, ...) fail here rather than skip.
export FEDGATE_REQUIRE_PEERS=1
go test -race -count=1 ./...
echo "== fuzz (every Fuzz* target, 5 s each)"
test/fuzz.sh 5
echo "== examples/oidc-app (own module)"
(cd examples/oidc-app && go vet ./... && go build -o /dev/null .)

# 4. Interop and browser tests (node's test runner; they start fedgate themselves).
echo "== node --test"
go build -o test/out/fedgate ./cmd/fedgate
node --test --test-concurrency=1 test/e2e/ test/saml/
