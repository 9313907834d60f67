#!/usr/bin/env bash
# Runs every test suite and ends with one line: "N passed, N failed".
# Counts are doctest test cases, plus one per check of the redis-cli session.
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
  echo "== $name"
  "$bin" --no-intro=true 2>&1 | tee "$log_dir/$name.log" | grep -E '^\[doctest\]|ERROR|FAILED|error:' | head -100
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

run_doctest unit "$build/unit-tests"
run_doctest integration "$build/integration-tests"

echo "== redis-cli session"
out=$(scripts/cli-test.sh 2>&1)
rc=$?
echo "$out" | tail -20
p=$(grep -c '^ok ' <<<"$out")
f=$(grep -c '^not ok ' <<<"$out")
passed=$((passed + p))
failed=$((failed + f))
if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then failed=$((failed + 1)); fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
