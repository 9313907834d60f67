#!/usr/bin/env bash
# The side-by-side benchmarks: lockd and a real redis-server, both
# started here on free ports of 127.0.0.1, driven with the same redis-benchmark
# flags in alternating runs, each figure printed with its lockd/redis ratio.
# A packaged redis service (on 6379) is never used, stopped or touched; every
# server and job started here is stopped on exit, Ctrl-C or error.
#
# Usage: scripts/bench.sh            (make bench builds the binaries, then runs this)
#        BENCH_QUICK=1 scripts/bench.sh   smoke run: small sizes, a few minutes
# Settings (environment):
#   BENCH_ROUNDS=5          rounds per redis-benchmark figure, log off (the median is quoted)
#   BENCH_AOF_ROUNDS=3      rounds with appendfsync always, with everysec, log loads timed,
#                           and BGREWRITEAOF runs
#   BENCH_REQUESTS=200000   requests per unpipelined run (LOCK.ACQUIRE / SET, PING)
#   BENCH_REQUESTS_P16=1000000  requests per pipelined run
#   BENCH_CLIENTS=50  BENCH_PIPELINE=16  BENCH_KEYSPACE=1000000  BENCH_TTL=30000
#   BENCH_LOCKS=1000000     locks held for the memory (and log load) figures
#   BENCH_REWRITE_LOCKS=$BENCH_LOCKS  leases held when BGREWRITEAOF is timed
#   BENCH_REDIS_PREAMBLE=yes  redis's aof-use-rdb-preamble in the rewrite runs (yes is its
#                           default: the rewritten base is an RDB snapshot; no: commands)
#   BENCH_EXPIRE_LOCKS=1000000  leases that expire at once in the latency figure
#   BENCH_EXPIRE_LEAD=auto  seconds from the start of that load to the common deadline
#   BENCH_AOF=auto          the sections with the log on (aof, everysec, aofload, rewrite):
#                           auto = when lockd accepts `appendonly yes`; 0 = never; 1 = required
#   BENCH_STALL_CONNS=5000  BENCH_STALL_COMMANDS=1000000  BENCH_STALL_BYTES=536870912
#   BENCH_STALL_LOCKS=1000000  BENCH_STALL_KEY_BYTES=1048576   the stalls section's loads:
#                           connections at once, a pipeline's length, one argument's size,
#                           leases rewritten, and the key size acquired during that rewrite
#   BENCH_STALL_SLOW=5  BENCH_STALL_HOGS=4  BENCH_STALL_WAITERS=2000  BENCH_STALL_GARBAGE=100000
#   BENCH_STALL_EXPIRE=1000000   the abuse stalls: slowloris connections (one byte per 100 ms),
#                           clients that never read, waiters in the disconnect storm, garbage
#                           connections, and leases expiring at once
#   BENCH_HTTP_SECONDS=5  BENCH_HTTP_CLIENTS=16   the HTTP section's wrk run length (RESP
#                           runs 10000 requests per second of it) and connections on each side
#   BENCH_ONLY=rps,redlock,aof,everysec,memory,expire,aofload,rewrite,stalls,engine,http,observers,repl,tls,acl,failover
#                           a subset
#                           of the sections (BENCH_ONLY=stalls: only the stalls; redlock: the
#                           commands Redis lock clients send, SET NX PX and EVALSHA, to both;
#                           failover: SIGKILL of a primary under redis-sentinel, see the end)
#   BENCH_TLS_SECONDS=5  BENCH_TLS_WORKERS=4   the TLS handshake runs: length, and
#                           client threads each connecting, handshaking, PING, closing
#   BENCH_ACL_USERS=100     ACL users created before the ACL section's runs
#   BENCH_FAILOVER_ROUNDS=3 rounds of the failover section (1 with BENCH_QUICK)
#   BENCH_PIN=0             1: servers on CPU 1, clients on CPU 0 (taskset)
#   BENCH_SELFTEST=0        1: a second redis-server stands in for lockd (tests this script)
#   BENCH_KEEP=0            1: keep the temporary directory (server logs) afterwards
#   LOCKD_BIN_DIR=$BUILD    where lockd's binaries are (make exports BUILD: build, build/clang, ...)
#   LOCKD_SERVER=$LOCKD_BIN_DIR/lockd-server  ENGINE_BENCH=$LOCKD_BIN_DIR/engine-bench
#   BENCH_CLIENT=$LOCKD_BIN_DIR/bench-client  (tests/bench/bench_client.cc: the repl
#                           section's WAIT batches, the tls section's handshakes)
#   REDIS_SERVER=redis-server
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

PY=/usr/bin/python3
HELPER="$ROOT/scripts/bench_helper.py"

# ---------------------------------------------------------------------------
# Settings.

QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then
  d_rounds=1 d_aof_rounds=1 d_req=20000 d_req16=100000 d_locks=100000 d_expire=100000
  d_st_conns=1000 d_st_cmds=100000 d_st_bytes=$((64 * 1024 * 1024)) d_st_locks=100000
else
  d_rounds=5 d_aof_rounds=3 d_req=200000 d_req16=1000000 d_locks=1000000 d_expire=1000000
  d_st_conns=5000 d_st_cmds=1000000 d_st_bytes=$((512 * 1024 * 1024)) d_st_locks=1000000
fi
ROUNDS=${BENCH_ROUNDS:-$d_rounds}
AOF_ROUNDS=${BENCH_AOF_ROUNDS:-$d_aof_rounds}
REQUESTS=${BENCH_REQUESTS:-$d_req}
REQUESTS_P16=${BENCH_REQUESTS_P16:-$d_req16}
CLIENTS=${BENCH_CLIENTS:-50}
PIPELINE=${BENCH_PIPELINE:-16}
KEYSPACE=${BENCH_KEYSPACE:-1000000}
TTL=${BENCH_TTL:-30000}
LOCKS=${BENCH_LOCKS:-$d_locks}
REWRITE_LOCKS=${BENCH_REWRITE_LOCKS:-$LOCKS}
REDIS_PREAMBLE=${BENCH_REDIS_PREAMBLE:-yes}
EXPIRE_LOCKS=${BENCH_EXPIRE_LOCKS:-$d_expire}
EXPIRE_LEAD=${BENCH_EXPIRE_LEAD:-auto}
AOF=${BENCH_AOF:-auto}
ST_CONNS=${BENCH_STALL_CONNS:-$d_st_conns}
ST_COMMANDS=${BENCH_STALL_COMMANDS:-$d_st_cmds}
ST_BYTES=${BENCH_STALL_BYTES:-$d_st_bytes}
ST_LOCKS=${BENCH_STALL_LOCKS:-$d_st_locks}
ST_KEY_BYTES=${BENCH_STALL_KEY_BYTES:-1048576}
# The abuse stalls (their own block): BENCH_QUICK scales the counts down.
if [ "$QUICK" = 1 ]; then d_st_garbage=10000 d_st_expire=100000 d_st_waiters=500; else
  d_st_garbage=100000 d_st_expire=1000000 d_st_waiters=2000; fi
ST_SLOW=${BENCH_STALL_SLOW:-5}
ST_HOGS=${BENCH_STALL_HOGS:-4}
ST_WAITERS=${BENCH_STALL_WAITERS:-$d_st_waiters}
ST_GARBAGE=${BENCH_STALL_GARBAGE:-$d_st_garbage}
ST_EXPIRE=${BENCH_STALL_EXPIRE:-$d_st_expire}
HTTP_SECONDS=${BENCH_HTTP_SECONDS:-$([ "$QUICK" = 1 ] && echo 2 || echo 5)}
HTTP_CLIENTS=${BENCH_HTTP_CLIENTS:-16}
TLS_SECONDS=${BENCH_TLS_SECONDS:-$([ "$QUICK" = 1 ] && echo 2 || echo 5)}
TLS_WORKERS=${BENCH_TLS_WORKERS:-4}
ACL_USERS=${BENCH_ACL_USERS:-100}
ONLY=${BENCH_ONLY:-rps,redlock,aof,everysec,memory,expire,aofload,rewrite,stalls,engine,http,observers,repl,tls,acl,failover}
PIN=${BENCH_PIN:-0}
SELFTEST=${BENCH_SELFTEST:-0}
KEEP=${BENCH_KEEP:-0}
LOCKD_BIN_DIR=${LOCKD_BIN_DIR:-$ROOT/${BUILD:-build}}
LOCKD_SERVER=${LOCKD_SERVER:-$LOCKD_BIN_DIR/lockd-server}
ENGINE_BENCH=${ENGINE_BENCH:-$LOCKD_BIN_DIR/engine-bench}
BENCH_CLIENT=${BENCH_CLIENT:-$LOCKD_BIN_DIR/bench-client}
REDIS_SERVER=${REDIS_SERVER:-redis-server}
HOLDER=holder-0123456789

die() { echo "bench: $*" >&2; exit 1; }
section() { [[ ",$ONLY," == *",$1,"* ]]; }

for v in ROUNDS AOF_ROUNDS REQUESTS REQUESTS_P16 CLIENTS PIPELINE KEYSPACE TTL LOCKS EXPIRE_LOCKS \
    REWRITE_LOCKS ST_CONNS ST_COMMANDS ST_BYTES ST_LOCKS ST_KEY_BYTES \
    ST_SLOW ST_HOGS ST_WAITERS ST_GARBAGE ST_EXPIRE HTTP_SECONDS HTTP_CLIENTS TLS_SECONDS TLS_WORKERS \
    ACL_USERS; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "BENCH_$v must be a positive integer (got '${!v}')"
done
[[ $REDIS_PREAMBLE =~ ^(yes|no)$ ]] || die "BENCH_REDIS_PREAMBLE must be yes or no (got '$REDIS_PREAMBLE')"
for s in ${ONLY//,/ }; do
  [[ ,rps,redlock,aof,everysec,memory,expire,aofload,rewrite,stalls,engine,http,observers,repl,tls,acl,failover, == *",$s,"* ]] ||
    die "BENCH_ONLY: unknown section '$s' (rps,redlock,aof,everysec,memory,expire,aofload,rewrite,stalls,engine,http,observers,repl,tls,acl,failover)"
done
[ -x "$PY" ] || die "$PY not found (scripts/install-deps.sh installs python3)"
for tool in redis-benchmark redis-cli "$REDIS_SERVER" taskset; do
  command -v "$tool" >/dev/null || die "$tool not found (run scripts/install-deps.sh)"
done
if [ "$SELFTEST" != 1 ]; then
  [ -x "$LOCKD_SERVER" ] || die "$LOCKD_SERVER not built (make bench builds it)"
fi

# ---------------------------------------------------------------------------
# Processes: every server and child started here is recorded, and stopped by
# the EXIT trap, which also runs after Ctrl-C (INT), TERM and errors (set -e).

TMP=$(mktemp -d "${TMPDIR:-/tmp}/lockd-bench.XXXXXX")
declare -A LIVE=()   # pid -> description, for every server still running
CHILD=""             # the benchmark client or helper being waited for

cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  [ -n "$CHILD" ] && kill -TERM "$CHILD" 2>/dev/null
  local pid
  for pid in "${!LIVE[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for _ in $(seq 100); do
    local alive=0
    for pid in "${!LIVE[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ -n "$CHILD" ] && kill -0 "$CHILD" 2>/dev/null && alive=1
    [ $alive = 0 ] && break
    sleep 0.05
  done
  for pid in "${!LIVE[@]}" $CHILD $(jobs -p); do kill -KILL "$pid" 2>/dev/null; done
  wait 2>/dev/null
  if [ "$KEEP" = 1 ] || { [ $rc -ne 0 ] && [ $rc -ne 130 ] && [ $rc -ne 143 ]; }; then
    echo "bench: logs kept in $TMP" >&2
  else
    rm -rf "$TMP"
  fi
  exit $rc
}
trap cleanup EXIT
trap 'echo; echo "bench: interrupted" >&2; exit 130' INT
trap 'exit 143' TERM

