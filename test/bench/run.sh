#!/usr/bin/env bash
# Hot-path benchmark (issue 17), loopback only, bounded: fedgate against its
# own bare baselines in one run, in alternating rounds, medians reported,
# with ratios. Not a test and not run by CI.
#
#   test/bench/run.sh
#   ROUNDS=3 SECS=10 CONNS=64 FLOWC=16 USERS=10000 test/bench/run.sh
#
# Rows: the proxied request (tuned bare httputil.ReverseProxy with a
# BufferPool, and beside it the same run with fedgate's server timeouts and heap floor, vs fedgate with a fresh cookie vs a client that ignores
# Set-Cookie and keeps a stale one, on the memory store, and fresh on the
# bolt store, the embedded default); OIDC code flows with an existing session
# (a minimal OP signing once with RS256 vs fedgate RS256 on the memory and
# the bolt store, and ES256); fresh sign-ins (memory vs bolt); SAML answers
# to a signed-in browser vs raw RSA-2048 signatures/s on one core; RSS with
# 1 and USERS signed-in users, and USERS sign-ins serving 1 (memory and Redis stores). Issue 14's fleet rows: the proxied request
# through fedgate on the Redis store (a redis-server of its own, nothing on
# disk) vs the same bare proxy, and vs the real oauth2-proxy (the version
# pinned below, built once with go install) with its Redis session store on
# the same redis-server and fedgate as its OpenID Provider, its sessions from
# real sign-ins. CPU per request is the server process's (user+system from
# /proc), divided by what the client completed.
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${ROUNDS:-3}
secs=${SECS:-10}
conns=${CONNS:-64}
flowc=${FLOWC:-64}
users=${USERS:-10000}
command -v wrk >/dev/null || { echo "wrk is required (apt-get install wrk)"; exit 1; }
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

echo "== building"
for b in fedgate:./cmd/fedgate backend:./test/bench/backend bareproxy:./test/bench/bareproxy \
  mint:./test/bench/mint load:./test/bench/load minop:./test/bench/minop; do
  go build -o "$work/${b%%:*}" "${b#*:}"
done
# The real oauth2-proxy, built from the Go module proxy once per version and
# kept between runs (its build takes minutes).
o2p_version=v7.15.6
o2p_bin=${XDG_CACHE_HOME:-$HOME/.cache}/fedgate-bench/oauth2-proxy-$o2p_version/oauth2-proxy
[ -x "$o2p_bin" ] || GOBIN=$(dirname "$o2p_bin") go install "github.com/oauth2-proxy/oauth2-proxy/v7@$o2p_version"
. test/bench/lib.sh
backend_port=$(freeport); bare_port=$(freeport); minop_port=$(freeport); o2p_port=$(freeport); baret_port=$(freeport)
mkdir "$work/redis"
redis_start "$work/redis"
pids+=("$redis_pid")

# Keys, a bcrypt cost-4 user (sign-ins measure fedgate, not the hash), a
# loopback + group policy, and one config per store.
"$work/fedgate" keys generate --cookie "$work/cookie.key" >/dev/null
"$work/fedgate" keys generate --signing "$work/rsa.pem" --alg rsa2048 >/dev/null
"$work/fedgate" keys generate --signing "$work/p256.pem" --alg p256 >/dev/null
cat > "$work/users.yaml" <<YAML
users:
  - { username: bench, password_hash: "$(go run ./test/bench/hash bench-pw)", groups: [staff], email: bench@example.com }
YAML
cat > "$work/policy.yaml" <<'YAML'
policy: bench
rules:
  - name: staff on the loopback network
    when: { networks: [127.0.0.0/8, "::1/128"], groups: [staff] }
    allow: {}
