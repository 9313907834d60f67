#!/usr/bin/env bash
# What CI runs (.ci/run): the whole suite three ways, ending with one line
# "N passed, N failed" that sums every part, and a non-zero exit when anything
# failed or a part could not build.
#
#   plain     g++ -O2 (build/): `make test`, client-library suites included.
#   sanitize  clang with ASan + UBSan + LSan (build/clang-sanitize/): the whole
#             suite again. clang here, so that CI also builds every file with
#             the second compiler under -Werror; g++ is the plain build's.
#   tsan      clang with ThreadSanitizer (build/clang-tsan/): every unit test
#             (the log writer's sync thread, BackgroundSync and the rewrite run
#             threads there) and the integration tests that drive the threads
#             of a TSan server: syncs, rewrites, crashes, fan-in, and the mass
#             expiry of 200,000 leases under appendfsync always.
#
# Sanitizer reports land in <build>/test-logs/<tool>.<pid> and are printed at
# the end of their part; any finding stops the process that made it (the
# sanitized flags never recover), so the test that triggered it fails.
#
# CI_PARTS=plain,sanitize,tsan picks parts; LOCKD_SANITIZE_CLIENT_TESTS=1 also
# runs the client-library suites in the sanitized part (left out by default:
# they test the protocol surface that the plain part already covers, and cost
# minutes under ASan).
set -uo pipefail
cd "$(dirname "$0")/.."

parts=${CI_PARTS:-plain,sanitize,tsan}
jobs=${JOBS:-2}
total_passed=0
total_failed=0
summary=()

scripts/install-deps.sh || { echo "ci: install-deps failed"; echo "0 passed, 1 failed"; exit 1; }

