#!/usr/bin/env bash
# make q5-optuna: WORKERS hpo.py processes on one Optuna study, then the exit code of the worst.
#   scripts/hpo_workers.sh WORKERS STUDY PYTHON hpo.py ARGS...
# STUDY empty: a new name. The first worker draws its progress bar (the whole study's) here;
# the others write theirs to hpo-worker-N.log. Ctrl-C stops them all.
set -uo pipefail
workers=$1 study=$2
shift 2
if ! [[ $workers =~ ^[1-9][0-9]*$ ]]; then
    echo "Error: WORKERS=$workers is not a number of workers (1, 2, ...)." >&2
    exit 1
fi
[ -n "$study" ] || study="hpo-$(date +%Y%m%d-%H%M%S)-$$"
others=()
for n in $(seq 2 "$workers"); do
    "$@" --study_name "$study" >/dev/null 2>"hpo-worker-$n.log" &
    others+=($!)
done
# Background jobs ignore Ctrl-C in a script: pass it on as a stop (their trials run again on
# --resume, once their heartbeat is stale).
stopped=
trap 'stopped=1; [ ${#others[@]} -eq 0 ] || kill "${others[@]}" 2>/dev/null' INT TERM
"$@" --study_name "$study"
status=$?
for i in "${!others[@]}"; do
    if ! wait "${others[$i]}" && [ -z "$stopped" ]; then
        n=$((i + 2))
        echo "Worker $n failed: $(grep '^Error:' "hpo-worker-$n.log" | tail -1) (see hpo-worker-$n.log)" >&2
        status=1
    fi
done
exit $status
