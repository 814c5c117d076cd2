#!/usr/bin/env bash
# Runs the full test suite N times in a row while two busy loops keep both cores of a small
# machine loaded, and reports pass/fail per run: evidence that no test depends on timing.
#   bash scripts/stress-test.sh [N=3] [extra bun test args...]
# Exit status: 0 if every run passed. Logs: $STRESS_LOG_DIR (default: a fresh temp directory).
set -uo pipefail
cd "$(dirname "$0")/.."
n=${1:-3}
shift $(( $# > 0 ? 1 : 0 ))
logs=${STRESS_LOG_DIR:-$(mktemp -d -t smp-stress-XXXXXX)}
mkdir -p "$logs"
bun=./node_modules/.bin/bun

busy=()
stop_busy() {
  for pid in "${busy[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${busy[@]}"; do wait "$pid" 2>/dev/null; done
  busy=()
}
trap stop_busy EXIT INT TERM
for _ in 1 2; do
  sh -c 'while :; do :; done' &
  busy+=("$!")
done
echo "busy loops: ${busy[*]}; logs in $logs"

failed=0
for i in $(seq 1 "$n"); do
  log="$logs/run-$i.log"
  start=$(date +%s)
  "$bun" test --timeout 60000 "$@" >"$log" 2>&1
  rc=$?
  secs=$(( $(date +%s) - start ))
  pass=$(grep -E '^ *[0-9]+ pass$' "$log" | tail -1 | tr -dc '0-9')
  fail=$(grep -E '^ *[0-9]+ fail$' "$log" | tail -1 | tr -dc '0-9')
  if [ "$rc" -eq 0 ] && [ "${fail:-0}" -eq 0 ] && [ "${pass:-0}" -gt 0 ]; then
    echo "run $i: PASS (${pass} pass, 0 fail, ${secs} s)"
  else
    failed=$((failed + 1))
    echo "run $i: FAIL (exit $rc, ${pass:-0} pass, ${fail:-?} fail, ${secs} s) — $log"
    grep -E '^\(fail\)' "$log" | sed 's/^/    /'
  fi
done
stop_busy
echo "$((n - failed)) of $n runs passed under load"
[ "$failed" -eq 0 ]