YAML
# config NAME STORE-LINE: writes $work/NAME/fedgate.yaml, sets port_NAME.
config() {
  local name=$1 store=$2 port
  port=$(freeport)
  mkdir -p "$work/$name"
  eval "port_$name=$port"
  cat > "$work/$name/fedgate.yaml" <<YAML
server: { public_url: "http://127.0.0.1:$port", listen: "127.0.0.1:$port", insecure_http: true }
data_dir: $work/$name/data
keys:
  cookie: [$work/cookie.key]
  signing: [{ file: $work/rsa.pem }, { file: $work/p256.pem }]
store: $store
audit: { file: $work/$name/audit.jsonl }
log: { level: error }
# One benchmark user signs in from many workers at once: in-flight sign-ins
# count against the user's limit (counted before checking), so raise it.
throttle: { max_failures: 100000, max_failures_per_ip: 100000 }
upstreams: [{ id: local, type: local, users_file: $work/users.yaml }]
apps:
  - { id: app, type: proxy, host: "localhost:$port", to: ["http://127.0.0.1:$backend_port"], policy: bench,
      headers: { X-Remote-User: username, X-Remote-Groups: groups } }
  - id: oidc-rs
    type: oidc
    policy: bench
    oidc: { client_id: bench, client_secret: bench-secret-0123456789, redirect_uris: ["http://127.0.0.1:1/cb"] }
  - id: oidc-es
    type: oidc
    policy: bench
    oidc: { client_id: bench-es, client_secret: bench-secret-0123456789, redirect_uris: ["http://127.0.0.1:1/cb"],
            id_token_signing_alg: ES256 }
  - id: oauth2-proxy
    type: oidc
    policy: bench
    oidc: { client_id: oauth2-proxy, client_secret: o2p-secret-0123456789, redirect_uris: ["http://127.0.0.1:$o2p_port/oauth2/callback"] }
  - id: sp
    type: saml
    policy: bench
    saml:
      entity_id: https://sp.bench.invalid/saml
      acs_urls: [{ url: "https://sp.bench.invalid/acs", index: 0, default: true }]
      persistent_salt: bench-salt-0123456789
      attributes: [{ name: email, value: email }, { name: groups, value: groups }]
policies: [$work/policy.yaml]
YAML
}
config mem "{ memory: true }"
# The memory store keeps every single-use marker (codes, SAML request IDs)
# in the process's heap, so the flows and oauth2-proxy's sign-ins get an
# instance of their own: mem serves only the proxied-request rows, as the
# Redis and bolt instances hold theirs outside the heap.
config flow "{ memory: true }"
config bolt "{ bolt: $work/bolt/state.db }"
config redis "{ redis: { addr: \"127.0.0.1:$redis_port\" } }"
for n in one hist many; do
  config "mem_$n" "{ memory: true }"
  config "redis_$n" "{ redis: { addr: \"127.0.0.1:$redis_port\" } }"
done

start() { "$@" & pids+=($!); }
start "$work/backend" -listen "127.0.0.1:$backend_port"
# The proxies (oauth2-proxy too, below) log "context canceled" for requests
# wrk drops when a round ends.
start "$work/bareproxy" -listen "127.0.0.1:$bare_port" -to "http://127.0.0.1:$backend_port" 2>"$work/bareproxy.log"
start "$work/minop" -listen "127.0.0.1:$minop_port"
bare_pid=${pids[2]}; minop_pid=${pids[3]}
# The same bare proxy run as fedgate's server runs: its server timeouts and
# its heap floor (the GC collects at 32 MiB, not at twice a live heap of a
# few MiB; for a heap this small GOGC=off with GOMEMLIMIT is the same).
# Shown beside, so that what the process settings are worth is not counted
# as fedgate's code; the targets stay against the plain one.
start env GOGC=off GOMEMLIMIT=32MiB "$work/bareproxy" -timeouts -listen "127.0.0.1:$baret_port" -to "http://127.0.0.1:$backend_port" 2>"$work/bareproxy-timeouts.log"
baret_pid=$!
for name in mem flow bolt redis; do
  start "$work/fedgate" serve --config "$work/$name/fedgate.yaml" 2>"$work/$name/log"
  eval "pid_$name=$!"
