#!/usr/bin/env bash
# Hunt flaky tests: run the whole suite N times in random order (pytest-randomly, a new seed each
# run) while CPU burners keep every core busy, so timing races that a quiet machine hides show up.
#
#   scripts/flake-hunt.sh [RUNS] [extra pytest args...]
#   RUNS=10 by default; BURNERS=<cores> by default (0 for none); LOG=var/flake-hunt.log.
#   PostgreSQL: DATABASE_URL=postgres://... REDIS_URL=redis://... scripts/flake-hunt.sh 10
#
# Each run's seed, verdict and closing line go to $LOG, and a failed run's line is followed by the
# command that replays it in the same order (the same seed and the same extra arguments: the
# order depends on which tests were collected). A failed or interrupted run's whole output stays
# beside the log.
# Stop it with Ctrl-C or TERM (an INT sent to a copy started with `&` from a script is ignored,
# as bash does for background jobs): the running pytest is sent TERM, which it takes as Ctrl-C
# (conftest.py) so its fixtures stop the servers they started, and is killed if it is still
# there a minute later. The burners are this script's own children and are killed however it exits.
set -uo pipefail
cd "$(dirname "$0")/.."

RUNS="${1:-10}"
shift || true
PYTEST="${PYTEST:-.venv/bin/pytest}"
BURNERS="${BURNERS:-$(nproc)}"
LOG="${LOG:-var/flake-hunt.log}"
mkdir -p "$(dirname "$LOG")"

burner_pids=()
run_pid=""
run_label=""
stop_children() {
  # A second TERM or Ctrl-C while this runs must not cut it short and leave the run and the
  # burners behind (it once did: the burner ran on after the script had gone).
  trap '' INT TERM
  if [ -n "$run_pid" ]; then
    kill -TERM "$run_pid" 2>/dev/null
    for _ in $(seq 1 60); do kill -0 "$run_pid" 2>/dev/null || break; sleep 1; done
    kill -KILL "$run_pid" 2>/dev/null
    wait "$run_pid" 2>/dev/null
    echo "$(date -u +%FT%TZ) $run_label interrupted (its output so far: $out)" | tee -a "$LOG"
    run_pid=""
  fi
  for pid in "${burner_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${burner_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  burner_pids=()
}
trap stop_children EXIT
trap 'exit 130' INT TERM
for _ in $(seq 1 "$BURNERS"); do
  python3 -c 'while True: pass' &
  burner_pids+=($!)
done

database="${DATABASE_URL:-sqlite}"
echo "$(date -u +%FT%TZ) flake hunt: $RUNS runs, $BURNERS CPU burners, database ${database%%://*}," \
  "pytest arguments: ${*:-(none)}" | tee -a "$LOG"
passed=0
failed=0
failed_seeds=()
for run in $(seq 1 "$RUNS"); do
  seed=$(python3 -c 'import random; print(random.randrange(1, 2**31))')
  out="${LOG%.log}-run${run}-seed${seed}.out"
  started=$(date +%s)
  # In the background and waited for, so that INT/TERM stop the run at once (see the traps).
  "$PYTEST" -q -p randomly --randomly-seed="$seed" "$@" >"$out" 2>&1 &
  run_pid=$!
  run_label="run $run/$RUNS seed=$seed"
  wait "$run_pid"
  code=$?
  run_pid=""
  took=$(( $(date +%s) - started ))
  summary=$(grep -E '[0-9]+ (passed|failed|errors?|skipped|deselected)|no tests ran' "$out" | tail -n 1)
  if [ "$code" -eq 0 ]; then
    passed=$((passed + 1)); verdict=PASS
  else
    failed=$((failed + 1)); verdict=FAIL; failed_seeds+=("$seed")
  fi
  echo "$(date -u +%FT%TZ) run $run/$RUNS seed=$seed $verdict exit=$code ${took}s: $summary" | tee -a "$LOG"
  if [ "$code" -ne 0 ]; then
    grep -E '^(FAILED|ERROR) [^ ]' "$out" | sed 's/^/    /' | tee -a "$LOG"
    echo "    replay: ${DATABASE_URL:+DATABASE_URL=$DATABASE_URL }$PYTEST -p randomly --randomly-seed=$seed $*" | tee -a "$LOG"
  else
    rm -f "$out"  # a failed run's whole output stays beside the log
  fi
done
echo "$(date -u +%FT%TZ) flake hunt done: $passed passed, $failed failed${failed_seeds[*]:+ (seeds: ${failed_seeds[*]})}" \
  | tee -a "$LOG"
[ "$failed" -eq 0 ]