PIN_SERVER=() PIN_CLIENT=()
if [ "$PIN" = 1 ]; then PIN_SERVER=(taskset -c 1) PIN_CLIENT=(taskset -c 0); fi

# run OUT CMD...: runs CMD in the background with stdout in OUT (stderr in
# OUT.err) and waits for it, so that a signal reaches our trap at once. Returns
# CMD's exit code.
run() {
  local out=$1 rc=0
  shift
  "$@" >"$out" 2>"$out.err" &
  CHILD=$!
  wait "$CHILD" || rc=$?
  CHILD=""
  return $rc
}

# kv FILE KEY: the value of KEY=... in a helper's output.
kv() { sed -n "s/^$2=//p" "$1" | tail -1; }

# The command family a side speaks: lockd's LOCK.* or Redis's SET.
# (lockd-replica, a replica's side in the repl section, is lockd too.)
kind_of() { if [[ $1 == lockd || $1 == lockd-* ]] && [ "$SELFTEST" != 1 ]; then echo lockd; else echo redis; fi; }

# start_server SIDE DIR [--directive value ...]: starts lockd or redis-server
# on a free port with its files in DIR and waits for PONG. Sets PORT[SIDE],
# PID[SIDE], READY_SECS (seconds from exec to the first PONG, not -LOADING)
# and LOG_MARK (the lines DIR/server.log had before this start).
declare -A PORT=() PID=()
LOG_MARK=0
N_STARTS=0
start_server() {
  local side=$1 dir=$2
  shift 2
  mkdir -p "$dir"
  local port cmd
  port=$("$PY" "$HELPER" ports 1) || die "no free port"
  if [ "$(kind_of "$side")" = lockd ]; then
    cmd=("$LOCKD_SERVER" --port "$port" --bind 127.0.0.1 --dir "$dir" "$@")
  else
    cmd=("$REDIS_SERVER" --port "$port" --bind 127.0.0.1 --save '' --daemonize no
         --dir "$dir" "$@")
  fi
  N_STARTS=$((N_STARTS + 1))
  local log="$dir/server.log" since
  echo "# ${cmd[*]}" >>"$log"
  LOG_MARK=$(wc -l <"$log")
  since=$(date +%s%N)
  "${PIN_SERVER[@]}" "${cmd[@]}" >>"$log" 2>&1 &
  local pid=$!
  LIVE[$pid]=$side
  PORT[$side]=$port PID[$side]=$pid
  if ! run "$TMP/ready.out" "$PY" "$HELPER" ready --port "$port" --pid "$pid" \
      --since-ns "$since" --timeout 60; then
    cat "$TMP/ready.out.err" >&2
    echo "--- last lines of $side's log ($log):" >&2
    tail -20 "$log" >&2
    return 1
  fi
  READY_SECS=$(kv "$TMP/ready.out" ready_secs)
}

# stop_server SIDE: SIGTERM, then waits for the exit (SIGKILL after 60 s).
stop_server() {
  local side=$1 pid=${PID[$1]:-}
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1200); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  unset "LIVE[$pid]"
  PID[$side]=""
}

cli() { redis-cli -h 127.0.0.1 -p "${PORT[$1]}" "${@:2}"; }

# load_line LOG: the "DB loaded from append only file: ..." line that the
# server started last wrote in LOG (Redis: "...: S seconds"; lockd: "...: N
# records in S seconds"), or nothing.
load_line() {
  tail -n +"$((LOG_MARK + 1))" "$1" | grep 'DB loaded from append only file:' | tail -1 || true
}
load_line_secs() { sed -nE 's/.*append only file: (.* )?([0-9]+(\.[0-9]+)?) seconds.*/\2/p' <<<"$1"; }
load_line_records() { sed -nE 's/.*append only file: ([0-9]+) records in .*/\1/p' <<<"$1"; }

# The lock command each side runs under redis-benchmark, on random keys.
acquire_cmd() {
  if [ "$(kind_of "$1")" = lockd ]; then
    echo "LOCK.ACQUIRE ${2}__rand_int__ $HOLDER $TTL"
  else
    echo "SET ${2}__rand_int__ $HOLDER NX PX $TTL"
  fi
}

# Checks once, before a run, that a side accepts its lock command.
check_acquire() {
  local side=$1 reply
  # shellcheck disable=SC2046
  reply=$(cli "$side" $(acquire_cmd "$side" check: | sed "s/__rand_int__/0/") 2>&1)
  if [[ ! $reply =~ ^([0-9]+|OK|)$ ]]; then
    die "$side answered '$reply' to: $(acquire_cmd "$side" check:)"
  fi
}

# ---------------------------------------------------------------------------
# Results: R[name,side] holds one value per round; median() and ratio() read
# them for the summary.

declare -A R=()
median() {
  tr ' ' '\n' <<<"$1" | sed '/^$/d' | sort -g |
    awk '{v[NR]=$1} END {if (NR==0) print "nan"; else if (NR%2) print v[(NR+1)/2];
                         else print (v[NR/2]+v[NR/2+1])/2}'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b+0==0 || a=="nan" || b=="nan") print "n/a";
                                           else printf "%.2f", a/b}'; }
# med KEY: the median of the rounds' values in R[KEY].
med() { median "${R[$1]:-}"; }
# range KEY: "min-max" of the rounds' values.
range() { tr ' ' '\n' <<<"${R[$1]:-}" | sed '/^$/d' | sort -g |
          awk 'NR==1 {lo=$1} {hi=$1} END {printf "%.0f-%.0f", lo, hi}'; }
fmt() { awk -v v="$1" -v d="${2:-0}" 'BEGIN {if (v=="nan" || v=="") print "n/a";
                                              else printf "%.*f", d, v}'; }

# bench_run SIDE NAME ROUND REQUESTS PIPELINE CMD...: one redis-benchmark run.
bench_run() {
  local side=$1 name=$2 round=$3 n=$4 p=$5
  shift 5
  local out="$TMP/rb.out"
  local cpu0
  cpu0=$(cpu_ticks "${PID[$side]}")
  if ! run "$out" "${PIN_CLIENT[@]}" redis-benchmark -h 127.0.0.1 -p "${PORT[$side]}" \
      -c "$CLIENTS" -n "$n" -r "$KEYSPACE" -P "$p" --csv "$@"; then
    cat "$out" "$out.err" >&2
    die "redis-benchmark against $side failed: $*"
  fi
  if grep -q 'Error from server' "$out" "$out.err"; then
    grep -h 'Error from server' "$out" "$out.err" | head -3 >&2
    die "$side answered errors to: $*"
  fi
  # "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms",
  # "p99_latency_ms","max_latency_ms"
  local line rps p50 p99
  line=$(grep -v '^"test"' "$out" | grep '^"' | tail -1 | tr -d '"') ||
    die "no result from redis-benchmark against $side: $(cat "$out" "$out.err")"
  rps=$(awk -F, '{print $(NF-6)}' <<<"$line")
  p50=$(awk -F, '{print $(NF-3)}' <<<"$line")
  p99=$(awk -F, '{print $(NF-1)}' <<<"$line")
  R[$name,$side]+="$rps "
  # The server's own CPU time per request: unpipelined, both servers wait on
  # the same client, so rps alone cannot tell them apart; this can.
  local cpu_us
  cpu_us=$(awk -v a="$cpu0" -v b="$(cpu_ticks "${PID[$side]}")" -v hz="$CLK_TCK" -v n="$n" \
    'BEGIN {printf "%.2f", (b - a) * 1e6 / hz / n}')
  R[cpu:$name,$side]+="$cpu_us "
  printf '  round %-5s %-5s %-8s %10s rps   p50 %s ms  p99 %s ms  server cpu %s us/req\n' \
    "$round" "$side" "${name/PN/P$PIPELINE}" "$(fmt "$rps")" "$p50" "$p99" "$cpu_us"
}

# round_order ROUND: the order the two servers run in a round, flipped every
# round so that neither always runs first (right after the other's run, or
# in whatever the machine was doing just before).
round_order() { if [ $(($1 % 2)) = 1 ]; then echo lockd redis; else echo redis lockd; fi; }

# paired_line LABEL KEY: the per-round lockd/redis ratios of R[KEY,*] and
# their median: adjacent runs share whatever else the machine was doing, so
# these drift less than the ratio of the medians.
paired_line() {
  local -a lockd_runs redis_runs
  local paired="" i
  read -ra lockd_runs <<<"${R[$2,lockd]:-}"
  read -ra redis_runs <<<"${R[$2,redis]:-}"
  for i in "${!lockd_runs[@]}"; do
    paired+="$(ratio "${lockd_runs[$i]}" "${redis_runs[$i]:-}") "
  done
  printf '  %s: lockd/redis per round %s(median %s)\n' "$1" "$paired" "$(median "$paired")"
}

# cpu_ticks PID: user + system CPU time of a process, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
CLK_TCK=$(getconf CLK_TCK)

# rps_rounds MODE ROUNDS NAMES...: ROUNDS rounds; in each, both servers are
# started fresh (so each round does the same work from an empty key space),
# then every named test runs against lockd and redis in turn.
rps_rounds() {
  local mode=$1 rounds=$2
  shift 2
  local args=(--appendonly no)
  case $mode in
    always | everysec) args=(--appendonly yes --appendfsync "$mode") ;;
  esac
  local r name side
  for r in $(seq "$rounds"); do
    for side in lockd redis; do
      start_server "$side" "$TMP/$side-$mode-$r" "${args[@]}"
      check_acquire "$side"
    done
    for name in "$@"; do
      for side in $(round_order "$r"); do
        # shellcheck disable=SC2046
        case $name in
          P1 | P1-aof | P1-es) bench_run "$side" "$name" "$r/$rounds" "$REQUESTS" 1 \
                         $(acquire_cmd "$side" "lock:p1:") ;;
          PN | PN-aof | PN-es) bench_run "$side" "$name" "$r/$rounds" "$REQUESTS_P16" "$PIPELINE" \
                         $(acquire_cmd "$side" "lock:p$PIPELINE:") ;;
          PING) bench_run "$side" "$name" "$r/$rounds" "$REQUESTS" 1 PING ;;
          *) die "unknown test $name" ;;
        esac
      done
    done
    for side in lockd redis; do
      # Both sides must have done the same work: the same share of fresh keys.
      local keys
      keys=$(cli "$side" DBSIZE)
      R[keys-$mode,$side]+="$keys "
      stop_server "$side"
    done
  done
  # Besides the ratio of the medians (the summary's figure), the median of the
  # per-round ratios: adjacent runs share whatever else the machine was doing.
  for name in "$@"; do
    printf '  median %-8s lockd %s rps (%s), redis %s rps (%s): lockd/redis %s\n' \
      "${name/PN/P$PIPELINE}" "$(fmt "$(med "$name,lockd")")" "$(range "$name,lockd")" \
      "$(fmt "$(med "$name,redis")")" "$(range "$name,redis")" \
      "$(ratio "$(med "$name,lockd")" "$(med "$name,redis")")"
    paired_line "${name/PN/P$PIPELINE} rps" "$name"
    if [[ $name == P1* || $name == PING ]]; then
      paired_line "${name} server CPU per request" "cpu:$name"
    fi
  done
}

# lockd accepts `appendonly yes` only once its log is built (README); until
# then the sections with the log on (aof, everysec, aofload, rewrite) are skipped.
AOF_OK=0 AOF_WHY=""
probe_aof() {
  if [ "$AOF" = 0 ]; then AOF_WHY="BENCH_AOF=0"; return 0; fi
  if start_server lockd "$TMP/aof-probe" --appendonly yes --appendfsync always \
      2>"$TMP/aof-probe.err"; then
    AOF_OK=1
    stop_server lockd
  else
    AOF_WHY=$( { grep -v '^#' "$TMP/aof-probe/server.log" | grep -iE 'appendonly|aof' ||
                 grep -v '^#' "$TMP/aof-probe/server.log" | grep -iE 'error|refus'; } |
              head -1 | cut -c1-120)
    AOF_WHY=${AOF_WHY:-lockd does not start with appendonly yes}
    stop_server lockd
    if [ "$AOF" = 1 ]; then die "BENCH_AOF=1 but lockd does not run with appendonly yes: $AOF_WHY"; fi
  fi
}