done
# fg NAME: fedgate NAME's URL.
fg() { local p="port_$1"; echo "http://127.0.0.1:${!p}"; }
# [log=FILE] wait_up URL [curl args]: FILE is shown if it does not come up.
wait_up() {
  for _ in $(seq 100); do curl -fs "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  echo "not up: $1"; [ -z "${log:-}" ] || cat "$log"; exit 1
}
wait_up "http://127.0.0.1:$port_mem/healthz"; wait_up "http://127.0.0.1:$port_flow/healthz"; wait_up "http://127.0.0.1:$port_bolt/healthz"
wait_up "http://127.0.0.1:$port_redis/healthz"; wait_up "http://127.0.0.1:$bare_port/"; wait_up "http://127.0.0.1:$baret_port/"
# oauth2-proxy reads fedgate's discovery document at start, so after flow is
# up. Every flag set, and why; everything else is oauth2-proxy's default,
# request logging included: a deployment pays for it, so it is on, written
# to a file as a deployment's would be.
#   --http-address          a free loopback port
#   --provider=oidc         fedgate is a generic OpenID Provider
#   --oidc-issuer-url       fedgate flow's issuer (its public URL)
#   --client-id/-secret     the oauth2-proxy app in the config above
#   --redirect-url          the app's registered redirect URI, exactly
#   --upstream              the same backend as every other proxy
#   --session-store-type, --redis-connection-url
#                           sessions in Redis (the cookie is a ticket), on
#                           the same redis-server as fedgate's Redis store
#   --cookie-secret         required: 32 random bytes (AES-256)
#   --cookie-secure=false   loopback http: a Secure cookie is never sent back
#   --email-domain=*        any signed-in user: fedgate's policy decides
#   --logging-filename      the request log to a file in $work, not a tty
start "$o2p_bin" --http-address="127.0.0.1:$o2p_port" --provider=oidc \
  --oidc-issuer-url="http://127.0.0.1:$port_flow" --client-id=oauth2-proxy --client-secret=o2p-secret-0123456789 \
  --redirect-url="http://127.0.0.1:$o2p_port/oauth2/callback" --upstream="http://127.0.0.1:$backend_port/" \
  --session-store-type=redis --redis-connection-url="redis://127.0.0.1:$redis_port" \
  --cookie-secret="$(head -c 32 /dev/urandom | base64 | tr '+/' '-_')" --cookie-secure=false \
  --email-domain='*' --logging-filename="$work/o2p.log" >"$work/o2p.err" 2>&1
o2p_pid=$!
log="$work/o2p.err" wait_up "http://127.0.0.1:$o2p_port/ping"

# mint_at NAME mint-args...: app-host cookies from fedgate NAME; mint: from mem.
mint_at() {
  local p="port_$1"
  shift
  "$work/mint" -fedgate "http://127.0.0.1:${!p}" -app "http://localhost:${!p}" -user bench -password bench-pw "$@"
}
mint() { mint_at mem "$@"; }
# Stale cookies: minted now, older than the one-minute touch interval by
# the time they are used (the first round waits if it has to).
mint -n 16 > "$work/stale.txt"
stale_ready=$(( $(date +%s) + 65 ))
# oauth2-proxy sessions from real sign-ins through it (they last its default
# 168h, so once is enough), each one Cookie header value. Checked: with one
# the backend answers, without one oauth2-proxy does not let the request by.
"$work/mint" -fedgate "$(fg flow)" -o2p "http://127.0.0.1:$o2p_port" -user bench -password bench-pw -n 16 > "$work/o2p-cookies.txt"
curl -fs -H "Cookie: $(head -1 "$work/o2p-cookies.txt")" "http://127.0.0.1:$o2p_port/" | grep -q "hello from the backend" \
  || { echo "oauth2-proxy: no backend answer with a session cookie"; exit 1; }
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$o2p_port/")
[[ $code == 302 || $code == 403 ]] || { echo "oauth2-proxy: $code without a session cookie, not 302/403"; exit 1; }

