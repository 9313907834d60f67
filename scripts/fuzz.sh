#!/usr/bin/env bash
# Runs the libFuzzer targets built by `make fuzz-build` (build/fuzz/fuzz_*).
#
#   scripts/fuzz.sh [target ...]          each target for FUZZ_SECONDS (600),
#                                         one after the other (2 cores are shared)
#   scripts/fuzz.sh --short [target ...]  the pass `make test` runs: each
#                                         target over its checked-in corpus
#                                         (the regressions) plus FUZZ_SECONDS
#                                         (15) of fuzzing; prints "ok <target>"
#                                         or "not ok <target>" per target
#
# Each target starts from tests/fuzz/corpus/<target>/ and its dictionary
# tests/fuzz/<target>.dict when there is one. New inputs go to
# build/fuzz/corpus/<target>/, never into the checked-in corpus; to keep some,
# minimize them into it (`build/fuzz/fuzz_<t> -merge=1 tests/fuzz/corpus/<t>
# build/fuzz/corpus/<t>`). A crash stops that target: the reproducer is
# written to build/fuzz/artifacts/<target>/ and its path printed; copy it
# into the corpus as a regression once it is fixed. Per target, the summary
# line gives libFuzzer's final execution count and coverage (cov:, ft:).
set -uo pipefail
cd "$(dirname "$0")/.."

short=0
if [ "${1:-}" = --short ]; then
  short=1
  shift
fi
seconds=${FUZZ_SECONDS:-$([ "$short" = 1 ] && echo 15 || echo 600)}
root=$PWD
fuzz_build=$root/build/fuzz

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for src in tests/fuzz/fuzz_*.cc; do
    name=${src#tests/fuzz/fuzz_}
    targets+=("${name%.cc}")
  done
fi

# The private directories the targets make for their real files.
scratch_dirs() { ls -d /dev/shm/lockd-fuzz-* /tmp/lockd-fuzz-* 2>/dev/null | sort; }

failed=0
for t in "${targets[@]}"; do
  bin=$fuzz_build/fuzz_$t
  seeds=$root/tests/fuzz/corpus/$t
  work=$fuzz_build/corpus/$t
  artifacts=$fuzz_build/artifacts/$t/
  log=$fuzz_build/logs/$t.log
  mkdir -p "$work" "$artifacts" "$(dirname "$log")"
  if [ ! -x "$bin" ]; then
    echo "not ok $t: $bin is missing (make fuzz-build)"
    failed=$((failed + 1))
    continue
  fi
  args=(-max_total_time="$seconds" -artifact_prefix="$artifacts" -print_final_stats=1
        -timeout=25 -rss_limit_mb=2048 -max_len=4096)
  [ -f "$root/tests/fuzz/$t.dict" ] && args+=(-dict="$root/tests/fuzz/$t.dict")
  # libFuzzer first runs every input of both directories (the checked-in
  # ones are the regressions), then fuzzes, adding new inputs to $work.
  [ "$short" = 1 ] || echo "== $t: ${seconds}s (log: $log)"
  start=$(date +%s)
  scratch_before=$(scratch_dirs)
  "$bin" "${args[@]}" "$work" "$seeds" >"$log" 2>&1
  rc=$?
  # A crash skips the target's own clean-up of its scratch directory.
  comm -13 <(echo "$scratch_before") <(scratch_dirs) | xargs -r rm -rf
  took=$(($(date +%s) - start))
  # The last status line ("#N DONE cov: X ft: Y corp: ...") and the runs.
  last=$(grep -E '^#[0-9]+' "$log" | tail -1)
  runs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+)/\1/p' "$log" | tail -1)
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' <<<"$last")
  summary="$t: ${runs:-?} runs in ${took}s, ${cov:-no coverage line}, corpus $(ls "$work" | wc -l) inputs"
  if [ "$rc" -eq 0 ]; then
    echo "ok $summary"
  else
    failed=$((failed + 1))
    crash=$(grep -oE 'Test unit written to [^ ]+' "$log" | tail -1 | sed 's/Test unit written to //')
    echo "not ok $summary: exit code $rc${crash:+, reproducer $crash}"
    grep -E 'ERROR: |invariant broken|SUMMARY:|^(resp_parser|config|script): ' "$log" | head -5 | sed 's/^/#   /'
    echo "#   full log: $log"
  fi
done
[ "$failed" -eq 0 ]
