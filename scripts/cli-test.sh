#!/usr/bin/env bash
# A scripted redis-cli session against a fresh lockd-server: the lock commands
# as an operator types them, a blocking acquire in the background, INFO and
# COMMAND DOCS, and (under tmux) the argument hint interactive redis-cli shows
# for LOCK.ACQUIRE; then the append-only log as an operator sees it (cat,
# BGREWRITEAOF, lockd-check-aof, a restart). Prints one line per check, "ok <n> - <what>" or
# "not ok <n> - <what>" (scripts/run-tests.sh counts them), stops the server
# with SIGTERM and exits non-zero if any check failed.
set -uo pipefail
cd "$(dirname "$0")/.."

server=${LOCKD_SERVER:-build/lockd-server}
check_aof=${LOCKD_CHECK_AOF:-build/lockd-check-aof}
n=0
failures=0

ok() {
  n=$((n + 1))
  echo "ok $n - $1"
}
not_ok() {
  n=$((n + 1))
  failures=$((failures + 1))
  echo "not ok $n - $1"
  [ $# -ge 2 ] && printf '#   %s\n' "$2"
  return 0
}
# check <description> <actual> <expected>
check() {
  if [ "$2" == "$3" ]; then ok "$1"; else not_ok "$1" "expected '$3', got '$2'"; fi
}
# check_match <description> <actual> <extended regex>
check_match() {
  if [[ "$2" =~ $3 ]]; then ok "$1"; else not_ok "$1" "expected /$3/, got '$2'"; fi
}
now_ms() { date +%s%3N; }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' \
    2>/dev/null || echo $((20000 + RANDOM % 30000))
}

if [ ! -x "$server" ]; then
  not_ok "server binary $server exists" "build it first: make all"
  exit 1
fi
if ! command -v redis-cli >/dev/null 2>&1; then
  not_ok "redis-cli is installed" "scripts/install-deps.sh installs redis-tools"
  exit 1
fi

tmp=$(mktemp -d /tmp/lockd-cli-XXXXXX)
port=$(free_port)
server_pid=""
tmux_sock="$tmp/tmux.sock"
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -KILL "$server_pid" 2>/dev/null
    wait "$server_pid" 2>/dev/null
  fi
  if command -v tmux >/dev/null 2>&1 && [ -S "$tmux_sock" ]; then
    tmux -S "$tmux_sock" kill-server 2>/dev/null
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# Every redis-cli call is bounded, so that a stuck server fails a check
# instead of hanging the session.
cli() { timeout 10 redis-cli -p "$port" "$@" 2>&1; }

# Starts the server in $tmp (its log stays there across restarts) and sets
# $up to yes once it answers PING (within 10 s), else no.
start_server() {
  "$server" --port "$port" --bind 127.0.0.1 --dir "$tmp" --logfile "$tmp/lockd.log" \
    >"$tmp/stdout" 2>&1 &
  server_pid=$!
  up=no
  for _ in $(seq 1 100); do
    if [ "$(timeout 2 redis-cli -p "$port" PING 2>/dev/null)" == "PONG" ]; then
      up=yes
      break
    fi
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
}

start_server
if [ "$up" != yes ]; then
  not_ok "server starts and answers PING" "$(cat "$tmp/stdout" "$tmp/lockd.log" 2>/dev/null | tail -5)"
  exit 1
fi
ok "server starts and answers PING"

# ---- Acquire, contention, inspection ----

t1=$(cli LOCK.ACQUIRE seat:1 alice 30000)
check_match "LOCK.ACQUIRE grants a token" "$t1" '^[0-9]+$'
check "the same holder re-acquiring gets the same token" "$(cli LOCK.ACQUIRE seat:1 alice 30000)" "$t1"
check "another holder gets nil" "$(cli LOCK.ACQUIRE seat:1 bob 30000)" ""
check "LOCK.FENCE returns the holder's token" "$(cli LOCK.FENCE seat:1)" "$t1"
check "LOCK.FENCE of a free key is nil" "$(cli LOCK.FENCE seat:404)" ""

info=$(cli LOCK.INFO seat:1 | tr '\n' ' ')
check_match "LOCK.INFO shows holder, token, ttl_ms and waiters" "$info" \
  "^holder alice token $t1 ttl_ms [0-9]+ waiters 0 \$"
ttl=$(cli LOCK.INFO seat:1 | sed -n 6p)
if [[ "$ttl" =~ ^[0-9]+$ ]] && [ "$ttl" -gt 0 ] && [ "$ttl" -le 30000 ]; then
  ok "LOCK.INFO ttl_ms is within the lease"
