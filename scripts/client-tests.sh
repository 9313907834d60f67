#!/usr/bin/env bash
# The client-library suites: real Redis lock clients used as judges.
#   - script parity: the exact Lua scripts of redis-py, node-redlock, go-redsync
#     and redlock-rb through EVAL/EVALSHA, lockd's raw replies against a
#     redis-server's, byte for byte (tests/clients/scripts_parity.py);
#   - redis-py's Lock end to end (tests/clients/redis_py_lock_test.py);
#   - node-redlock v4 and v5 on ioredis, one server and a three-server quorum
#     (tests/clients/node/redlock_test.js, its packages installed by npm ci);
#   - ioredis over TLS with a CA-signed client certificate, and the refusals
#     of a client without one and of a server from another CA
#     (tests/clients/node/tls_test.js; certificates made here with openssl).
# Every server is started here on a free port of 127.0.0.1 (lockd with --dir
# in a temporary directory) and stopped on exit.
#
# Usage: scripts/client-tests.sh [--against lockd|redis]
#   lockd (default): the suites judge lockd ($LOCKD_SERVER, default build/lockd-server);
#   redis: they run against redis-server alone, which checks the suites themselves.
# Prints each suite's "ok N - ..." / "not ok N - ..." lines under a "== suite"
# header (scripts/run-tests.sh counts them); a suite that cannot run (no node,
# npm ci failing, no redis-server) is ONE "not ok" line saying why. Exits
# non-zero if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."

against=lockd
while [ $# -gt 0 ]; do
  case $1 in
    --against) against=${2:-}; shift 2 ;;
    --against=*) against=${1#*=}; shift ;;
    -h | --help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "client-tests: unknown argument $1" >&2; exit 2 ;;
  esac
done
case $against in lockd | redis) ;; *) echo "client-tests: --against lockd or redis" >&2; exit 2 ;; esac

server=${LOCKD_SERVER:-build/lockd-server}
redis_server=${REDIS_SERVER:-redis-server}
# Debian's python3-redis lives in /usr/lib/python3/dist-packages: a python3 on
# PATH (pyenv, a virtualenv) may not see it.
py=${CLIENT_TESTS_PYTHON:-/usr/bin/python3}
failures=0