# ---------------------------------------------------------------------------
# Header.

T0=$(date +%s)
lockd_version="(stand-in: redis-server, BENCH_SELFTEST=1)"
[ "$SELFTEST" != 1 ] && lockd_version=$("$LOCKD_SERVER" --version 2>&1 | head -1 || true)
echo "== lockd vs redis, side by side"
echo "lockd:  $lockd_version"
echo "redis:  $("$REDIS_SERVER" --version | head -1)"
echo "host:   $(nproc) CPUs ($(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "client: redis-benchmark $(redis-benchmark --version | awk '{print $2}'), one thread, $CLIENTS connections, on the same host:"
echo "        client and server share the $(nproc) CPUs, so the figures are client-bound as much as server-bound;"
echo "        pinning: $([ "$PIN" = 1 ] && echo "servers on CPU 1, clients on CPU 0" || echo "none (BENCH_PIN=1 pins)")"
echo "runs:   $ROUNDS rounds ($AOF_ROUNDS with the log on), alternating lockd/redis, median quoted; $REQUESTS requests unpipelined," \
     "$REQUESTS_P16 with -P $PIPELINE; keys: -r $KEYSPACE, ttl $TTL ms; fresh servers each round"
awk '$1 > 0.5 {print "note:   the load average is " $1 " before starting: other work on this machine makes the figures noisy"}' /proc/loadavg

# ---------------------------------------------------------------------------
# 1-3. LOCK.ACQUIRE vs SET NX PX, unpipelined and pipelined; PING.

if section rps; then
  echo
  echo "== 1-3. LOCK.ACQUIRE vs SET NX PX (random keys), P1 and P$PIPELINE; PING — log off"
  rps_rounds off "$ROUNDS" P1 PN PING
fi

# ---------------------------------------------------------------------------
# 3b. What Redis lock clients send, the same command to both servers:
# `SET k v NX PX` (redis-py, go-redsync), EVALSHA of node-redlock 5's acquire
# script and of redis-py's release script (loaded first with SCRIPT LOAD; the
# release runs on the keys the acquire runs took, so part of it finds our
# value and deletes). A case lockd answers with an error (a command it does
# not have yet) is skipped on lockd's side, and says so.

RL_DIR=$ROOT/tests/clients/redlock_scripts
RL_ACQ_FILE=$RL_DIR/redlock5_acquire.lua
RL_REL_FILE=$RL_DIR/redispy_release.lua
declare -A RL_WHY=()  # case,side -> the error that makes the case skip there

# redlock_cmd CASE: the command line of a case (set, acq or rel).
redlock_cmd() {
  case $1 in
    set) echo "SET rl:set:__rand_int__ $HOLDER NX PX $TTL" ;;
    acq) echo "EVALSHA $RL_ACQ_SHA 1 rl:ev:__rand_int__ $HOLDER $TTL" ;;
    rel) echo "EVALSHA $RL_REL_SHA 1 rl:ev:__rand_int__ $HOLDER" ;;
  esac
}

# redlock_prepare SIDE: loads both scripts and probes each case once; a case
# that fails records why in RL_WHY (lockd) or stops the bench (the reference).
redlock_prepare() {
  local side=$1 c f why out="$TMP/rl-prep.out"
  for c in acq rel; do
    f=$RL_ACQ_FILE
    [ $c = rel ] && f=$RL_REL_FILE
    run "$out" "$PY" "$HELPER" scriptload --port "${PORT[$side]}" --file "$f" ||
      die "bench_helper scriptload failed: $(cat "$out.err")"
    [ "$(kv "$out" ok)" = 1 ] || RL_WHY[$c,$side]="SCRIPT LOAD: $(kv "$out" error)"
  done
  for c in set acq rel; do
    [ -z "${RL_WHY[$c,$side]:-}" ] || continue
    # shellcheck disable=SC2046
    run "$out" "$PY" "$HELPER" probe --port "${PORT[$side]}" $(redlock_cmd $c | sed 's/__rand_int__/probe/') ||
      die "bench_helper probe failed: $(cat "$out.err")"
    [ "$(kv "$out" ok)" = 1 ] || RL_WHY[$c,$side]=$(kv "$out" error)
  done
  for c in set acq rel; do
    why=${RL_WHY[$c,$side]:-}
    if [ -n "$why" ] && [ "$(kind_of "$side")" = redis ]; then
      die "$side answered an error to the $c case ($(redlock_cmd $c)): $why"
    fi
  done
  cli "$side" DEL rl:set:probe rl:ev:probe >/dev/null
}

redlock_rounds() {
  local r side name c n p
  for r in $(seq "$ROUNDS"); do
    for side in lockd redis; do
      start_server "$side" "$TMP/$side-redlock-$r" --appendonly no
      redlock_prepare "$side"
    done
    for name in set-P1 set-PN acq-P1 acq-PN rel-P1 rel-PN; do
      c=${name%-*}
      n=$REQUESTS p=1
      [ "${name#*-}" = PN ] && n=$REQUESTS_P16 p=$PIPELINE
      for side in $(round_order "$r"); do
        if [ -n "${RL_WHY[$c,$side]:-}" ]; then
          [ "$r" = 1 ] && printf '  round %-5s %-5s %-12s skipped: %s answered "%s"\n' "$r/$ROUNDS" "$side" \
            "rl-${name/PN/P$PIPELINE}" "$side" "${RL_WHY[$c,$side]:0:90}"
          continue
        fi
        # shellcheck disable=SC2046
        bench_run "$side" "rl-$name" "$r/$ROUNDS" "$n" "$p" $(redlock_cmd $c)
      done
    done
    for side in lockd redis; do stop_server "$side"; done
  done
  for name in set-P1 acq-P1 rel-P1; do
    paired_line "rl-$name server CPU per request" "cpu:rl-$name"
  done
}

if section redlock; then
  RL_ACQ_SHA=$(sha1sum <"$RL_ACQ_FILE" | cut -c1-40)
  RL_REL_SHA=$(sha1sum <"$RL_REL_FILE" | cut -c1-40)
  echo
  echo "== 3b. Redis lock clients' commands, the same to both (random keys): SET NX PX;"
  echo "   EVALSHA of node-redlock 5's acquire ($RL_ACQ_SHA) and redis-py's release ($RL_REL_SHA)"
  redlock_rounds
fi

if section aof || section everysec || section aofload || section rewrite || section stalls; then
  probe_aof
fi

if section aof; then
  echo
  if [ $AOF_OK = 1 ]; then
    echo "== 1-2 again with appendonly yes, appendfsync always (both servers)"
    rps_rounds always "$AOF_ROUNDS" P1-aof PN-aof
  else
    echo "== appendfsync always runs: skipped ($AOF_WHY)"
  fi
fi

if section everysec; then
  echo
  if [ $AOF_OK = 1 ]; then
    echo "== 1-2 again with appendonly yes, appendfsync everysec (both servers)"
    rps_rounds everysec "$AOF_ROUNDS" P1-es PN-es
  else
    echo "== appendfsync everysec runs: skipped ($AOF_WHY)"
  fi
fi

# ---------------------------------------------------------------------------
# 4. Memory per held lock.

FILL_SECS_MAX=0
if section memory; then
  echo
  echo "== 4. memory per held lock: $LOCKS locks (17-byte keys and holders, ttl 600000 ms) through redis-cli --pipe"
  for side in lockd redis; do
    start_server "$side" "$TMP/$side-memory" --appendonly no
    out="$TMP/fill-$side.out"
    run "$out" "$PY" "$HELPER" fill --port "${PORT[$side]}" --pid "${PID[$side]}" \
      --kind "$(kind_of "$side")" --count "$LOCKS" --ttl 600000 ||
      { cat "$out.err" >&2; die "filling $side failed"; }
    [ "$(kv "$out" dbsize_after)" = "$LOCKS" ] ||
      die "$side holds $(kv "$out" dbsize_after) keys after the fill, not $LOCKS"
    R[rss,$side]=$(kv "$out" rss_per_lock)
    R[used,$side]=$(kv "$out" used_per_lock)
    R[fill_secs,$side]=$(kv "$out" load_secs)
    FILL_SECS_MAX=$(awk -v a="$FILL_SECS_MAX" -v b="$(kv "$out" load_secs)" 'BEGIN {print (b>a)?b:a}')
    printf '  %-5s RSS %6.1f -> %7.1f MB: %6.1f B/lock   used_memory: %s B/lock   load %.2f s (%s locks/s)\n' \
      "$side" "$(awk -v v="$(kv "$out" rss_before)" 'BEGIN{print v/1e6}')" \
      "$(awk -v v="$(kv "$out" rss_after)" 'BEGIN{print v/1e6}')" "${R[rss,$side]}" \
      "$(fmt "${R[used,$side]:-nan}" 1)" "$(kv "$out" load_secs)" "$(fmt "$(kv "$out" load_rate)")"
    stop_server "$side"
  done
fi

# ---------------------------------------------------------------------------
# 5. PING latency while 1,000,000 leases expire at once.

if section expire; then
  lead=$EXPIRE_LEAD
  if [ "$lead" = auto ]; then
    # Loading must end well before the deadline: twice the slowest fill seen
    # (scaled to this count) plus 3 s, or 3 s + 1 s per 100,000 locks when
    # the memory section did not run.
    lead=$(awk -v f="$FILL_SECS_MAX" -v a="$LOCKS" -v b="$EXPIRE_LOCKS" \
           'BEGIN {l = (f > 0) ? 2 * f * b / a + 3 : 3 + b / 100000; printf "%.1f", l}')
  fi
  echo
  echo "== 5. PING latency (a second client, one PING every 1 ms) while $EXPIRE_LOCKS leases expire at one deadline"
  echo "   (each batch of 1000 is acquired with ttl = deadline - now; deadline = load start + $lead s;"
  echo "    the window runs from 0.1 s before the deadline until every key is gone, at least 1 s;"
  echo "    'idle' is the same probe during the second before that, when nothing expires)"
  for side in lockd redis; do
    start_server "$side" "$TMP/$side-expire" --appendonly no
    out="$TMP/expire-$side.out"
    run "$out" "$PY" "$HELPER" expire --port "${PORT[$side]}" --kind "$(kind_of "$side")" \
      --count "$EXPIRE_LOCKS" --lead "$lead" ||
      { cat "$out.err" >&2; die "the expiry run against $side failed"; }
    grep -h 'bench_helper' "$out.err" >&2 || true
    for k in exp_p50_ms exp_p99_ms exp_max_ms emptied_secs expired idle_p99_ms; do
      R[$k,$side]=$(kv "$out" $k)
    done
    printf '  %-5s p50 %.3f ms  p99 %.3f ms  p99.9 %.3f ms  max %.3f ms  (%s pings in %.2f s);' \
      "$side" "$(kv "$out" exp_p50_ms)" "$(kv "$out" exp_p99_ms)" "$(kv "$out" exp_p999_ms)" \
      "$(kv "$out" exp_max_ms)" "$(kv "$out" exp_pings)" "$(kv "$out" exp_window_secs)"
    printf ' all gone %.2f s after the deadline, %s expired, %s keys left\n' \
      "$(kv "$out" emptied_secs)" "$(kv "$out" expired)" "$(kv "$out" dbsize_after)"
    printf '        idle: p50 %.3f ms  p99 %.3f ms  max %.3f ms  (%s pings); load %.2f s, slack %.2f s\n' \
      "$(kv "$out" idle_p50_ms)" "$(kv "$out" idle_p99_ms)" "$(kv "$out" idle_max_ms)" \
      "$(kv "$out" idle_pings)" "$(kv "$out" load_secs)" "$(kv "$out" slack_secs)"
    [ "$(kv "$out" dbsize_loaded)" = "$EXPIRE_LOCKS" ] ||
      die "$side held $(kv "$out" dbsize_loaded) keys after loading, not $EXPIRE_LOCKS"
    [ "$(kv "$out" dbsize_after)" = 0 ] ||
      echo "  warning: $side still has $(kv "$out" dbsize_after) keys at the end of the probe" >&2
    stop_server "$side"
  done