# add_counts PART SECONDS OUTPUT_FILE: reads the part's own "N passed, N
# failed" line (the last one) into the totals; no such line is one failure.
add_counts() {
  local part=$1 secs=$2 file=$3 line p f
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$file" | tail -1)
  if [ -z "$line" ]; then
    p=0 f=1
    echo "ci: $part: no summary line; counted as one failure"
  else
    p=${line%% passed*}
    f=${line#*, }
    f=${f%% failed*}
  fi
  total_passed=$((total_passed + p))
  total_failed=$((total_failed + f))
  summary+=("$(printf '%-9s %5d passed  %3d failed  %5d s' "$part" "$p" "$f" "$secs")")
}

# run_part PART CMD...: runs CMD, shows its output with the part's name in
# front of its own summary line (so that only the last line of the CI log has
# the bare form), and adds its counts.
run_part() {
  local part=$1
  shift
  local out
  out=$(mktemp "${TMPDIR:-/tmp}/lockd-ci-$part.XXXXXX")
  echo "==== ci: $part: $*"
  local start=$SECONDS
  "$@" 2>&1 | tee "$out" | sed -u -E "s/^([0-9]+ passed, [0-9]+ failed)$/$part: \1/"
  add_counts "$part" $((SECONDS - start)) "$out"
  rm -f "$out"
}

# sanitizer_reports DIR: prints the sanitizer reports written there, if any,
# and fails when there are some (a finding in a process whose test still
# passed must not go unnoticed).
sanitizer_reports() {
  local dir=$1 found=0 f
  for f in "$dir"/asan.* "$dir"/ubsan.* "$dir"/tsan.*; do
    [ -s "$f" ] || continue
    found=1
    echo "---- $f"
    head -60 "$f"
  done
  return $found
}

# part_sanitize: the whole suite under ASan + UBSan + LSan.
part_sanitize() {
  local build=build/clang-sanitize
  make --no-print-directory -j"$jobs" CXX=clang++ SANITIZE=1 all tests || {
    echo "build failed"; echo "0 passed, 1 failed"; return 1; }
  local logs=$PWD/$build/test-logs
  mkdir -p "$logs"
  rm -f "$logs"/asan.* "$logs"/ubsan.*
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:log_path=$logs/asan"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$logs/ubsan"
  # Shown as it runs; its own summary line is held back and printed last.
  local out=$logs/run-tests.out rc
  # Several times slower than the plain build: the integration tests run as
  # four processes (each within the harness's 300 s watchdog) and the abuse
  # loads are scaled down.
  BUILD=$build LOCKD_CLIENT_TESTS=${LOCKD_SANITIZE_CLIENT_TESTS:-0} LOCKD_INTEGRATION_SHARDS=4 \
    LOCKD_ABUSE_GARBAGE_CONNS=${LOCKD_ABUSE_GARBAGE_CONNS:-5000} \
    LOCKD_ABUSE_EXPIRY_LEASES=${LOCKD_ABUSE_EXPIRY_LEASES:-200000} LOCKD_FUZZ_TESTS=0 \
    scripts/run-tests.sh 2>&1 |
    tee "$out" | grep --line-buffered -vE '^[0-9]+ passed, [0-9]+ failed$'
  rc=${PIPESTATUS[0]}
  local line
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out" | tail -1)
  if ! sanitizer_reports "$logs"; then
    # Reports from processes whose tests passed anyway: one more failure.
    local p=${line%% passed*} f=${line#*, }
    f=${f%% failed*}
    echo "sanitizer reports found (above); counted as one failure"
    line="${p:-0} passed, $(( ${f:-0} + 1 )) failed"
  fi
  [ -n "$line" ] || line="0 passed, 1 failed"
  echo "$line"
  return $rc
}

# run_doctest_tsan NAME BIN [doctest args...]: one doctest binary of the TSan
# build; prints its summary as "N passed, N failed".
run_doctest_tsan() {
  local name=$1 bin=$2
  shift 2
  local log=build/clang-tsan/test-logs/$name.log
  "$bin" --no-intro=true "$@" >"$log" 2>&1
  local rc=$?
  grep -E '^\[doctest\]|ERROR|FAILED|WARNING: ThreadSanitizer' "$log" | head -60
  local s p f
  s=$(grep -E '^\[doctest\] test cases:' "$log" | tail -1)
  if [ -z "$s" ]; then
    echo "$name: no summary (exit code $rc)"
    tsan_p=$((tsan_p + 0)) tsan_f=$((tsan_f + 1))
    return
  fi
  p=$(sed -E 's/.*\| *([0-9]+) passed.*/\1/' <<<"$s")
  f=$(sed -E 's/.*\| *([0-9]+) failed.*/\1/' <<<"$s")
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    echo "$name: exit code $rc with no failed case; counted as one failure"
    f=1
  fi
  tsan_p=$((tsan_p + p)) tsan_f=$((tsan_f + f))
}

# The integration tests whose server runs its threads: the log writer's sync
# thread (always and everysec), the rewrite and its background appends, and
# the restart paths after a crash mid-rewrite. One process per filter, each
# within the harness's 300 s watchdog.
TSAN_INTEGRATION=${TSAN_INTEGRATION:-'durability:* crash:* fan-in:* *rewrite*,*everysec*,*kill?-9*'}

part_tsan() {
  local build=build/clang-tsan
  # The integration-test binary is only a client of the server under test:
  # the plain one drives the TSan server, which saves building it again.
  make --no-print-directory -j"$jobs" CXX=clang++ TSAN=1 all "$build/unit-tests" &&
    make --no-print-directory -j"$jobs" build/integration-tests build/abuse-tests || {
    echo "build failed"; echo "0 passed, 1 failed"; return 1; }
  local logs=$PWD/$build/test-logs
  mkdir -p "$logs"
  rm -f "$logs"/tsan.*
  export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:log_path=$logs/tsan"
  export LOCKD_SERVER=$build/lockd-server LOCKD_CHECK_AOF=$build/lockd-check-aof
  tsan_p=0 tsan_f=0
  echo "== unit (TSan)"
  run_doctest_tsan unit "$build/unit-tests"
  local filter i=0
  for filter in $TSAN_INTEGRATION; do
    i=$((i + 1))
    echo "== integration (TSan server): $filter"
    # Later filters leave out what earlier ones ran.
    local exclude=durability:*,crash:*,fan-in:*
    [ $i -le 3 ] && exclude=
    run_doctest_tsan "integration-$i" build/integration-tests -tc="$filter" \
      ${exclude:+-tce="$exclude"}
  done
  echo "== abuse (TSan server): a mass expiry under appendfsync always"
  LOCKD_ABUSE_EXPIRY_LEASES=${LOCKD_ABUSE_EXPIRY_LEASES:-200000} \
    run_doctest_tsan abuse build/abuse-tests -tc='*million leases*'

  if ! sanitizer_reports "$logs"; then
    echo "ThreadSanitizer reports found (above); counted as one failure"
    tsan_f=$((tsan_f + 1))
  fi
  echo "$tsan_p passed, $tsan_f failed"
  [ "$tsan_f" -eq 0 ]
}

# .ci/run runs the plain part itself, as `make test` (the README's test
# command), and hands over its output: its counts join the totals here.
if [ -n "${CI_PLAIN_LOG:-}" ]; then
  add_counts plain "${CI_PLAIN_SECS:-0}" "$CI_PLAIN_LOG"
fi

for part in ${parts//,/ }; do
  case $part in
    plain) run_part plain make --no-print-directory test ;;
    sanitize) run_part sanitize part_sanitize ;;
    tsan) run_part tsan part_tsan ;;
    *) echo "ci: unknown part '$part' (plain, sanitize, tsan)"; total_failed=$((total_failed + 1)) ;;
  esac
done

echo "==== ci: parts (wall-clock seconds, build included)"
printf '%s\n' "${summary[@]}"
echo "$total_passed passed, $total_failed failed"
[ "$total_failed" -eq 0 ]