not_ok() {
  failures=$((failures + 1))
  echo "not ok 1 - $1"
  [ $# -ge 2 ] && printf '#   %s\n' "$2"
  return 0
}

free_port() {
  "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' \
    2>/dev/null || echo $((20000 + RANDOM % 30000))
}

tmp=$(mktemp -d /tmp/lockd-clients-XXXXXX)
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start KIND NAME [ARG...]: starts lockd or redis-server on a free port (with
# the extra directives ARG...), waits (10 s at most) for PONG and sets
# $started_port; fails if it did not come up. It runs in this shell, never in
# $(...), so that the cleanup knows every pid.
started_port=""
start() {
  local kind=$1 name=$2 port dir="$tmp/$2"
  shift 2
  mkdir -p "$dir"
  port=$(free_port)
  if [ "$kind" = lockd ]; then
    "$server" --port "$port" --bind 127.0.0.1 --dir "$dir" --logfile "$dir/server.log" "$@" \
      >"$dir/stdout" 2>&1 &
  else
    "$redis_server" --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
      --dir "$dir" --logfile "$dir/server.log" "$@" >"$dir/stdout" 2>&1 &
  fi
  local pid=$!
  pids+=("$pid")
  for _ in $(seq 1 100); do
    if [ "$(timeout 2 redis-cli -p "$port" PING 2>/dev/null)" = PONG ]; then
      started_port=$port
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  tail -5 "$dir/stdout" "$dir/server.log" >&2 2>/dev/null
  return 1
}

# suite NAME CMD...: runs one suite, shows its lines, adds its failures (and one
# more when it exits non-zero without a "not ok" line, such as a crash).
suite() {
  local name=$1
  shift
  echo "== $name"
  local out rc
  out=$("$@" 2>&1)
  rc=$?
  echo "$out"
  local f
  f=$(grep -c '^not ok ' <<<"$out")
  failures=$((failures + f))
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    not_ok "$name exits with code 0" "exit code $rc"
  fi
}

if ! command -v redis-cli >/dev/null 2>&1 || ! command -v "$redis_server" >/dev/null 2>&1; then
  not_ok "redis-server and redis-cli are installed (the reference)" "scripts/install-deps.sh installs them"
  exit 1
fi
if [ "$against" = lockd ] && [ ! -x "$server" ]; then
  not_ok "lockd server binary $server exists" "build it first: make all"
  exit 1
fi

# The servers judged: three of the same kind (the Redlock quorum; the first one
# also serves the single-server suites), plus a redis-server as the reference.
judged=()
for i in 1 2 3; do
  if ! start "$against" "$against-$i"; then
    not_ok "$against server $i starts and answers PING"
    exit 1
  fi
  judged+=("$started_port")
done
if ! start redis reference; then
  not_ok "the reference redis-server starts and answers PING"
  exit 1
fi
ref=$started_port
echo "# judged: $against on ports ${judged[*]}; reference redis-server on $ref"

if [ -x "$py" ] && "$py" -c 'import redis' 2>/dev/null; then
  suite "script parity ($against vs redis-server)" \
    "$py" tests/clients/scripts_parity.py --port-a "${judged[0]}" --port-b "$ref"
  suite "redis-py Lock ($against)" "$py" tests/clients/redis_py_lock_test.py --port "${judged[0]}"
else
  echo "== python suites"
  not_ok "$py can import redis" "scripts/install-deps.sh installs python3-redis"
fi

if ! why=$(tests/clients/node/install.sh 2>&1); then
  echo "== node-redlock v4/v5 ($against)"
  not_ok "node-redlock packages installed (tests/clients/node/install.sh)" "$(tail -5 <<<"$why" | tr '\n' ' ')"
else
  suite "node-redlock v4/v5 ($against)" node tests/clients/node/redlock_test.js \
    --single "${judged[0]}" --triple "$(IFS=,; echo "${judged[*]}")"

  # ioredis over TLS: a CA, a server certificate for localhost and 127.0.0.1,
  # a client certificate, and a second CA that signed neither.
  certs=$tmp/certs
  mkdir -p "$certs"
  if ! why=$(cd "$certs" && {
      k="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
      openssl req -x509 $k -keyout ca.key -out ca.crt -days 30 -subj /CN=lockd-test-ca &&
      openssl req -x509 $k -keyout other-ca.key -out other-ca.crt -days 30 -subj /CN=other-ca &&
      printf 'subjectAltName=DNS:localhost,IP:127.0.0.1' >san.ext &&
      openssl req $k -keyout server.key -out server.csr -subj /CN=localhost &&
      openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt \
        -days 30 -extfile san.ext &&
      openssl req $k -keyout client.key -out client.csr -subj /CN=client &&
      openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out client.crt \
        -days 30; } 2>&1); then
    echo "== ioredis over TLS ($against)"
    not_ok "openssl makes the test certificates" "$(tail -3 <<<"$why" | tr '\n' ' ')"
  else
    tls_port=$(free_port)
    if ! start "$against" "$against-tls" --tls-port "$tls_port" --tls-cert-file "$certs/server.crt" \
        --tls-key-file "$certs/server.key" --tls-ca-cert-file "$certs/ca.crt"; then
      echo "== ioredis over TLS ($against)"
      not_ok "$against starts with a tls-port"
    else
      suite "ioredis over TLS ($against)" node tests/clients/node/tls_test.js \
        --port "$tls_port" --certs "$certs"
    fi
  fi
fi

echo "# client suites: $failures failed"
[ "$failures" -eq 0 ]