fi

# ---------------------------------------------------------------------------
# Time to load a log of $LOCKS records (when lockd has a log).

# aof_args SIDE MODE: the log settings of the aofload and rewrite runs. The
# automatic rewrite is off on both sides, so that a log holds one record per
# lock (Redis 7 would otherwise rewrite its appendonlydir/ into an RDB base
# past 64 MB, and load that instead of commands) and no rewrite but the one
# asked for is timed.
aof_args() {
  echo --appendonly yes --appendfsync "$2" --auto-aof-rewrite-percentage 0
  [ "$(kind_of "$1")" = redis ] && echo --aof-use-rdb-preamble "$REDIS_PREAMBLE"
  return 0
}

declare -A LOAD_SRC=()
if section aofload; then
  echo
  if [ $AOF_OK = 1 ]; then
    echo "== time to load a log of $LOCKS lock records (appendonly yes, appendfsync everysec, automatic rewrite off)"
    echo "   Each log is written by its server while $LOCKS locks are taken through redis-cli --pipe (ttl 3600000 ms):"
    echo "   lockd's LOCK.ACQUIRE records; redis's SET ... NX PX, logged as SET ... PXAT in appendonlydir/ (an"
    echo "   empty RDB base, one incr file of commands: the records are counted below). The load time is the"
    echo "   server's own log line 'DB loaded from append only file: ... seconds', the replay alone; 'to PONG'"
    echo "   is exec until PING answers PONG rather than -LOADING (process start + load). Each server is"
    echo "   restarted $AOF_ROUNDS time(s) on its log, alternating; medians quoted."
    declare -A AOF_RECORDS=()
    for side in lockd redis; do
      dir="$TMP/$side-aofload"
      # shellcheck disable=SC2046
      start_server "$side" "$dir" $(aof_args "$side" everysec)
      run "$TMP/aoffill-$side.out" "$PY" "$HELPER" fill --port "${PORT[$side]}" \
        --pid "${PID[$side]}" --kind "$(kind_of "$side")" --count "$LOCKS" --ttl 3600000 ||
        { cat "$TMP/aoffill-$side.out.err" >&2; die "filling $side's log failed"; }
      stop_server "$side"
      out="$TMP/aofstat-$side.out"
      run "$out" "$PY" "$HELPER" aofstat --dir "$dir" ||
        { cat "$out.err" >&2; die "reading $side's log failed"; }
      AOF_RECORDS[$side]=$(kv "$out" records)
      printf '  %-5s log: %s records (%s), %.1f MB; files: %s\n' "$side" "$(kv "$out" records)" \
        "$(kv "$out" by_command)" "$(awk -v v="$(kv "$out" bytes)" 'BEGIN{print v/1e6}')" "$(kv "$out" files)"
      # One record per lock (lockd adds a few of its own: token reservations, a clean stop).
      if [ "$(kv "$out" top_command_records)" != "$LOCKS" ] || [ "$(kv "$out" rdb_bytes)" -gt 4096 ]; then
        if [ "$(kind_of "$side")" = redis ]; then
          die "$side's log does not hold $LOCKS command records (see the line above)"
        fi
        echo "  warning: $side's log does not hold one record per lock ($LOCKS of one command)" >&2
      fi
    done
    for r in $(seq "$AOF_ROUNDS"); do
      for side in lockd redis; do
        # shellcheck disable=SC2046
        start_server "$side" "$TMP/$side-aofload" $(aof_args "$side" everysec)
        line=$(load_line "$TMP/$side-aofload/server.log")
        secs=$(load_line_secs "$line")
        records=$(load_line_records "$line")
        records=${records:-${AOF_RECORDS[$side]}}
        if [ -n "$secs" ]; then
          LOAD_SRC[$side]="its log line"
        else
          echo "  warning: no 'DB loaded from append only file: ... seconds' line in $side's log;" \
               "its load time is exec to PONG" >&2
          secs=$READY_SECS LOAD_SRC[$side]="exec to PONG (no log line)"
        fi
        rate=$(awk -v n="$records" -v s="$secs" 'BEGIN {if (s > 0) printf "%.0f", n / s; else print "nan"}')
        R[aofload,$side]+="$secs " R[aofrate,$side]+="$rate " R[aofpong,$side]+="$READY_SECS "
        keys=$(cli "$side" DBSIZE)
        printf '  round %-5s %-5s load %.3f s (%s records, %s records/s), to PONG %.3f s, %s keys\n' \
          "$r/$AOF_ROUNDS" "$side" "$secs" "$records" "$(fmt "$rate")" "$READY_SECS" "$keys"
        [ "$keys" = "$LOCKS" ] || die "$side holds $keys keys after loading its log, not $LOCKS"
        stop_server "$side"
      done
    done
    [ "$KEEP" = 1 ] || rm -rf "$TMP/lockd-aofload" "$TMP/redis-aofload"
  else
    echo "== log load time: skipped ($AOF_WHY)"
  fi
fi

# ---------------------------------------------------------------------------
# BGREWRITEAOF of $REWRITE_LOCKS held leases, timed, under a PING probe.

if section rewrite; then
  echo
  if [ $AOF_OK = 1 ]; then
    echo "== BGREWRITEAOF with $REWRITE_LOCKS held leases (appendonly yes, appendfsync everysec, automatic rewrite off;"
    echo "   redis: aof-use-rdb-preamble $REDIS_PREAMBLE$([ "$REDIS_PREAMBLE" = yes ] && echo ", its default: its new base is an RDB snapshot"))"
    echo "   Filled through redis-cli --pipe (LOCK.ACQUIRE / SET NX PX, ttl 600000 ms) with appendfsync everysec."
    echo "   A second client sends one PING every 1 ms from 0.5 s before BGREWRITEAOF until 0.5 s after a third"
    echo "   one (INFO persistence every 10 ms) sees aof_rewrite_in_progress:0 and aof_rewrite_scheduled:0;"
    echo "   the duration runs from sending BGREWRITEAOF to that INFO. Then DBSIZE, and a restart that loads"
    echo "   the rewritten log. $AOF_ROUNDS round(s), alternating, fresh servers; medians quoted."
    for r in $(seq "$AOF_ROUNDS"); do
      for side in lockd redis; do
        dir="$TMP/$side-rewrite-$r"
        # shellcheck disable=SC2046
        start_server "$side" "$dir" $(aof_args "$side" everysec)
        run "$TMP/rwfill-$side.out" "$PY" "$HELPER" fill --port "${PORT[$side]}" \
          --pid "${PID[$side]}" --kind "$(kind_of "$side")" --count "$REWRITE_LOCKS" --ttl 600000 ||
          { cat "$TMP/rwfill-$side.out.err" >&2; die "filling $side failed"; }
        [ "$(kv "$TMP/rwfill-$side.out" dbsize_after)" = "$REWRITE_LOCKS" ] ||
          die "$side holds $(kv "$TMP/rwfill-$side.out" dbsize_after) keys after the fill, not $REWRITE_LOCKS"
        out="$TMP/rewrite-$side.out"
        if ! run "$out" "$PY" "$HELPER" rewrite --port "${PORT[$side]}" \
            --samples "$TMP/rewrite-pings-$side-$r.txt"; then
          printf '  round %-5s %-5s the rewrite failed: %s\n' "$r/$AOF_ROUNDS" "$side" \
            "$(grep -h bench_helper "$out.err" | head -3 | tr '\n' ' ')"
          R[rw:failed,$side]+="$r "
          stop_server "$side"
          continue
        fi
        grep -h 'bench_helper' "$out.err" >&2 || true
        # (R keys of this section start with "rw:": other sections use the same field names.)
        for k in rewrite_secs rw_p50_ms rw_p99_ms rw_max_ms reply_ms dbsize_after idle_p99_ms; do
          R[rw:$k,$side]+="$(kv "$out" $k) "
        done
        printf '  round %-5s %-5s %.3f s (server: %s s), reply %s after %.1f ms; PING p50 %.3f  p99 %.3f  p99.9 %.3f  max %.3f ms (%s pings, worst %.2f s in)\n' \
          "$r/$AOF_ROUNDS" "$side" "$(kv "$out" rewrite_secs)" "$(kv "$out" server_rewrite_secs)" \
          "$(kv "$out" reply | tr _ ' ')" "$(kv "$out" reply_ms)" "$(kv "$out" rw_p50_ms)" \
          "$(kv "$out" rw_p99_ms)" "$(kv "$out" rw_p999_ms)" "$(kv "$out" rw_max_ms)" \
          "$(kv "$out" rw_pings)" "$(kv "$out" worst_at_secs)"
        printf '        pings over 1 ms: %s, over 10 ms: %s; idle before: p99 %.3f  max %.3f ms; log %.1f -> %.1f MB, status %s, rewrites +%s; DBSIZE %s -> %s\n' \
          "$(kv "$out" rw_over_1ms)" "$(kv "$out" rw_over_10ms)" \
          "$(kv "$out" idle_p99_ms)" "$(kv "$out" idle_max_ms)" \
          "$(awk -v v="$(kv "$out" size_before)" 'BEGIN{print v/1e6}')" \
          "$(awk -v v="$(kv "$out" size_after)" 'BEGIN{print v/1e6}')" "$(kv "$out" status)" \
          "$(kv "$out" rewrites)" "$(kv "$out" dbsize_before)" "$(kv "$out" dbsize_after)"
        [ "$(kv "$out" seen_in_progress)" = 1 ] ||
          echo "  warning: $side never showed aof_rewrite_in_progress:1 (its duration is from INFO's aof_rewrites)" >&2
        [ "$(kv "$out" status)" = ok ] || echo "  warning: $side: aof_last_bgrewrite_status:$(kv "$out" status)" >&2
        [ "$(kv "$out" dbsize_after)" = "$REWRITE_LOCKS" ] ||
          echo "  warning: $side holds $(kv "$out" dbsize_after) keys after the rewrite, not $REWRITE_LOCKS" >&2
        stop_server "$side"
        # The rewritten log must load back to the same leases.
        # shellcheck disable=SC2046
        start_server "$side" "$dir" $(aof_args "$side" everysec)
        keys=$(cli "$side" DBSIZE)
        secs=$(load_line_secs "$(load_line "$dir/server.log")")
        R[rw:reload_keys,$side]+="$keys "
        printf '        restarted on the rewritten log: %s keys, loaded in %s s (to PONG %.3f s)\n' \
          "$keys" "${secs:-?}" "$READY_SECS"
        [ "$keys" = "$REWRITE_LOCKS" ] ||
          echo "  warning: $side holds $keys keys after loading its rewritten log, not $REWRITE_LOCKS" >&2
        stop_server "$side"
        [ "$KEEP" = 1 ] || rm -rf "$dir"
      done
    done
  else
    echo "== BGREWRITEAOF under a PING probe: skipped ($AOF_WHY)"
  fi
fi

# ---------------------------------------------------------------------------
# 5b. Stalls: what one client's load costs everybody else. A probe connection
# sends PINGs back to back while another client does one thing at a time;
# lockd's worst PING must stay under 50 ms with default settings.