cat > "$work/cookies.lua" <<'LUA'
local cookies = {}
for line in io.lines(os.getenv("COOKIES")) do cookies[#cookies + 1] = line end
local i = 0
request = function()
  i = i % #cookies + 1
  return wrk.format("GET", "/", { ["Host"] = os.getenv("HOST"), ["Cookie"] = cookies[i] })
end
LUA

cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
tick=$(getconf CLK_TCK)
# record NAME RATE P99MS OPS CPU-TICKS [REDIS-CPU-TICKS]: one round's figures.
record() {
  echo "$2" >> "$work/r.$1"; echo "$3" >> "$work/p.$1"
  awk -v c="$5" -v t="$tick" -v n="$4" 'BEGIN {printf "%.1f\n", c / t / n * 1e6}' >> "$work/c.$1"
  # redis-server's CPU per request too: a store round trip per request costs there.
  [ -z "${6:-}" ] || awk -v c="$6" -v t="$tick" -v n="$4" 'BEGIN {printf "%.1f\n", c / t / n * 1e6}' >> "$work/rc.$1"
}
# proxy NAME PORT PID COOKIES: one wrk round. Every proxy, the bare
# baseline included, gets the same requests (the same client script and
# the same ~600-byte session cookie), so that the ratio measures the
# proxies and not the requests: reading that header alone costs the bare
# proxy ~30% of its throughput on this machine. oauth2-proxy gets the same
# script with its own cookies (a ~190-byte ticket): a smaller header, if
# anything in its favour.
proxy() {
  local name=$1 port=$2 pid=$3 cookies=$4 before before_redis out
  before=$(cpu "$pid"); before_redis=$(cpu "$redis_pid")
  out=$(COOKIES=$cookies HOST="localhost:$port" wrk -t2 -c"$conns" -d"${secs}s" --latency -s "$work/cookies.lua" "http://127.0.0.1:$port/")
  if grep -q "Non-2xx" <<<"$out"; then echo "$name: non-2xx answers:"; echo "$out"; exit 1; fi
  local p99
  p99=$(awk '$1 == "99%" {v = $2; if (v ~ /us$/) {sub("us", "", v); v /= 1000} else if (v ~ /ms$/) {sub("ms", "", v)} else if (v ~ /s$/) {sub("s", "", v); v *= 1000}; print v}' <<<"$out")
  record "$name" "$(awk '/Requests\/sec/ {print $2}' <<<"$out")" "$p99" "$(awk '/requests in/ {print $1}' <<<"$out")" "$(( $(cpu "$pid") - before ))" \
    "$(( $(cpu "$redis_pid") - before_redis ))"
}
# flows NAME PID load-args...: one round of the load client.
flows() {
  local name=$1 pid=$2 before out
  shift 2
  before=$(cpu "$pid")
  out=$("$work/load" -c "$flowc" -d "${secs}s" "$@")
  read -r rate p99 n <<<"$out"
  record "$name" "$rate" "$p99" "$n" "$(( $(cpu "$pid") - before ))"
}
# Redis commands served so far (the INFO that asks counts as one).
redis_cmds() { redis-cli -p "$redis_port" info stats | awk -F: '/^total_commands_processed/ {print $2 + 0}'; }

echo "== $rounds alternating rounds of ${secs}s (wrk -t2 -c$conns; flows with $flowc workers)"
for round in $(seq "$rounds"); do
  echo "   round $round: $(cut -d' ' -f1-3 /proc/loadavg) load average"
  now=$(date +%s); [ "$now" -ge "$stale_ready" ] || sleep $(( stale_ready - now ))
  # The proxied rows start one later each round (rotated), so that no row
  # is always measured first or last (a machine slows down over a round).
  # Fresh cookies are minted right before the row that uses them: younger
  # than the one-minute touch interval however the rows are ordered. The
  # bare proxy gets the same kind of cookie.
  # Stale next to fresh, on the same instance: the pair compares the two
  # cookies, not two moments of the round; which goes first alternates
  # (the second of two runs on one instance read a few % slower).
  rows=(bare mem bolt redis o2p baret)
  for i in "${!rows[@]}"; do
    case ${rows[(i + round) % ${#rows[@]}]} in
    bare)
      mint -n 16 > "$work/fresh.txt"
      proxy bare "$bare_port" "$bare_pid" "$work/fresh.txt"
      ;;
    baret)
      mint -n 16 > "$work/fresh.txt"
      proxy baret "$baret_port" "$baret_pid" "$work/fresh.txt"
      ;;
    mem)
      mint -n 16 > "$work/fresh.txt"
      if (( round % 2 )); then
        proxy fresh "$port_mem" "$pid_mem" "$work/fresh.txt"
        proxy stale "$port_mem" "$pid_mem" "$work/stale.txt"
      else
        proxy stale "$port_mem" "$pid_mem" "$work/stale.txt"
        proxy fresh "$port_mem" "$pid_mem" "$work/fresh.txt"
      fi
      ;;
    bolt)
      mint_at bolt -n 16 > "$work/fresh-bolt.txt"
      proxy bolt "$port_bolt" "$pid_bolt" "$work/fresh-bolt.txt"
      ;;
    redis)
      mint_at redis -n 16 > "$work/fresh-redis.txt"
      cmds=$(redis_cmds)
      proxy redis "$port_redis" "$pid_redis" "$work/fresh-redis.txt"
      echo $(( $(redis_cmds) - cmds - 1 )) >> "$work/cmds.redis"
      ;;
    o2p) proxy o2p "$o2p_port" "$o2p_pid" "$work/o2p-cookies.txt" ;;
    esac
  done
  flows minop "$minop_pid" -mode code -base "http://127.0.0.1:$minop_port" -cookie sid=bench-session
  flows code-mem "$pid_flow" -mode code -base "$(fg flow)"
  flows code-bolt "$pid_bolt" -mode code -base "$(fg bolt)"
  flows code-es256 "$pid_flow" -mode code -base "$(fg flow)" -client bench-es
  flows signin-mem "$pid_flow" -mode signin -base "$(fg flow)"
  flows signin-bolt "$pid_bolt" -mode signin -base "$(fg bolt)"
  flows saml "$pid_flow" -mode saml -base "$(fg flow)"
  "$work/minop" -sign-rate 3s >> "$work/r.rsa"