else
  not_ok "LOCK.INFO ttl_ms is within the lease" "got '$ttl'"
fi
check "GET shows the holder" "$(cli GET seat:1)" "alice"
# redis-cli --bigkeys walks SCAN, then sizes each string key with STRLEN.
bigkeys=$(cli --bigkeys | tr '\n' ' ')
check_match "redis-cli --bigkeys sizes the locks as strings" "$bigkeys" \
  "Biggest string found '\"seat:1\"' has 5 bytes .*1 strings with 5 bytes"

# ---- Renew ----

check "LOCK.RENEW by the holder succeeds" "$(cli LOCK.RENEW seat:1 alice "$t1" 60000)" "1"
pttl=$(cli PTTL seat:1)
if [[ "$pttl" =~ ^[0-9]+$ ]] && [ "$pttl" -gt 30000 ]; then
  ok "LOCK.RENEW extends the lease"
else
  not_ok "LOCK.RENEW extends the lease" "PTTL is '$pttl'"
fi
check "LOCK.RENEW by another holder fails" "$(cli LOCK.RENEW seat:1 bob "$t1" 60000)" "0"
check "LOCK.RENEW with a wrong token fails" "$(cli LOCK.RENEW seat:1 alice $((t1 + 1)) 60000)" "0"

# ---- A blocking acquire, granted by the release ----

cli LOCK.ACQUIRE seat:1 bob 30000 WAIT 2000 >"$tmp/bob.out" &
bob_pid=$!
queued=no
for _ in $(seq 1 100); do
  if [ "$(cli LOCK.INFO seat:1 | sed -n 8p)" == "1" ]; then
    queued=yes
    break
  fi
  sleep 0.02
done
check "a WAIT acquire is queued as a waiter" "$queued" "yes"
check_match "INFO shows the blocked client" "$(cli INFO clients | tr -d '\r')" 'blocked_clients:1'
check "LOCK.RELEASE by the holder succeeds" "$(cli LOCK.RELEASE seat:1 alice "$t1")" "1"
wait "$bob_pid"
t2=$(cat "$tmp/bob.out")
if [[ "$t2" =~ ^[0-9]+$ ]] && [ "$t2" -gt "$t1" ]; then
  ok "the waiter is granted on release, with a larger token"
else
  not_ok "the waiter is granted on release, with a larger token" "got '$t2' after $t1"
fi
check "LOCK.FENCE shows the new holder's token" "$(cli LOCK.FENCE seat:1)" "$t2"
check "GET shows the new holder" "$(cli GET seat:1)" "bob"
check "the old holder's release now fails" "$(cli LOCK.RELEASE seat:1 alice "$t1")" "0"

start=$(now_ms)
out=$(cli LOCK.ACQUIRE seat:1 carol 30000 WAIT 300)
took=$(($(now_ms) - start))
if [ -z "$out" ] && [ "$took" -ge 300 ]; then
  ok "a WAIT that times out replies nil after wait_ms"
else
  not_ok "a WAIT that times out replies nil after wait_ms" "got '$out' after $took ms"
fi

# ---- Errors ----

check "ttl 0 is refused with Redis's text" "$(cli LOCK.ACQUIRE seat:2 h 0)" \
  "ERR invalid expire time in 'lock.acquire' command"
check "an empty holder is refused" "$(cli LOCK.ACQUIRE seat:2 '' 1000)" "ERR holder must not be empty"
check "a missing argument is refused" "$(cli LOCK.ACQUIRE seat:2 h)" \
  "ERR wrong number of arguments for 'lock.acquire' command"

# ---- INFO and COMMAND DOCS ----

locks=$(cli INFO locks | tr -d '\r')
check_match "INFO locks has the Locks section" "$locks" '# Locks'
check_match "INFO locks counts the held lock" "$locks" 'locks_held:1'
check_match "INFO locks shows the last token" "$locks" "locks_last_token:$t2"

docs=$(cli COMMAND DOCS lock.acquire | tr '\n' ' ')
check_match "COMMAND DOCS lock.acquire documents holder" "$docs" 'name holder'
check_match "COMMAND DOCS lock.acquire documents ttl_ms" "$docs" 'name ttl_ms'
check_match "COMMAND DOCS lock.acquire documents the WAIT option" "$docs" 'token WAIT'

check "LOCK.RELEASE by the new holder frees the key" "$(cli LOCK.RELEASE seat:1 bob "$t2")" "1"
check "the freed key is gone" "$(cli EXISTS seat:1)" "0"

