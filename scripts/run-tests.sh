#!/usr/bin/env bash
# Runs every test suite and ends with one line: "N passed, N failed".
# Counts are doctest test cases, plus one per check of the redis-cli session,
# of the HTTP/JSON suite (scripts/http-tests.py), of the TLS suite
# (scripts/tls-tests.py), of the failover suite under redis-sentinel
# (scripts/sentinel-tests.py)
# and one per check of the client-library suites (LOCKD_CLIENT_TESTS=0 leaves
# them out), and one per fuzz target's short pass (LOCKD_FUZZ_TESTS=0 leaves
# those out).
# Exits non-zero when anything failed or a suite could not run.
set -uo pipefail
cd "$(dirname "$0")/.."

# `make test SANITIZE=1` (or CXX=clang++) builds into its own directory and
# says which through BUILD; the suites find their binaries from it.
build=${BUILD:-build}
export LOCKD_SERVER=${LOCKD_SERVER:-$build/lockd-server}
export LOCKD_CHECK_AOF=${LOCKD_CHECK_AOF:-$build/lockd-check-aof}

passed=0
failed=0
log_dir=$build/test-logs
mkdir -p "$log_dir"

# Runs a doctest binary and adds its test-case counts to the totals.
run_doctest() {
  local name=$1 bin=$2
  shift 2
  echo "== $name"
  "$bin" --no-intro=true "$@" 2>&1 | tee "$log_dir/$name.log" | grep -E '^\[doctest\]|ERROR|FAILED|error:' | head -100
  local rc=${PIPESTATUS[0]}
  local summary
  summary=$(grep -E '^\[doctest\] test cases:' "$log_dir/$name.log" | tail -1)
  if [ -z "$summary" ]; then
    echo "$name: no summary (exit code $rc); counted as one failure"
    failed=$((failed + 1))
    return
  fi
  local p f
  p=$(sed -E 's/.*\| *([0-9]+) passed.*/\1/' <<<"$summary")
  f=$(sed -E 's/.*\| *([0-9]+) failed.*/\1/' <<<"$summary")
  passed=$((passed + p))
  failed=$((failed + f))
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    echo "$name: exit code $rc with no failed case; counted as one failure"
    failed=$((failed + 1))
  fi
}

# Adds a suite's "ok" and "not ok" lines to the totals; a suite that exits
# non-zero with no failed check counts as one failure.
count_checks() {
  local name=$1 rc=$2 out=$3 p f
  p=$(grep -c '^ok ' <<<"$out")
  f=$(grep -c '^not ok ' <<<"$out")
  passed=$((passed + p))
  failed=$((failed + f))
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    echo "$name: exit code $rc with no failed check; counted as one failure"
    failed=$((failed + 1))
  fi
}

# Runs a suite that prints a line per check: its whole output goes to the
# log directory, and only its headings, comments and failures (the first
# SHOWN of them) to the screen.
run_check_suite() {
  local title=$1 name=$2 shown=$3 out rc
  shift 3
  echo "== $title"
  out=$("$@" 2>&1)
  rc=$?
  echo "$out" >"$log_dir/$name.log"
  grep -E '^(==|not ok|#)' <<<"$out" | head -"$shown"
  echo "(every check of the $title suite: $log_dir/$name.log)"
  count_checks "$title suite" "$rc" "$out"
}