# stall_case SIDE CASE LABEL [helper flags...]: runs one case and prints it.
stall_case() {
  local side=$1 case=$2 label=$3 out
  shift 3
  out="$TMP/stall-$case-$side.out"
  if ! run "$out" "$PY" "$HELPER" stall --port "${PORT[$side]}" --pid "${PID[$side]}" \
      --kind "$(kind_of "$side")" --case "$case" "$@"; then
    printf '  %-5s %-44s failed: %s\n' "$side" "$label" \
      "$(grep -h bench_helper "$out.err" | head -3 | tr '\n' ' ')"
    R[st:$case:failed,$side]=1
    return 0
  fi
  for k in st_max_ms st_p99_ms rss_peak case_secs; do R[st:$case:$k,$side]=$(kv "$out" "$k"); done
  local extra=""
  case $case in
    conns) extra="unanswered $(kv "$out" unanswered), errors $(kv "$out" errors)" ;;
    pipeline) extra="$(kv "$out" commands) replies in $(fmt "$(kv "$out" load_secs)" 2) s" ;;
    bigarg) extra="reply $(kv "$out" reply), upload $(fmt "$(kv "$out" upload_secs)" 2) s" ;;
    rewrite) extra="$(kv "$out" big_keys) big keys during a $(fmt "$(kv "$out" rewrite_secs)" 2) s rewrite, status $(kv "$out" status)" ;;
    slowloris) extra="$(kv "$out" answered)/$(kv "$out" slow_conns) answered after $(fmt "$(kv "$out" trickle_secs)" 1) s" ;;
    never-read) extra="$(kv "$out" sent_mb) MB sent; closed $(kv "$out" closed), stalled $(kv "$out" stalled), all sent $(kv "$out" completed)" ;;
    blocked-streaming) extra="$(kv "$out" streamed_mb) MB streamed, then $(kv "$out" outcome)" ;;
    waiters-storm) extra="$(kv "$out" waiters) waiters gone $(fmt "$(kv "$out" storm_secs)" 2) s after the storm, $(kv "$out" waiters_left) left" ;;
    garbage) extra="$(kv "$out" answered)/$(kv "$out" garbage_conns) answered, $(fmt "$(kv "$out" conns_per_sec)" 0) conns/s" ;;
    mass-expiry) extra="load $(fmt "$(kv "$out" load_secs)" 1) s, $(fmt "$(kv "$out" slack_secs)" 1) s to spare; all gone $(fmt "$(kv "$out" emptied_secs)" 2) s past the deadline" ;;
  esac
  printf '  %-5s %-44s PING max %8.2f  p99 %7.2f ms (%s pings, worst %.2f s in); RSS peak %s MB; %s\n' \
    "$side" "$label" "$(kv "$out" st_max_ms)" "$(kv "$out" st_p99_ms)" "$(kv "$out" st_pings)" \
    "$(kv "$out" worst_at_secs)" "$(awk -v v="$(kv "$out" rss_peak)" 'BEGIN{printf "%.0f", v/1048576}')" \
    "$extra"
}

if section stalls; then
  echo
  echo "== stalls: one connection PINGs back to back while another client does one thing"
  echo "   (default settings on both sides; PING max and p99 over the case and 0.5 s after it)."
  echo "   (a) $ST_CONNS connections open at once, each sends one LOCK.ACQUIRE / SET NX PX;"
  echo "   (b) a $ST_COMMANDS-command pipeline on one connection (redis-cli --pipe, distinct keys);"
  echo "   (c) EXISTS with one $((ST_BYTES / 1048576)) MB argument;"
  echo "   (d) BGREWRITEAOF of $ST_LOCKS leases (appendonly yes, everysec) while the other client keeps"
  echo "       acquiring leases on $((ST_KEY_BYTES / 1024)) KB keys (ttl 5 s, at most 400) until it is over."
  echo "   (e) $ST_SLOW connections each send a lock command one byte per 100 ms;"
  echo "   (f) $ST_HOGS clients pipeline ECHOs of 4 KB and never read (64 MB each at most);"
  echo "   (g) a client blocked in LOCK.ACQUIRE ... WAIT (BLPOP on redis) streams 64 MB of PINGs;"
  echo "   (h) $ST_WAITERS clients wait on one held key (BLPOP on redis), then all disconnect at once;"
  echo "   (i) $ST_GARBAGE connections, 64 at a time, each send up to 2 KB of random bytes;"
  echo "   (j) $ST_EXPIRE leases (SET NX PX on redis) loaded to end at one deadline, until all are gone."
  for side in lockd redis; do
    dir="$TMP/$side-stalls"
    start_server "$side" "$dir"
    stall_case "$side" conns "(a) $ST_CONNS connections at once" --conns "$ST_CONNS"
    stall_case "$side" pipeline "(b) $ST_COMMANDS-command pipeline" --commands "$ST_COMMANDS"
    stall_case "$side" bigarg "(c) one $((ST_BYTES / 1048576)) MB argument" --bytes "$ST_BYTES"
    stop_server "$side"
    [ "$KEEP" = 1 ] || rm -rf "$dir"
    # The abuse kinds, each on a fresh server (waiters block in BLPOP on Redis).
    dir="$TMP/$side-stalls-abuse"
    start_server "$side" "$dir"
    stall_case "$side" slowloris "(e) $ST_SLOW slowloris, 1 byte/100 ms" --slow-conns "$ST_SLOW"
    stall_case "$side" never-read "(f) $ST_HOGS clients that never read" --hogs "$ST_HOGS"
    stall_case "$side" blocked-streaming "(g) a blocked client streaming input"
    stall_case "$side" waiters-storm "(h) $ST_WAITERS waiters, disconnect storm" --waiters "$ST_WAITERS"
    stall_case "$side" garbage "(i) garbage on $ST_GARBAGE connections" --garbage-conns "$ST_GARBAGE"
    stall_case "$side" mass-expiry "(j) $ST_EXPIRE leases expiring at once" --leases "$ST_EXPIRE" \
      --expire-lead $((ST_EXPIRE / 40000 + 4))
    stop_server "$side"
    [ "$KEEP" = 1 ] || rm -rf "$dir"
    if [ "$side" = lockd ] && [ $AOF_OK != 1 ]; then
      printf '  %-5s %-44s skipped: %s\n' lockd "(d) BGREWRITEAOF + big keys" "$AOF_WHY"
      continue
    fi
    dir="$TMP/$side-stalls-rw"
    # shellcheck disable=SC2046
    start_server "$side" "$dir" $(aof_args "$side" everysec)
    run "$TMP/stfill-$side.out" "$PY" "$HELPER" fill --port "${PORT[$side]}" --pid "${PID[$side]}" \
      --kind "$(kind_of "$side")" --count "$ST_LOCKS" --ttl 600000 ||
      { cat "$TMP/stfill-$side.out.err" >&2; die "filling $side failed"; }
    stall_case "$side" rewrite "(d) BGREWRITEAOF of $ST_LOCKS + big keys" \
      --key-bytes "$ST_KEY_BYTES"
    stop_server "$side"
    [ "$KEEP" = 1 ] || rm -rf "$dir"
  done
fi

# ---------------------------------------------------------------------------
# 6. The engine alone.

ENGINE_PAIRS=""
# engine_figure NAME: the number on engine-bench's "NAME <number>" line.
engine_figure() {
  { grep -hoE "^$1[=: 	]+[0-9.eE+-]+" "$TMP/engine.out" || true; } | head -1 | grep -oE '[0-9.eE+-]+$' || true
}
if section engine; then
  echo
  echo "== 6. engine without the network ($ENGINE_BENCH)"
  if [ -x "$ENGINE_BENCH" ]; then
    out="$TMP/engine.out"
    run "$out" "${PIN_SERVER[@]}" "$ENGINE_BENCH" ||
      { cat "$out" "$out.err" >&2; die "$ENGINE_BENCH failed"; }
    sed 's/^/  /' "$out" "$out.err"
    ENGINE_PAIRS=$(engine_figure engine_pairs_per_sec)
    [ -n "$ENGINE_PAIRS" ] || echo "  warning: no engine_pairs_per_sec line in its output" >&2
  else
    echo "  skipped: $ENGINE_BENCH not built (make bench builds it)"
  fi
fi

# ---------------------------------------------------------------------------
# 7. The HTTP/JSON listener beside RESP, on one lockd with the log off, both
# driven at saturation with the same number of keep-alive connections: HTTP
# by wrk (scripts/http_bench.lua: acquire a random key, then release it with
# the token from the response), RESP by redis-benchmark (the same number of
# LOCK.ACQUIRE of random keys, then of LOCK.RELEASE of random keys). The
# figure that matters is lockd's CPU per operation, from /proc/PID/stat. In
# the summary's columns, "lockd" is HTTP and "redis" is RESP.

if section http && [ "$SELFTEST" != 1 ]; then
  echo
  echo "== 7. HTTP/JSON vs RESP: acquire + release, $HTTP_CLIENTS keep-alive clients, log off"
  if ! command -v wrk >/dev/null; then
    echo "  skipped: wrk not found (scripts/install-deps.sh installs it)"
  else
    http_port=$("$PY" "$HELPER" ports 1) || die "no free port"
    start_server lockd "$TMP/http" --appendonly no --http-port "$http_port"
    # http_run NAME OUT CMD...: runs a client that prints ops=N (or wrk's
    # requests=N) and records operations per second and lockd's CPU per op.
    http_run() {
      local name=$1 out=$2 cpu0 ops t0 t1
      shift 2
      cpu0=$(cpu_ticks "${PID[lockd]}")
      t0=$(date +%s%N)
      run "$out" "${PIN_CLIENT[@]}" "$@" || { cat "$out" "$out.err" >&2; die "$name failed"; }
      t1=$(date +%s%N)
      ops=$(sed -n 's/^\(ops\|requests\)=//p' "$out" | tail -1)
      [ -n "$ops" ] && [ "$ops" -gt 0 ] || die "$name: no operations counted"
      local cpu_us rps
      cpu_us=$(awk -v a="$cpu0" -v b="$(cpu_ticks "${PID[lockd]}")" -v hz="$CLK_TCK" -v n="$ops" \
        'BEGIN {printf "%.2f", (b - a) * 1e6 / hz / n}')
      rps=$(awk -v n="$ops" -v ns="$((t1 - t0))" 'BEGIN {printf "%.0f", n * 1e9 / ns}')
      R[$name]+="$rps " R[cpu:$name]+="$cpu_us "
      printf '  round %-3s %-6s %10s ops/s   server cpu %s us/op\n' "$round" "${name%%,*}" \
        "$(fmt "$rps")" "$cpu_us"
    }
    resp_requests=$((HTTP_SECONDS * 10000))
    for round in $(seq "$ROUNDS"); do
      http_run "http,lockd" "$TMP/http-wrk.out" wrk -t2 -c"$HTTP_CLIENTS" -d"${HTTP_SECONDS}s" \
        -s "$ROOT/scripts/http_bench.lua" "http://127.0.0.1:$http_port"
      http_run "resp,redis" "$TMP/http-resp.out" bash -c '
        for c in "LOCK.ACQUIRE hk:__rand_int__ bench-holder 30000" \
                 "LOCK.RELEASE hk:__rand_int__ bench-holder 1"; do
          redis-benchmark -h 127.0.0.1 -p "$1" -c "$2" -n "$3" -r 1000000000 -q $c >/dev/null || exit 1
        done
        echo "ops=$(($3 * 2))"' _ "${PORT[lockd]}" "$HTTP_CLIENTS" "$resp_requests"
    done
    stop_server lockd
  fi
fi

# ---------------------------------------------------------------------------
# 8. What observing costs: unpipelined LOCK.ACQUIRE on lockd alone, with
# /metrics scraped once a second, and with one MONITOR listener; redis-server
# with and without a MONITOR listener for reference. Rounds alternate.