done

median() { sort -g "$1" | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
r() { median "$work/r.$1"; }
p() { median "$work/p.$1"; }
c() { median "$work/c.$1"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
# per KIND A B [-]: A ÷ B (with -, A − B) in each round, as "median (min–max)".
# Rows of one round ran a few seconds apart; rounds minutes apart on a
# machine whose speed drifts (the bare proxy alone read 6,200-7,900 req/s
# across three rounds), so the ratio is taken within each round first.
per() {
  paste -d' ' "$work/$1.$2" "$work/$1.$3" | awk -v d="${4:-}" '{print d == "-" ? $1 - $2 : $1 / $2}' | sort -g |
    awk -v d="${4:-}" '{v[NR] = $1} END {m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
      printf(d == "-" ? "%+.2f (%+.2f to %+.2f)" : "%.2f (%.2f-%.2f)", m, v[1], v[NR])}'
}
sum() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1f", a + b}'; }

# RSS, sampled (VmRSS every 0.2 s) while wrk loads the process, median of
# the samples: a single reading after a load measures when the Go
# runtime last returned freed pages (readings of one process 36-54 MB
# apart), not what the process holds. Three fresh processes per store,
# loaded in alternation: one with 1 sign-in serving that user; many with
# USERS sign-ins serving all of them; hist with the same USERS sign-ins
# serving one of them. many against one is the whole difference; many
# against hist, with the same history, is what grows with the users a
# process serves (its caches) apart from what a burst of USERS sign-ins
# a minute before left in the heap (2-3 MB the runtime returns slowly).
# rss_load NAME PID COOKIES: one sampled load round, samples to rss.NAME.
rss_load() {
  local name=$1 pid=$2 cookies=$3 port="port_$1" w
  COOKIES=$cookies HOST="localhost:${!port}" wrk -t2 -c"$conns" -d"${secs}s" -s "$work/cookies.lua" "$(fg "$name")/" >/dev/null &
  w=$!
  sleep 1 # past the ramp-up
  while kill -0 "$w" 2>/dev/null; do awk '/VmRSS/ {print $2}' "/proc/$pid/status" >> "$work/rss.$name"; sleep 0.2; done
  wait "$w"
}
# rss_set STORE-NAME: sets rss_N_NAME and peak_N_NAME (KiB, median and
# highest sample) for N in one, hist, many.
rss_set() {
  local name=$1 n
  for n in one hist many; do
    start "$work/fedgate" serve --config "$work/${name}_$n/fedgate.yaml" 2>"$work/${name}_$n/log"
    eval "p_$n=$!"
    wait_up "$(fg "${name}_$n")/healthz"
  done
  mint_at "${name}_one" -n 1 > "$work/${name}_one.txt"
  mint_at "${name}_hist" -n "$users" -p 8 > "$work/${name}_hist.all"
  head -1 "$work/${name}_hist.all" > "$work/${name}_hist.txt"
  mint_at "${name}_many" -n "$users" -p 8 > "$work/${name}_many.txt"
  for _ in $(seq "$rounds"); do
    for n in one hist many; do
      local p="p_$n"
      rss_load "${name}_$n" "${!p}" "$work/${name}_$n.txt"
    done
  done
  for n in one hist many; do
    eval "rss_${n}_$name=$(median "$work/rss.${name}_$n") peak_${n}_$name=$(sort -g "$work/rss.${name}_$n" | tail -1)"
  done
}
rss_set mem
rss_set redis

echo
echo "Values: medians of the rounds. Ratio: the median of the rounds' own ratios (lowest-highest)."
echo
echo "| path | fedgate | baseline in the same run | ratio | target |"
echo "|---|---|---|---|---|"
echo "| proxied request, req/s | $(r fresh) | bare proxy $(r bare) | $(per r fresh bare) | ≥ 0.90 |"
echo "| proxied request, CPU µs/request | $(c fresh) | bare proxy $(c bare) | $(per c fresh bare) | ≤ 1.15 |"
echo "| proxied request, p99 ms | $(p fresh) | bare proxy $(p bare) | $(per p fresh bare -) ms | ≤ +2 ms |"
echo "| same, against the bare proxy run with fedgate's server timeouts and heap floor | $(r fresh) (CPU $(c fresh) µs, p99 $(p fresh) ms) | $(r baret) (CPU $(c baret) µs, p99 $(p baret) ms) | $(per r fresh baret); CPU $(per c fresh baret); p99 $(per p fresh baret -) ms | (beside: fedgate's code alone) |"
echo "| proxied request, bolt store (the embedded default), req/s | $(r bolt) (CPU $(c bolt) µs, p99 $(p bolt) ms) | bare proxy $(r bare) | $(per r bolt bare) | ≥ 0.90 |"
echo "| proxied request, Redis store, req/s | $(r redis) | bare proxy $(r bare) | $(per r redis bare) | ≥ 0.90 |"
echo "| proxied request, Redis store, CPU µs/request | $(c redis) | bare proxy $(c bare) | $(per c redis bare) | (beside the bare proxy) |"
echo "| proxied request, Redis store, p99 ms | $(p redis) | bare proxy $(p bare) | $(per p redis bare -) ms | (beside the bare proxy) |"
echo "| proxied request, Redis store, req/s | $(r redis) | oauth2-proxy $o2p_version on Redis $(r o2p) (CPU $(c o2p) µs, p99 $(p o2p) ms) | $(per r redis o2p) | ≥ 3 |"
echo "| same, CPU µs/request, proxy + redis-server | $(c redis) + $(median "$work/rc.redis") | oauth2-proxy $(c o2p) + $(median "$work/rc.o2p") | $(ratio "$(sum "$(c o2p)" "$(median "$work/rc.o2p")")" "$(sum "$(c redis)" "$(median "$work/rc.redis")")")× less | (load-proof view) |"
echo "| client ignoring Set-Cookie (stale cookie), req/s | $(r stale) | fresh cookie $(r fresh) | $(per r stale fresh) | ≥ 0.97 |"
echo "| OIDC code flow, existing session, RS256, flows/s | $(r code-mem) (CPU $(c code-mem) µs) | minimal OP $(r minop) (CPU $(c minop) µs) | $(per r code-mem minop) | ≥ 0.80 |"
echo "| same, bolt store | $(r code-bolt) | memory store $(r code-mem) | $(per r code-bolt code-mem) | ≥ 0.80 |"
echo "| same, ES256 | $(r code-es256) | RS256 $(r code-mem) | $(per r code-es256 code-mem) | — |"
echo "| OIDC code flow, fresh sign-in, bolt store, flows/s | $(r signin-bolt) | memory store $(r signin-mem) | $(per r signin-bolt signin-mem) | ≥ 0.80 |"
echo "| SAML Response to a signed-in browser, /s | $(r saml) (CPU $(c saml) µs) | raw RSA-2048 signatures/s, one core $(r rsa) | $(per r saml rsa) | ≥ 0.75 |"
echo "| SAML answers per CPU-second of fedgate | $(awk -v c="$(c saml)" 'BEGIN {printf "%.0f", 1e6 / c}') | raw RSA-2048 signatures/s, one core $(r rsa) | $(ratio "$(awk -v c="$(c saml)" 'BEGIN {print 1e6 / c}')" "$(r rsa)") | (load-proof view) |"
echo "| code flow CPU µs per flow, RS256 | $(c code-mem) | minimal OP $(c minop) | $(per c code-mem minop) | (≤ 1.25 ⇔ 0.80×) |"
for st in mem redis; do
  label=$([ "$st" = mem ] && echo "memory store (test-only: holds the sign-in markers)" || echo "Redis store")
  eval "one=\$rss_one_$st hist=\$rss_hist_$st many=\$rss_many_$st pone=\$peak_one_$st phist=\$peak_hist_$st pmany=\$peak_many_$st"
  echo "| RSS under load, $label, KiB (median; peak) | $many; $pmany with $users users | $one; $pone with 1 user | $(ratio "$many" "$one"); $(ratio "$pmany" "$pone") | flat |"
  echo "| same, both after $users sign-ins | $many; $pmany serving $users users | $hist; $phist serving 1 | $(ratio "$many" "$hist"); $(ratio "$pmany" "$phist") | flat |"
done
echo
echo "Redis commands during a fedgate+Redis proxy round (median): $(median "$work/cmds.redis")"
echo "p99 (ms, medians): code-mem $(p code-mem), minop $(p minop), signin-mem $(p signin-mem), signin-bolt $(p signin-bolt), saml $(p saml)"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