# ---- Interactive hint ----

hint_desc="interactive redis-cli shows the LOCK.ACQUIRE argument hint"
if command -v tmux >/dev/null 2>&1; then
  tmux -S "$tmux_sock" new-session -d -x 200 -y 50 \
    "env REDISCLI_HISTFILE=/dev/null redis-cli -p $port" 2>"$tmp/tmux.err"
  prompt=no
  for _ in $(seq 1 100); do
    if tmux -S "$tmux_sock" capture-pane -p 2>/dev/null | grep -q "127.0.0.1:$port>"; then
      prompt=yes
      break
    fi
    sleep 0.05
  done
  tmux -S "$tmux_sock" send-keys "lock.acquire " 2>/dev/null
  shown=no
  for _ in $(seq 1 100); do
    pane=$(tmux -S "$tmux_sock" capture-pane -p 2>/dev/null)
    if grep -qF "lock.acquire key holder ttl_ms [WAIT wait_ms]" <<<"$pane"; then
      shown=yes
      break
    fi
    sleep 0.05
  done
  if [ "$shown" == yes ]; then
    ok "$hint_desc"
  else
    not_ok "$hint_desc" "prompt seen: $prompt; pane: $(grep -F "127.0.0.1:$port>" <<<"$pane" | tail -1)"
  fi
  tmux -S "$tmux_sock" kill-server 2>/dev/null
else
  n=$((n + 1))
  echo "ok $n # skip $hint_desc: tmux is not installed"
fi

# ---- The append-only log ----

log=$(tr -d '\r' <"$tmp/appendonly.aof" | tr '\n' ' ')
check_match "the log holds the grants as readable records" "$log" \
  "LOCK.GRANT \\\$6 seat:1 \\\$5 alice \\\$[0-9]+ $t1 "
check_match "the hand-off is one MULTI/EXEC unit" "$log" \
  "MULTI \\*3 \\\$9 LOCK.FREE \\\$6 seat:1 \\\$7 release \\*5 \\\$10 LOCK.GRANT \\\$6 seat:1 \\\$3 bob"
check "BGREWRITEAOF starts a rewrite" "$(cli BGREWRITEAOF)" "Background append only file rewriting started"
rewritten=no
for _ in $(seq 1 100); do
  if cli INFO persistence | tr -d '\r' | grep -q '^aof_rewrites:1$'; then
    rewritten=yes
    break
  fi
  sleep 0.05
done
check "the rewrite finishes" "$rewritten" "yes"
check_match "the rewritten log starts with the token high-water mark" \
  "$(head -c 200 "$tmp/appendonly.aof" | tr -d '\r' | tr '\n' ' ')" "^\\*3 \\\$12 LOCK.RESERVE \\\$[0-9]+ $t2 "
check "the rewritten log no longer holds released leases" "$(grep -c alice "$tmp/appendonly.aof")" "0"

# ---- Stop ----

kill -TERM "$server_pid"
stopped=no
for _ in $(seq 1 100); do
  if ! kill -0 "$server_pid" 2>/dev/null; then
    stopped=yes
    break
  fi
  sleep 0.05
done
if [ "$stopped" == yes ]; then
  wait "$server_pid"
  rc=$?
  server_pid=""
  check "SIGTERM stops the server with exit code 0" "$rc" "0"
else
  not_ok "SIGTERM stops the server with exit code 0" "still running after 5 s"
fi

# ---- After the stop: the log is whole, and a restart resumes the tokens ----

if [ -x "$check_aof" ]; then
  out=$("$check_aof" "$tmp/appendonly.aof" 2>&1)
  check_match "lockd-check-aof finds the log valid" "$out" "is valid"
else
  not_ok "lockd-check-aof exists" "build it first: make all"
fi
check_match "a clean stop ends the log with LOCK.SHUTDOWN" \
  "$(tail -c 40 "$tmp/appendonly.aof" | tr -d '\r' | tr '\n' ' ')" 'LOCK.SHUTDOWN \$1 0 $'
start_server
check "the server restarts on its log" "$up" "yes"
t3=$(cli LOCK.ACQUIRE seat:9 dave 1000)
if [[ "$t3" =~ ^[0-9]+$ ]] && [ "$t3" -gt "$t2" ]; then
  ok "tokens after the restart are above every token before it"
else
  not_ok "tokens after the restart are above every token before it" "got '$t3' after $t2"
fi
kill -TERM "$server_pid"
wait "$server_pid" 2>/dev/null
server_pid=""

echo "# $n checks, $failures failed"
[ "$failures" -eq 0 ]