if section observers && [ "$SELFTEST" != 1 ]; then
  echo
  echo "== 8. observing: LOCK.ACQUIRE (P1) alone, with /metrics scraped every second, with one MONITOR; log off"
  obs_port=$("$PY" "$HELPER" ports 1) || die "no free port"
  for round in $(seq "$ROUNDS"); do
    start_server lockd "$TMP/obs-lockd-$round" --appendonly no --http-port "$obs_port"
    start_server redis "$TMP/obs-redis-$round" --appendonly no
    # A first run after a start is slower on both (page faults, the kernel's
    # socket caches): one unmeasured run each, so "alone" is not penalized.
    for side in lockd redis; do
      # shellcheck disable=SC2046
      redis-benchmark -h 127.0.0.1 -p "${PORT[$side]}" -c "$CLIENTS" -n "$REQUESTS" -r "$KEYSPACE" \
        -q $(acquire_cmd "$side" warm:) >/dev/null 2>&1
    done
    # shellcheck disable=SC2046
    bench_run lockd obs-none "$round/$ROUNDS" "$REQUESTS" 1 $(acquire_cmd lockd obs:)
    (while sleep 1; do curl -s -o /dev/null "http://127.0.0.1:$obs_port/metrics"; done) &
    scraper=$!
    # shellcheck disable=SC2046
    bench_run lockd obs-metrics "$round/$ROUNDS" "$REQUESTS" 1 $(acquire_cmd lockd obs:)
    kill "$scraper" 2>/dev/null; wait "$scraper" 2>/dev/null || true
    for side in lockd redis; do
      if [ "$side" = redis ]; then
        # shellcheck disable=SC2046
        bench_run redis obs-none "$round/$ROUNDS" "$REQUESTS" 1 $(acquire_cmd redis obs:)
      fi
      redis-cli -h 127.0.0.1 -p "${PORT[$side]}" MONITOR >/dev/null &
      monitor=$!
      sleep 0.2
      # shellcheck disable=SC2046
      bench_run "$side" obs-monitor "$round/$ROUNDS" "$REQUESTS" 1 $(acquire_cmd "$side" obs:)
      kill "$monitor" 2>/dev/null; wait "$monitor" 2>/dev/null || true
    done
    for side in lockd redis; do stop_server "$side"; done
  done
fi

# ---------------------------------------------------------------------------
# 9. Replication: LOCK.ACQUIRE on a primary with one replica attached
# (REPLICAOF), beside redis-server with one redis replica running SET NX PX.
# Async: min-replicas-to-write 0 on lockd, plain redis, both driven by
# redis-benchmark. Synchronous: lockd with min-replicas-to-write 1 and
# lock-replica-ack always (no reply leaves before the replica acknowledged
# the change) beside Redis's closest equivalent, the writes followed by
# `WAIT 1 0` in the same round trip. redis-benchmark sends one command per
# request, so both sides of the synchronous rows run bench-client (one
# thread, $CLIENTS connections, one batch in flight per connection): lockd a
# batch of LOCK.ACQUIREs, Redis the same batch of SETs plus one WAIT.
# (WAIT inside MULTI/EXEC would not do: Redis does not block there, it
# answers at once with the replicas that already acknowledged.) Each run's
# CPU is read for both the primary and its replica; before measuring, the
# replica must be linked and caught up (INFO replication), and after it, its
# offset must reach the primary's.

# info_field SIDE SECTION FIELD: one field of INFO SECTION.
info_field() { cli "$1" INFO "$2" | tr -d '\r' | sed -n "s/^$3://p"; }

# repl_wait_caught_up PRIMARY REPLICA: waits (up to 30 s) until the replica's
# link is up and its offset equals the primary's; prints both offsets.
repl_wait_caught_up() {
  local p=$1 rp=$2 want got link
  for _ in $(seq 300); do
    link=$(info_field "$rp" replication master_link_status)
    want=$(info_field "$p" replication master_repl_offset)
    got=$(info_field "$rp" replication slave_repl_offset)
    if [ "$link" = up ] && [ -n "$want" ] && [ "$want" = "$got" ]; then
      echo "$want"
      return 0
    fi
    sleep 0.1
  done
  die "$rp did not catch up with $p: link '$link', offsets primary '$want' replica '$got'"
}

# client_run SIDE NAME ROUND REQUESTS DEPTH CMD [THEN]: one bench-client run
# recorded as bench_run records a redis-benchmark run, plus the CPU of the
# side's replica (SIDE-replica) per request.
client_run() {
  local side=$1 name=$2 round=$3 n=$4 depth=$5 bc_cmd=$6 then=${7:-}
  local out="$TMP/bc.out" cpu0 rcpu0 rside=$1-replica
  local args=(batches --port "${PORT[$side]}" --conns "$CLIENTS" --requests "$n" --pipeline "$depth"
              --keyspace "$KEYSPACE" --cmd "$bc_cmd")
  [ -n "$then" ] && args+=(--then "$then")
  cpu0=$(cpu_ticks "${PID[$side]}") rcpu0=$(cpu_ticks "${PID[$rside]}")
  run "$out" "${PIN_CLIENT[@]}" "$BENCH_CLIENT" "${args[@]}" ||
    { cat "$out" "$out.err" >&2; die "bench-client against $side failed: $bc_cmd ${then:+/ $then}"; }
  local rps cpu_us rcpu_us
  rps=$(kv "$out" rps)
  cpu_us=$(awk -v a="$cpu0" -v b="$(cpu_ticks "${PID[$side]}")" -v hz="$CLK_TCK" -v n="$n" \
    'BEGIN {printf "%.2f", (b - a) * 1e6 / hz / n}')
  rcpu_us=$(awk -v a="$rcpu0" -v b="$(cpu_ticks "${PID[$rside]}")" -v hz="$CLK_TCK" -v n="$n" \
    'BEGIN {printf "%.2f", (b - a) * 1e6 / hz / n}')
  R[$name,$side]+="$rps " R[cpu:$name,$side]+="$cpu_us " R[rcpu:$name,$side]+="$rcpu_us "
  printf '  round %-5s %-5s %-12s %10s rps   p50 %s ms  p99 %s ms  server cpu %s us/req  replica %s us/req%s\n' \
    "$round" "$side" "${name/PN/P$PIPELINE}" "$(fmt "$rps")" "$(kv "$out" p50_ms)" "$(kv "$out" p99_ms)" \
    "$cpu_us" "$rcpu_us" "${then:+  (least $then reply: $(kv "$out" then_min))}"
}

# repl_bench_run: bench_run, plus the replica's CPU per request.
repl_bench_run() {
  local side=$1 name=$2 n=$4 rside=$1-replica rcpu0
  rcpu0=$(cpu_ticks "${PID[$rside]}")
  bench_run "$@"
  local rcpu_us
  rcpu_us=$(awk -v a="$rcpu0" -v b="$(cpu_ticks "${PID[$rside]}")" -v hz="$CLK_TCK" -v n="$n" \
    'BEGIN {printf "%.2f", (b - a) * 1e6 / hz / n}')
  R[rcpu:$name,$side]+="$rcpu_us "
  printf '%42s replica cpu %s us/req\n' "" "$rcpu_us"
}

if section repl && [ "$SELFTEST" != 1 ]; then
  echo
  echo "== 9. replication, one replica attached: LOCK.ACQUIRE vs SET NX PX (random keys, ttl 600000 ms); log off"
  [ -x "$BENCH_CLIENT" ] || die "$BENCH_CLIENT not built (make bench builds it)"
  # Leases that outlive the round (10 min instead of BENCH_TTL): the key
  # counts of primary and replica are compared at the end, and must not be
  # caught while leases expire on one before the other.
  saved_ttl=$TTL TTL=600000
  for round in $(seq "$ROUNDS"); do
    rr="$round/$ROUNDS"
    for side in lockd redis; do
      start_server "$side" "$TMP/repl-$side-$round" --appendonly no
      start_server "$side-replica" "$TMP/repl-$side-replica-$round" --appendonly no
      [ "$(cli "$side-replica" REPLICAOF 127.0.0.1 "${PORT[$side]}")" = OK ] ||
        die "$side-replica refused REPLICAOF"
      off=$(repl_wait_caught_up "$side" "$side-replica")
      [ "$(info_field "$side" replication connected_slaves)" = 1 ] ||
        die "$side does not count its replica (connected_slaves)"
      check_acquire "$side"
      off=$(repl_wait_caught_up "$side" "$side-replica")
      echo "  round $rr $side: replica linked and caught up at offset $off"
    done
    # Each test runs against lockd, then redis, so both see the same moment
    # of this shared machine.
    for side in lockd redis; do
      # shellcheck disable=SC2046
      repl_bench_run "$side" repl-P1 "$rr" "$REQUESTS" 1 $(acquire_cmd "$side" "repl:a1:")
    done
    for side in lockd redis; do
      # shellcheck disable=SC2046
      repl_bench_run "$side" repl-PN "$rr" "$REQUESTS_P16" "$PIPELINE" $(acquire_cmd "$side" "repl:a16:")
    done
    for d in "min-replicas-to-write 1" "lock-replica-ack always"; do
      # shellcheck disable=SC2086
      [ "$(cli lockd CONFIG SET $d)" = OK ] || die "lockd refused CONFIG SET $d"
    done
    client_run lockd sync-P1 "$rr" "$REQUESTS" 1 "$(acquire_cmd lockd repl:s1:)"
    client_run redis sync-P1 "$rr" "$REQUESTS" 1 "$(acquire_cmd redis repl:s1:)" "WAIT 1 0"
    client_run lockd sync-PN "$rr" "$REQUESTS_P16" "$PIPELINE" "$(acquire_cmd lockd repl:s16:)"
    client_run redis sync-PN "$rr" "$REQUESTS_P16" "$PIPELINE" "$(acquire_cmd redis repl:s16:)" "WAIT 1 0"
    for side in lockd redis; do
      # The replica received every write: its offset reaches the primary's,
      # and it holds as many keys.
      off=$(repl_wait_caught_up "$side" "$side-replica")
      keys=$(cli "$side" DBSIZE) rkeys=$(cli "$side-replica" DBSIZE)
      echo "  round $rr $side: after the runs, replica at offset $off (= primary's), keys primary $keys replica $rkeys"
      [ "$keys" = "$rkeys" ] || die "$side-replica holds $rkeys keys, its primary $keys"
      stop_server "$side-replica"
      stop_server "$side"
    done
  done
  TTL=$saved_ttl
fi

# ---------------------------------------------------------------------------
# 10. TLS: LOCK.ACQUIRE vs SET NX PX over TLS (tls-port, a P-256 certificate
# made here, no client certificates: tls-auth-clients no on both), and new
# TLS connections per second: bench-client's workers each connect, complete
# a full handshake (no session resumption), PING, read +PONG and close.

