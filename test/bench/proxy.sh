#!/usr/bin/env bash
# Proxy benchmark, loopback only, bounded: requests/s, p99 latency and proxy
# CPU per request for (1) the backend directly, (2) a tuned bare
# httputil.ReverseProxy, (3) fedgate with a valid session cookie and a
# network+group policy; then fedgate's memory with 1 vs many distinct
# sessions (sessions are cookies: memory must stay flat).
#   ./test/bench/proxy.sh [seconds per run, default 10] [connections, default 64]
# STORE=redis runs fedgate on a redis-server of its own (loopback, free port)
# instead of the memory store: the fleet's setup, whose per-request
# revocation check is served from the local cache (docs/operations.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-10}
conns=${2:-64}
sessions=${SESSIONS:-500}
command -v wrk >/dev/null || { echo "wrk is required (apt-get install wrk)"; exit 1; }
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
. test/bench/lib.sh
store_yaml="{ memory: true }"
if [ "${STORE:-memory}" = redis ]; then
  # Nothing on disk, so the exit trap's rm has no race with it.
  redis_start "$work"
  store_yaml="{ redis: { addr: \"127.0.0.1:$redis_port\" } }"
fi

go build -o "$work/fedgate" ./cmd/fedgate
go build -o "$work/backend" ./test/bench/backend
go build -o "$work/bareproxy" ./test/bench/bareproxy

# A bcrypt cost-4 user keeps minting many sessions quick (benchmark only).
cat > "$work/users.yaml" <<YAML
users:
  - { username: bench, password_hash: "$(go run ./test/bench/hash bench-pw)", groups: [staff] }
YAML
cat > "$work/policy.yaml" <<'YAML'
policy: bench
rules:
  - name: staff on the loopback network
    when: { networks: [127.0.0.0/8, "::1/128"], groups: [staff] }
    allow: {}
YAML
cat > "$work/fedgate.yaml" <<YAML
server: { public_url: "http://127.0.0.1:18090", listen: "127.0.0.1:18090", insecure_http: true }
data_dir: data
store: $store_yaml
audit: { file: audit.jsonl }
log: { level: error }
upstreams: [{ id: local, type: local, users_file: users.yaml }]
apps:
  - { id: app, type: proxy, host: "localhost:18090", to: ["http://127.0.0.1:18081"], policy: bench,
      headers: { X-Remote-User: username, X-Remote-Groups: groups } }
policies: [policy.yaml]
YAML
"$work/backend" & "$work/bareproxy" & "$work/fedgate" serve --config "$work/fedgate.yaml" 2>"$work/fedgate.log" &
fg_pid=$!
for _ in $(seq 50); do curl -fs http://127.0.0.1:18090/healthz >/dev/null 2>&1 && curl -fs http://127.0.0.1:18082/ >/dev/null 2>&1 && break; sleep 0.2; done

# Mint sessions by signing in for real, and keep each app-host cookie.
go run ./test/bench/mint -fedgate http://127.0.0.1:18090 -app http://localhost:18090 -user bench -password bench-pw -n "$sessions" > "$work/cookies.txt"

cat > "$work/cookies.lua" <<'LUA'
local cookies = {}
for line in io.lines(os.getenv("COOKIES")) do cookies[#cookies + 1] = line end
local i = 0
request = function()
  i = i % #cookies + 1
  return wrk.format("GET", "/", { ["Host"] = "localhost:18090", ["Cookie"] = cookies[i] })
end
LUA

cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
tick=$(getconf CLK_TCK)

# run NAME URL PID [lua]: prints "name req/s p99 cpu-µs/request"
run() {
  local name=$1 url=$2 pid=$3 lua=${4:-}
  local before after out
  before=$(cpu "$pid")
  if [ -n "$lua" ]; then
    out=$(COOKIES=$5 wrk -t2 -c"$conns" -d"${secs}s" --latency -s "$lua" "$url")
  else
    out=$(wrk -t2 -c"$conns" -d"${secs}s" --latency "$url")
  fi
  after=$(cpu "$pid")
  local rps p99 total
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  total=$(awk '/requests in/ {print $1}' <<<"$out")
  if grep -q "Non-2xx" <<<"$out"; then echo "$name: non-2xx answers:"; echo "$out"; exit 1; fi
  printf '%-34s %10s req/s   p99 %8s   %6.1f µs CPU/request\n' "$name" "$rps" "$p99" \
    "$(awk -v a="$after" -v b="$before" -v t="$tick" -v n="$total" 'BEGIN {print (a - b) / t / n * 1e6}')"
  echo "$rps" > "$work/$name.rps"
}

backend_pid=$(pgrep -f "$work/backend" | head -1)
bare_pid=$(pgrep -f "$work/bareproxy" | head -1)
head -1 "$work/cookies.txt" > "$work/one-cookie.txt"
echo "wrk: 2 threads, $conns connections, ${secs}s per run, loopback; CPU is the measured process's; fedgate's store: ${STORE:-memory}"
run backend http://127.0.0.1:18081/ "$backend_pid"
run bare-proxy http://127.0.0.1:18082/ "$bare_pid"
# With Redis: the commands each fedgate run cost. The sign-out check is
# cached, so at most one GET per session per 5 s, not one per request.
redis_cmds() { [ -n "${redis_port:-}" ] && redis-cli -p "$redis_port" info stats | awk -F: '/^total_commands_processed/ {print $2 + 0}' || echo 0; }
cmds_note() { [ -n "${redis_port:-}" ] && echo "  Redis commands during $1: $(( $(redis_cmds) - $2 - 1 ))" || true; }
cmds=$(redis_cmds)
run fedgate-1-session http://127.0.0.1:18090/ "$fg_pid" "$work/cookies.lua" "$work/one-cookie.txt"
cmds_note fedgate-1-session "$cmds"
rss_one=$(rss "$fg_pid")
cmds=$(redis_cmds)
run "fedgate-$sessions-sessions" http://127.0.0.1:18090/ "$fg_pid" "$work/cookies.lua" "$work/cookies.txt"
cmds_note "fedgate-$sessions-sessions" "$cmds"
rss_many=$(rss "$fg_pid")
awk -v f="$(cat "$work/fedgate-1-session.rps")" -v b="$(cat "$work/bare-proxy.rps")" \
  'BEGIN {printf "ratio fedgate / tuned bare proxy: %.3f\n", f / b}'
echo "fedgate RSS: ${rss_one} KiB after 1 session, ${rss_many} KiB after $sessions distinct sessions"