run_doctest unit "$build/unit-tests"
# LOCKD_INTEGRATION_SHARDS=N runs the integration tests as N processes, each
# a range of the test cases (doctest's --first/--last), so that a slow build
# (the sanitized ones) stays within the harness's 300 s watchdog per process.
# doctest counts every case passing the filters as passed, run or not, so a
# range's passes are its own length less its failures.
shards=${LOCKD_INTEGRATION_SHARDS:-1}
if [ "$shards" -gt 1 ]; then
  n_cases=$("$build/integration-tests" --list-test-cases --no-intro=true 2>/dev/null |
            sed -n 's/.*passing the current filters: //p')
  per=$(((${n_cases:-0} + shards - 1) / shards))
  for ((s = 0; s < shards; s++)); do
    first=$((s * per + 1)) last=$(((s + 1) * per))
    [ "$last" -le "$n_cases" ] || last=$n_cases
    [ "$first" -le "$last" ] || continue
    p0=$passed f0=$failed
    run_doctest "integration-$((s + 1))of$shards" "$build/integration-tests" \
      --first=$first --last=$last
    f_shard=$((failed - f0))
    [ "$passed" -gt "$p0" ] && passed=$((p0 + last - first + 1 - f_shard))
    [ "$passed" -ge "$p0" ] || passed=$p0
  done
else
run_doctest integration "$build/integration-tests"
fi
# The abuse clients (tests/abuse/): their own binary, so their own watchdog.
run_doctest abuse "$build/abuse-tests"

echo "== redis-cli session"
out=$(scripts/cli-test.sh 2>&1)
rc=$?
echo "$out" | tail -20
count_checks "redis-cli session" "$rc" "$out"

# The HTTP/JSON listener, judged by curl, http.client and raw sockets.
run_check_suite "HTTP/JSON listener" http 40 python3 scripts/http-tests.py
# TLS on the listeners, judged by redis-cli --tls, Python's ssl and curl.
run_check_suite TLS tls 40 python3 scripts/tls-tests.py
# Failover driven by redis-sentinel, judged by a history checker.
run_check_suite "Sentinel failover" sentinel 60 python3 scripts/sentinel-tests.py

# Real client libraries as judges (redis-py's Lock, node-redlock v4/v5, the
# exact Redlock scripts against a redis-server). LOCKD_CLIENT_TESTS=0 leaves
# them out and says so; LOCKD_CLIENT_TESTS=redis runs them against
# redis-server only (a check of the suites themselves).
client_tests=${LOCKD_CLIENT_TESTS:-1}
case $client_tests in
  1 | lockd | redis)
    against=lockd
    [ "$client_tests" = redis ] && against=redis
    run_check_suite "client libraries (against $against)" clients 60 \
      scripts/client-tests.sh --against "$against"
    ;;
  0) echo "== client libraries: not run (LOCKD_CLIENT_TESTS=0; set it to 1 to run them against lockd)" ;;
  *)
    echo "LOCKD_CLIENT_TESTS must be 0, 1 or redis (got '$client_tests'); counted as one failure"
    failed=$((failed + 1))
    ;;
esac

# The linearizability checker's short pass (`make check` runs the long one):
# its unit tests, a few dozen real histories, a few SIGKILL cycles and the
# broken-model controls, each doctest case counted.
run_doctest lincheck "$build/lincheck-tests"
grep -E '^lincheck:' "$log_dir/lincheck.log"

# Fuzz targets (tests/fuzz/): built with clang into build/fuzz/, then each
# runs over its checked-in corpus (the regressions) and ~15 s of fuzzing;
# one check per target. LOCKD_FUZZ_TESTS=0 leaves them out and says so.
if [ "${LOCKD_FUZZ_TESTS:-1}" = 0 ]; then
  echo "== fuzz targets: not run (LOCKD_FUZZ_TESTS=0)"
else
  echo "== fuzz targets (short pass)"
  fuzz_start=$(date +%s)
  if ! make --no-print-directory -j"${JOBS:-2}" fuzz-build >"$log_dir/fuzz-build.log" 2>&1; then
    tail -20 "$log_dir/fuzz-build.log"
    echo "fuzz targets: the clang build failed ($log_dir/fuzz-build.log); counted as one failure"
    failed=$((failed + 1))
  else
    out=$(scripts/fuzz.sh --short 2>&1)
    rc=$?
    echo "$out" | tee "$log_dir/fuzz.log"
    count_checks "fuzz targets" "$rc" "$out"
  fi
  echo "(fuzz build and short pass: $(($(date +%s) - fuzz_start)) s)"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