if section tls && [ "$SELFTEST" != 1 ]; then
  echo
  echo "== 10. TLS: LOCK.ACQUIRE vs SET NX PX over TLS, P1 and P$PIPELINE; new connections per second; log off"
  [ -x "$BENCH_CLIENT" ] || die "$BENCH_CLIENT not built (make bench builds it)"
  command -v openssl >/dev/null || die "openssl not found"
  tls_dir="$TMP/tls-certs"
  mkdir -p "$tls_dir"
  (
    cd "$tls_dir"
    k="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
    # shellcheck disable=SC2086
    openssl req -x509 $k -keyout ca.key -out ca.crt -days 2 -subj /CN=lockd-bench-ca
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1' >san.ext
    # shellcheck disable=SC2086
    openssl req $k -keyout server.key -out server.csr -subj /CN=localhost
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2 \
      -extfile san.ext
  ) >"$TMP/tls-certs.log" 2>&1 || { cat "$TMP/tls-certs.log" >&2; die "openssl could not make the certificates"; }
  tls_args=(--tls-cert-file "$tls_dir/server.crt" --tls-key-file "$tls_dir/server.key"
            --tls-ca-cert-file "$tls_dir/ca.crt" --tls-auth-clients no)
  declare -A TLS_PORT=()
  for round in $(seq "$ROUNDS"); do
    for side in lockd redis; do
      TLS_PORT[$side]=$("$PY" "$HELPER" ports 1) || die "no free port"
      start_server "$side" "$TMP/tls-$side-$round" --appendonly no --tls-port "${TLS_PORT[$side]}" \
        "${tls_args[@]}"
      check_acquire "$side"
    done
    rr="$round/$ROUNDS"
    for side in lockd redis; do
      tls_rb=(-p "${TLS_PORT[$side]}" --tls --cacert "$tls_dir/ca.crt")
      # shellcheck disable=SC2046
      bench_run "$side" tls-P1 "$rr" "$REQUESTS" 1 "${tls_rb[@]}" $(acquire_cmd "$side" "tls:p1:")
    done
    for side in lockd redis; do
      tls_rb=(-p "${TLS_PORT[$side]}" --tls --cacert "$tls_dir/ca.crt")
      # shellcheck disable=SC2046
      bench_run "$side" tls-PN "$rr" "$REQUESTS_P16" "$PIPELINE" "${tls_rb[@]}" \
        $(acquire_cmd "$side" "tls:p16:")
    done
    for side in lockd redis; do
      out="$TMP/tls-hs.out"
      cpu0=$(cpu_ticks "${PID[$side]}")
      run "$out" "${PIN_CLIENT[@]}" "$BENCH_CLIENT" handshakes --port "${TLS_PORT[$side]}" \
        --cacert "$tls_dir/ca.crt" --workers "$TLS_WORKERS" --seconds "$TLS_SECONDS" ||
        { cat "$out" "$out.err" >&2; die "TLS handshakes against $side failed"; }
      hs=$(kv "$out" handshakes) hs_rps=$(kv "$out" rps)
      [ "${hs:-0}" -gt 0 ] || die "no TLS handshake completed against $side"
      cpu_us=$(awk -v a="$cpu0" -v b="$(cpu_ticks "${PID[$side]}")" -v hz="$CLK_TCK" -v n="$hs" \
        'BEGIN {printf "%.2f", (b - a) * 1e6 / hz / n}')
      R[tls-hs,$side]+="$hs_rps " R[cpu:tls-hs,$side]+="$cpu_us "
      printf '  round %-5s %-5s %-8s %10s conn/s   (%s handshakes, %s workers)  server cpu %s us/conn\n' \
        "$rr" "$side" handshake "$hs_rps" "$hs" "$TLS_WORKERS" "$cpu_us"
    done
    for side in lockd redis; do stop_server "$side"; done
  done
fi

# ---------------------------------------------------------------------------
# 11. ACL: what checking a user's rules costs. Each server gets
# $ACL_USERS users (u<i>: password pass<i>, keys ~seat:<i>:*, read-only
# %R~view:*, the lock commands and @read; on redis-server, whose categories
# have no @lock, @write and @read), then runs the same LOCK.ACQUIRE / SET NX
# PX load as the default user (no rules: every command, every key) and as
# u7 on keys seat:7:... that its pattern allows. The user runs and the
# default runs alternate (their order flips each round).

if section acl && [ "$SELFTEST" != 1 ]; then
  echo
  echo "== 11. ACL: LOCK.ACQUIRE / SET NX PX as a user with key patterns ($ACL_USERS users) vs the default user; log off"
  acl_user=u7
  for round in $(seq "$ROUNDS"); do
    rr="$round/$ROUNDS"
    for side in lockd redis; do
      start_server "$side" "$TMP/acl-$side-$round" --appendonly no
      check_acquire "$side"
      cats="+@lock +@read"
      [ "$(kind_of "$side")" = redis ] && cats="+@write +@read"
      for i in $(seq 0 $((ACL_USERS - 1))); do
        echo "ACL SETUSER u$i on >pass$i ~seat:$i:* %R~view:* $cats"
      done >"$TMP/acl-users.txt"
      cli "$side" <"$TMP/acl-users.txt" >"$TMP/acl-users.out" 2>&1
      n_ok=$(grep -c '^OK$' "$TMP/acl-users.out" || true)
      [ "$n_ok" = "$ACL_USERS" ] ||
        die "$side: ACL SETUSER answered $(grep -v '^OK$' "$TMP/acl-users.out" | head -1)"
      n_users=$(cli "$side" ACL USERS | wc -l)
      [ "$n_users" = $((ACL_USERS + 1)) ] || die "$side lists $n_users users, not $((ACL_USERS + 1))"
      # The user may lock its own seats, and only those.
      # shellcheck disable=SC2046
      reply=$(cli "$side" --user "$acl_user" --pass "pass7" $(acquire_cmd "$side" "seat:7:check" |
              sed 's/__rand_int__//') 2>/dev/null)
      [[ $reply =~ ^([0-9]+|OK)$ ]] || die "$side: $acl_user cannot lock seat:7:check ('$reply')"
      # shellcheck disable=SC2046
      reply=$(cli "$side" --user "$acl_user" --pass "pass7" $(acquire_cmd "$side" "seat:8:check" |
              sed 's/__rand_int__//') 2>/dev/null)
      [[ $reply == NOPERM* ]] || die "$side: $acl_user may lock seat:8:check ('$reply')"
    done
    if [ $((round % 2)) = 1 ]; then acl_order="def user"; else acl_order="user def"; fi
    for p in P1 PN; do
      n=$REQUESTS depth=1
      [ $p = PN ] && n=$REQUESTS_P16 depth=$PIPELINE
      for side in lockd redis; do
        for who in $acl_order; do
          auth=()
          [ "$who" = user ] && auth=(--user "$acl_user" -a pass7)
          # shellcheck disable=SC2046
          bench_run "$side" "acl-$who-$p" "$rr" "$n" "$depth" "${auth[@]}" \
            $(acquire_cmd "$side" "seat:7:$who:$p:")
        done
      done
    done
    for side in lockd redis; do stop_server "$side"; done
  done
fi

# ---------------------------------------------------------------------------
# Summary.

# row NAME LOCKD REDIS UNIT DECIMALS [TARGET-OP TARGET [TARGET-ON [TARGET-TEXT]]]
# TARGET-ON is "ratio" (default) or "lockd" (an absolute bound on lockd's figure).
row() {
  local name=$1 l=$2 r=$3 unit=$4 dec=$5 op=${6:-} target=${7:-} on=${8:-ratio} text=${9:-}
  local rt="-" lv rv met="" tgt=""
  [ -n "$r" ] && rt=$(ratio "$l" "$r")
  lv="$(fmt "$l" "$dec") $unit"
  rv="-"
  [ -n "$r" ] && rv="$(fmt "$r" "$dec") $unit"
  if [ -n "$op" ]; then
    local v=$rt
    [ "$on" = lockd ] && v=$l
    if [ "$on" = lockd ]; then tgt="lockd $op ${text:-$target}"; else tgt="ratio $op $target"; fi
    met=$(awk -v v="$v" -v t="$target" -v op="$op" 'BEGIN {
      if (v == "n/a" || v == "nan" || v == "" || v == "-") {print "n/a"; exit}
      ok = (op == ">=") ? (v + 0 >= t + 0) : (op == "=") ? (v + 0 == t + 0) : (v + 0 <= t + 0)
      print ok ? "yes" : "NO"}')
  fi
  printf '%-44s %16s %16s %11s   %-26s %s\n' "$name" "$lv" "$rv" "$rt" "$tgt" "$met"
}
# worst KEY: the largest of the rounds' values in R[KEY].
worst() { tr ' ' '\n' <<<"${R[$1]:-}" | sed '/^$/d' | sort -g | tail -1 | grep . || echo nan; }


echo
echo "== summary (medians of alternating rounds; lockd/redis from the same run)"
printf '%-44s %16s %16s %11s   %-26s %s\n' benchmark lockd redis lockd/redis target met
if section rps; then
  row "LOCK.ACQUIRE vs SET NX PX (P1)" "$(med P1,lockd)" "$(med P1,redis)" rps 0 ">=" 1.0
  row "LOCK.ACQUIRE vs SET NX PX (P$PIPELINE)" "$(med PN,lockd)" "$(med PN,redis)" rps 0 ">=" 1.3
  row "PING (P1)" "$(med PING,lockd)" "$(med PING,redis)" rps 0
  row "  server CPU per LOCK.ACQUIRE / SET (P1)" "$(med cpu:P1,lockd)" "$(med cpu:P1,redis)" us 2
  row "  server CPU per LOCK.ACQUIRE / SET (P$PIPELINE)" "$(med cpu:PN,lockd)" "$(med cpu:PN,redis)" us 2
  row "  server CPU per PING (P1)" "$(med cpu:PING,lockd)" "$(med cpu:PING,redis)" us 2
fi
if section redlock; then
  row "SET NX PX, same command (P1)" "$(med rl-set-P1,lockd)" "$(med rl-set-P1,redis)" rps 0 ">=" 0.97
  row "  server CPU per SET NX PX (P1)" "$(med cpu:rl-set-P1,lockd)" "$(med cpu:rl-set-P1,redis)" us 2 \
    "<=" 0.85
  row "SET NX PX, same command (P$PIPELINE)" "$(med rl-set-PN,lockd)" "$(med rl-set-PN,redis)" rps 0 \
    ">=" 1.3
  row "EVALSHA redlock5 acquire (P1)" "$(med rl-acq-P1,lockd)" "$(med rl-acq-P1,redis)" rps 0
  row "  server CPU per EVALSHA acquire (P1)" "$(med cpu:rl-acq-P1,lockd)" \
    "$(med cpu:rl-acq-P1,redis)" us 2 "<=" 0.9
  row "EVALSHA redlock5 acquire (P$PIPELINE)" "$(med rl-acq-PN,lockd)" "$(med rl-acq-PN,redis)" rps 0 \
    ">=" 1.2
  row "EVALSHA redis-py release (P1)" "$(med rl-rel-P1,lockd)" "$(med rl-rel-P1,redis)" rps 0
  row "  server CPU per EVALSHA release (P1)" "$(med cpu:rl-rel-P1,lockd)" \
    "$(med cpu:rl-rel-P1,redis)" us 2 "<=" 0.9
  row "EVALSHA redis-py release (P$PIPELINE)" "$(med rl-rel-PN,lockd)" "$(med rl-rel-PN,redis)" rps 0 \
    ">=" 1.2
  for c in set acq rel; do
    [ -z "${RL_WHY[$c,lockd]:-}" ] || echo "(lockd skipped the $c case: ${RL_WHY[$c,lockd]:0:90})"
  done
fi
if section aof && [ $AOF_OK = 1 ]; then
  row "  same, appendfsync always (P1)" "$(med P1-aof,lockd)" "$(med P1-aof,redis)" rps 0 ">=" 1.0
  row "  same, appendfsync always (P$PIPELINE)" "$(med PN-aof,lockd)" "$(med PN-aof,redis)" rps 0 \
    ">=" 1.2
  row "    server CPU per request, always (P1)" "$(med cpu:P1-aof,lockd)" "$(med cpu:P1-aof,redis)" us 2
fi
if section everysec && [ $AOF_OK = 1 ]; then
  row "  same, appendfsync everysec (P1)" "$(med P1-es,lockd)" "$(med P1-es,redis)" rps 0
  row "  same, appendfsync everysec (P$PIPELINE)" "$(med PN-es,lockd)" "$(med PN-es,redis)" rps 0
fi
if section memory; then
  row "memory per lock, RSS ($LOCKS locks)" "${R[rss,lockd]}" "${R[rss,redis]}" B 1 "<=" 0.6
  row "  used_memory per lock (reference)" "${R[used,lockd]:-nan}" "${R[used,redis]:-nan}" B 1
fi
if section expire; then
  row "PING p99 while $EXPIRE_LOCKS leases expire" "${R[exp_p99_ms,lockd]}" \
    "${R[exp_p99_ms,redis]}" ms 3 "<=" 5 lockd "5 ms"
  row "  PING max in that window" "${R[exp_max_ms,lockd]}" "${R[exp_max_ms,redis]}" ms 3
  row "  time until every key is gone" "${R[emptied_secs,lockd]}" "${R[emptied_secs,redis]}" s 2
  row "  PING p99 just before (idle)" "${R[idle_p99_ms,lockd]}" "${R[idle_p99_ms,redis]}" ms 3
