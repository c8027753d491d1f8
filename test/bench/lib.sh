# Sourced by the benchmark scripts (not run on its own).

# freeport prints a free loopback TCP port.
freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# redis_start DIR: Debian's redis-server on a free loopback port, nothing on
# disk (no RDB, no AOF, log to stdout discarded: benchmark only), DIR as its
# working directory. Sets redis_port and redis_pid once it answers; the
# caller stops it.
redis_start() {
  command -v redis-server >/dev/null || { echo "redis-server is required (apt-get install redis-server)"; exit 1; }
  redis_port=$(freeport)
  redis-server --bind 127.0.0.1 --port "$redis_port" --save "" --appendonly no --dir "$1" --logfile "" >/dev/null &
  redis_pid=$!
  for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "redis-server did not answer on port $redis_port"; exit 1
}
