#!/usr/bin/env bash
# `make check`: the long linearizability pass. Runs build/lincheck-tests in
# chunks (each well under the test harness's 300 s watchdog), each chunk with
# its own seeds, and prints the totals: histories checked, operations, SIGKILL
# cycles, violations (must be 0), unknown verdicts (must be 0) and the
# broken-model controls caught (must be all). Exits non-zero otherwise.
#   LINCHECK_CHUNKS (10) x LINCHECK_HISTORIES (100) plain histories, and
#   LINCHECK_CHUNKS x LINCHECK_CRASH_HISTORIES (5) x LINCHECK_KILLS (2) kills.
set -uo pipefail
cd "$(dirname "$0")/.."

build=${BUILD:-build}
export LOCKD_SERVER=${LOCKD_SERVER:-$build/lockd-server}
export LINCHECK_HISTORIES=${LINCHECK_HISTORIES:-100}
export LINCHECK_CRASH_HISTORIES=${LINCHECK_CRASH_HISTORIES:-5}
export LINCHECK_KILLS=${LINCHECK_KILLS:-2}
chunks=${LINCHECK_CHUNKS:-10}
seed=${LINCHECK_SEED:-$(( $(date +%s) % 100000 * 1000 ))}
log_dir=$build/test-logs
mkdir -p "$log_dir"

start=$(date +%s)
failed_chunks=0
: >"$log_dir/check.log"
for ((i = 0; i < chunks; i++)); do
  # The controls run once; every chunk records and checks histories.
  exclude='*broken models*,*corrupted*,lincheck checker*'
  [ "$i" -eq 0 ] && exclude='none'
  chunk_seed=$((seed + i * 1000000))
  echo "== chunk $((i + 1))/$chunks (seed $chunk_seed)"
  LINCHECK_SEED=$chunk_seed "$build/lincheck-tests" --no-intro=true -tce="$exclude" \
    >"$log_dir/check-$i.log" 2>&1
  rc=$?
  cat "$log_dir/check-$i.log" >>"$log_dir/check.log"
  grep -E '^lincheck:|ERROR|FAILED|^\[doctest\] test cases' "$log_dir/check-$i.log"
  if [ "$rc" -ne 0 ]; then
    failed_chunks=$((failed_chunks + 1))
  fi
done
elapsed=$(( $(date +%s) - start ))

sum() {  # sum FIELD over the "lincheck: plain|crash" lines
  grep -E '^lincheck: (plain|crash) ' "$log_dir/check.log" |
    sed -E "s/.* $1=([0-9]+).*/\\1/" | awk '{s += $1} END {print s + 0}'
}
histories=$(sum histories)
ops=$(sum ops)
kills=$(sum kills)
violations=$(sum violations)
unknown=$(sum unknown)
states=$(sum states)
waits_granted=$(sum waits_granted)
waits_null=$(sum waits_null)
unanswered=$(sum unanswered)
controls=$(grep -E '^lincheck: controls ' "$log_dir/check.log" | tail -1)
caught=$(sed -E 's/.*caught=([0-9]+) of ([0-9]+).*/\1/' <<<"$controls")
of=$(sed -E 's/.*caught=([0-9]+) of ([0-9]+).*/\2/' <<<"$controls")

echo
echo "histories checked:            $histories"
echo "operations:                   $ops"
echo "SIGKILL cycles:               $kills"
echo "waits granted / null:         $waits_granted / $waits_null"
echo "ops without a reply:          $unanswered (dropped while waiting, or in flight at a kill)"
echo "search states:                $states"
echo "violations:                   $violations"
echo "unknown (search bound):       $unknown"
echo "broken-model controls caught: ${caught:-0} of ${of:-?}"
echo "failed chunks:                $failed_chunks"
echo "wall time:                    ${elapsed} s (log: $log_dir/check.log)"
[ "$failed_chunks" -eq 0 ] && [ "$violations" -eq 0 ] && [ "$unknown" -eq 0 ] &&
  [ -n "$caught" ] && [ "$caught" = "$of" ]