fi
if section aofload && [ $AOF_OK = 1 ]; then
  row "log load time ($LOCKS records)" "$(med aofload,lockd)" "$(med aofload,redis)" s 3
  row "  records loaded per second" "$(med aofrate,lockd)" "$(med aofrate,redis)" /s 0 \
    ">=" 2000000 lockd "2,000,000 rec/s"
  row "  exec to first PONG (reference)" "$(med aofpong,lockd)" "$(med aofpong,redis)" s 3
fi
if section rewrite && [ $AOF_OK = 1 ]; then
  row "BGREWRITEAOF, $REWRITE_LOCKS leases: duration" "$(med rw:rewrite_secs,lockd)" \
    "$(med rw:rewrite_secs,redis)" s 3
  row "  PING p50 during the rewrite" "$(med rw:rw_p50_ms,lockd)" "$(med rw:rw_p50_ms,redis)" ms 3
  row "  PING p99 during the rewrite" "$(med rw:rw_p99_ms,lockd)" "$(med rw:rw_p99_ms,redis)" ms 3
  row "  PING max during the rewrite (worst round)" "$(worst rw:rw_max_ms,lockd)" \
    "$(worst rw:rw_max_ms,redis)" ms 3 "<=" 10 lockd "10 ms (no stall)"
  row "  BGREWRITEAOF reply time" "$(med rw:reply_ms,lockd)" "$(med rw:reply_ms,redis)" ms 3
  row "  PING p99 idle, before BGREWRITEAOF" "$(med rw:idle_p99_ms,lockd)" "$(med rw:idle_p99_ms,redis)" ms 3
  row "  DBSIZE after the rewrite" "$(med rw:dbsize_after,lockd)" "$(med rw:dbsize_after,redis)" keys 0 \
    "=" "$REWRITE_LOCKS" lockd "$REWRITE_LOCKS"
  row "  DBSIZE after a restart on that log" "$(med rw:reload_keys,lockd)" \
    "$(med rw:reload_keys,redis)" keys 0 "=" "$REWRITE_LOCKS" lockd "$REWRITE_LOCKS"
  for side in lockd redis; do
    [ -z "${R[rw:failed,$side]:-}" ] || echo "($side: the rewrite failed in round(s) ${R[rw:failed,$side]})"
  done
fi
if section stalls; then
  for c in "conns:(a) $ST_CONNS connections at once" "pipeline:(b) $ST_COMMANDS-command pipeline" \
      "bigarg:(c) one $((ST_BYTES / 1048576)) MB argument" "rewrite:(d) BGREWRITEAOF + big keys" \
      "slowloris:(e) slowloris" "never-read:(f) clients that never read" \
      "blocked-streaming:(g) a blocked client streaming" "waiters-storm:(h) waiters, disconnect storm" \
      "garbage:(i) garbage connections" "mass-expiry:(j) $ST_EXPIRE leases expiring at once"; do
    key=${c%%:*} label=${c#*:}
    row "PING max, $label" "${R[st:$key:st_max_ms,lockd]:-nan}" "${R[st:$key:st_max_ms,redis]:-nan}" \
      ms 2 "<=" 50 lockd "50 ms"
    row "  PING p99" "${R[st:$key:st_p99_ms,lockd]:-nan}" "${R[st:$key:st_p99_ms,redis]:-nan}" ms 2
  done
fi
if section engine && [ -n "$ENGINE_PAIRS" ]; then
  row "engine pairs/s (no network)" "$ENGINE_PAIRS" "" "/s" 0 ">=" 5000000 lockd "5M/s"
  for f in "engine_bytes_per_lock B 1" "engine_expire_1m_ms ms 1" "engine_max_advance_us us 0"; do
    read -r name unit dec <<<"$f"
    v=$(engine_figure "$name")
    [ -z "$v" ] || row "  $name" "$v" "" "$unit" "$dec"
  done
fi
if section http && [ -n "${R[cpu:http,lockd]:-}" ]; then
  row "acquire+release: HTTP (wrk) vs RESP" "$(med http,lockd)" "$(med resp,redis)" ops/s 0
  row "  server CPU per op: HTTP vs RESP" "$(med cpu:http,lockd)" "$(med cpu:resp,redis)" us 2 \
    "<=" 2.0
fi
if section observers && [ -n "${R[obs-none,lockd]:-}" ]; then
  echo "  (observing rows: the \"redis\" column is lockd without observers, so the ratio is what remains)"
  row "LOCK.ACQUIRE (P1), /metrics every 1 s" "$(med obs-metrics,lockd)" "$(med obs-none,lockd)" rps 0 \
    ">=" 0.95
  row "  server CPU per request" "$(med cpu:obs-metrics,lockd)" "$(med cpu:obs-none,lockd)" us 2
  row "LOCK.ACQUIRE (P1), one MONITOR" "$(med obs-monitor,lockd)" "$(med obs-none,lockd)" rps 0 \
    ">=" 0.95
  row "  server CPU per request" "$(med cpu:obs-monitor,lockd)" "$(med cpu:obs-none,lockd)" us 2
  row "  redis-server: SET NX PX with/without MONITOR" "$(med obs-monitor,redis)" "$(med obs-none,redis)" \
    rps 0
fi
if section repl && [ -n "${R[repl-P1,lockd]:-}" ]; then
  echo "  (replication rows: one replica attached on each side; \"sync\" rows run bench-client, one batch in flight"
  echo "   per connection: lockd with min-replicas-to-write 1 + lock-replica-ack always, Redis with each batch's"
  echo "   SETs followed by WAIT 1 0 in the same write; P$PIPELINE: 16 writes then one WAIT)"
  row "repl async: LOCK.ACQUIRE vs SET NX PX (P1)" "$(med repl-P1,lockd)" "$(med repl-P1,redis)" rps 0
  row "  server CPU per request (P1)" "$(med cpu:repl-P1,lockd)" "$(med cpu:repl-P1,redis)" us 2
  row "  replica CPU per request (P1)" "$(med rcpu:repl-P1,lockd)" "$(med rcpu:repl-P1,redis)" us 2
  row "repl async (P$PIPELINE)" "$(med repl-PN,lockd)" "$(med repl-PN,redis)" rps 0
  row "  replica CPU per request (P$PIPELINE)" "$(med rcpu:repl-PN,lockd)" "$(med rcpu:repl-PN,redis)" us 2
  row "repl sync: always vs SET NX PX+WAIT 1 0 (P1)" "$(med sync-P1,lockd)" "$(med sync-P1,redis)" rps 0
  row "  server CPU per request (P1)" "$(med cpu:sync-P1,lockd)" "$(med cpu:sync-P1,redis)" us 2
  row "  replica CPU per request (P1)" "$(med rcpu:sync-P1,lockd)" "$(med rcpu:sync-P1,redis)" us 2
  row "repl sync: always vs 16 SET+WAIT (P$PIPELINE)" "$(med sync-PN,lockd)" "$(med sync-PN,redis)" rps 0
  row "  replica CPU per request (P$PIPELINE)" "$(med rcpu:sync-PN,lockd)" "$(med rcpu:sync-PN,redis)" us 2
fi
if section tls && [ -n "${R[tls-P1,lockd]:-}" ]; then
  row "TLS: LOCK.ACQUIRE vs SET NX PX (P1)" "$(med tls-P1,lockd)" "$(med tls-P1,redis)" rps 0
  row "  server CPU per request, TLS (P1)" "$(med cpu:tls-P1,lockd)" "$(med cpu:tls-P1,redis)" us 2 \
    "<=" 0.85
  row "TLS: LOCK.ACQUIRE vs SET NX PX (P$PIPELINE)" "$(med tls-PN,lockd)" "$(med tls-PN,redis)" rps 0 \
    ">=" 1.3
  row "  server CPU per request, TLS (P$PIPELINE)" "$(med cpu:tls-PN,lockd)" "$(med cpu:tls-PN,redis)" us 2
  row "TLS new connections (handshake+PING)" "$(med tls-hs,lockd)" "$(med tls-hs,redis)" conn/s 0
  row "  server CPU per new connection" "$(med cpu:tls-hs,lockd)" "$(med cpu:tls-hs,redis)" us 2
fi
if section acl && [ -n "${R[acl-def-P1,lockd]:-}" ]; then
  echo "  (ACL rows: the \"redis\" column is the same server as the default user, so the ratio is what the check costs;"
  echo "   $ACL_USERS users, the runs as u7 on keys seat:7:...)"
  row "lockd: LOCK.ACQUIRE as u7 vs default (P1)" "$(med acl-user-P1,lockd)" "$(med acl-def-P1,lockd)" rps 0 \
    ">=" 0.95
  row "  server CPU per request (P1)" "$(med cpu:acl-user-P1,lockd)" "$(med cpu:acl-def-P1,lockd)" us 2 \
    "<=" 1.05
  row "lockd: LOCK.ACQUIRE as u7 vs default (P$PIPELINE)" "$(med acl-user-PN,lockd)" "$(med acl-def-PN,lockd)" \
    rps 0 ">=" 0.95
  row "  server CPU per request (P$PIPELINE)" "$(med cpu:acl-user-PN,lockd)" "$(med cpu:acl-def-PN,lockd)" us 2
  row "redis-server: SET NX PX as u7 vs default (P1)" "$(med acl-user-P1,redis)" "$(med acl-def-P1,redis)" rps 0
  row "  server CPU per request (P1)" "$(med cpu:acl-user-P1,redis)" "$(med cpu:acl-def-P1,redis)" us 2
  row "redis-server: as u7 vs default (P$PIPELINE)" "$(med acl-user-PN,redis)" "$(med acl-def-PN,redis)" rps 0
  row "  server CPU per request (P$PIPELINE)" "$(med cpu:acl-user-PN,redis)" "$(med cpu:acl-def-PN,redis)" us 2
fi
if [ $AOF_OK != 1 ] && { section aof || section everysec || section aofload || section rewrite ||
    section stalls; }; then
  echo "(sections with the log on skipped: $AOF_WHY)"
fi
if section aofload && [ $AOF_OK = 1 ]; then
  echo "(log load time: lockd from ${LOAD_SRC[lockd]:-?}, redis from ${LOAD_SRC[redis]:-?}; both logs hold command records)"
fi
if section rps; then
  echo "(keys held at the end of each round, lockd/redis: $(med keys-off,lockd)/$(med keys-off,redis) median" \
       "— the same work on both sides)"
fi
echo "(total $(($(date +%s) - T0)) s; $N_STARTS server starts; client: redis-benchmark, 1 thread, $CLIENTS connections;" \
     "load average now $(cut -d' ' -f1-3 /proc/loadavg))"

# ---------------------------------------------------------------------------
# failover: a lockd primary SIGKILLed under three redis-sentinels (quorum 2,
# down-after-milliseconds 1000), BENCH_FAILOVER_ROUNDS rounds (medians): kill
# -> promotion, kill -> first grant through Sentinel, and the restart
# lock-delay the promotion adds to a key held at the kill
# (scripts/failover_bench.py). lockd only: Redis has no lock-delay to compare.
if section failover; then
  echo
  echo "== failover (lockd under redis-sentinel)"
  if [ "$SELFTEST" = 1 ]; then
    echo "(failover skipped: BENCH_SELFTEST has no lockd)"
  elif ! command -v redis-sentinel >/dev/null; then
    echo "(failover skipped: redis-sentinel not found; scripts/install-deps.sh installs it)"
  else
    LOCKD_SERVER="$LOCKD_SERVER" "$PY" "$ROOT/scripts/failover_bench.py" \
      "${BENCH_FAILOVER_ROUNDS:-$([ "$QUICK" = 1 ] && echo 1 || echo 3)}" ||
      echo "(failover: the benchmark failed)"
  fi
fi
