#!/usr/bin/env bash
# Start or stop the homework's MLflow tracking server (used by `make server` / `make server-stop`).
#
#   scripts/server.sh start|stop|status
#
# Settings come from the environment (the Makefile passes them):
#   MLFLOW              mlflow executable              (default: .venv/bin/mlflow)
#   HOST, PORT          where the server listens        (default: 127.0.0.1, 5000)
#   BACKEND_STORE_URI   backend store                   (default: sqlite:///mlflow.db)
#   ARTIFACT_ROOT       default artifact root           (default: ./artifacts)
#   ARTIFACTS_DESTINATION  proxied-artifact mode (opt-in): the server stores artifacts there and
#                       serves them over HTTP (--artifacts-destination + --serve-artifacts), so
#                       clients never touch the folder; ARTIFACT_ROOT is then unused (default: off)
#   SERVER_PID_FILE     pid file (the server's process group)  (default: mlflow-server.pid)
#   SERVER_LOG          log file                        (default: mlflow-server.log)
set -euo pipefail

MLFLOW=${MLFLOW:-.venv/bin/mlflow}
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-5000}
BACKEND_STORE_URI=${BACKEND_STORE_URI:-sqlite:///mlflow.db}
ARTIFACT_ROOT=${ARTIFACT_ROOT:-./artifacts}
ARTIFACTS_DESTINATION=${ARTIFACTS_DESTINATION:-}
SERVER_PID_FILE=${SERVER_PID_FILE:-mlflow-server.pid}
SERVER_LOG=${SERVER_LOG:-mlflow-server.log}
START_TIMEOUT=${START_TIMEOUT:-180} # seconds; MLflow 3's uvicorn workers start slowly on a busy machine

url="http://${HOST}:${PORT}"

say() { echo "$*" >&2; }

# Hide the password of a URI such as postgresql://user:secret@host/db in anything we print.
mask() { sed -E 's#(://[^:/@]*):[^@/]*@#\1:***@#g'; }

# The whole command line of process $1 (-ww: never cut), or nothing if it is gone; `ps` works
# on Linux and macOS alike.
command_of() { ps -ww -p "$1" -o command= 2>/dev/null; }

# The pid in the pid file if that process is still an mlflow server we started, else nothing.
our_pid() {
    [[ -f $SERVER_PID_FILE ]] || return 0
    local pid command
    pid=$(<"$SERVER_PID_FILE")
    if [[ $pid =~ ^[0-9]+$ ]] && command=$(command_of "$pid") && [[ $command == *mlflow*server* ]]; then
        echo "$pid"
    else
        say "Removing stale pid file $SERVER_PID_FILE (process ${pid:-?} is gone)."
        rm -f "$SERVER_PID_FILE"
    fi
}

# True if process $1 runs this $MLFLOW: a 3.x client cannot talk to a 2.x server, nor the reverse.
runs_our_mlflow() { [[ " $(command_of "$1") " == *" $MLFLOW "* ]]; }

port_in_use() { (exec 3<>"/dev/tcp/${HOST}/${PORT}") 2>/dev/null; }

healthy() { curl -fsS --max-time 2 "${url}/health" >/dev/null 2>&1; }

start() {
    local pid
    pid=$(our_pid)
    if [[ -n $pid ]]; then
        if ! runs_our_mlflow "$pid"; then
            say "Error: the server in $SERVER_PID_FILE (pid $pid) is another environment's MLflow, not $MLFLOW: run \`make server-stop\` first (server and scripts must use the same MLflow)."
            return 1
        fi
        if healthy; then
            say "MLflow server already running at $url (pid $pid)."
            return 0
        fi
        say "Error: the server in $SERVER_PID_FILE (pid $pid) does not answer at $url: run \`make server-stop\` first."
        return 1
    fi
    if port_in_use; then
        say "Error: port $PORT on $HOST is taken by another program: pick another, e.g. \`make server PORT=5001\`."
        return 1
    fi
    if [[ ! -x $MLFLOW ]]; then
        say "Error: $MLFLOW not found: run \`make install\` first."
        return 1
    fi
    local artifacts=(--default-artifact-root "$ARTIFACT_ROOT") # the default (Q4 reads it)
    # Proxied mode: clients get mlflow-artifacts:/ URIs and upload through the server over HTTP.
    if [[ -n $ARTIFACTS_DESTINATION ]]; then
        artifacts=(--artifacts-destination "$ARTIFACTS_DESTINATION" --serve-artifacts)
    fi
    [[ ${artifacts[1]} == *://* ]] || mkdir -p "${artifacts[1]}"
    local store=(--backend-store-uri "$BACKEND_STORE_URI")
    local with_password='://[^/@:]*:[^/@]*@'
    if [[ $BACKEND_STORE_URI =~ $with_password ]]; then
        # Keep the password off the command line (`ps` shows it to every user): mlflow reads
        # the store from its environment too, which only its owner can see.
        export MLFLOW_BACKEND_STORE_URI=$BACKEND_STORE_URI
        store=()
    fi
    # A session (and process group) of its own, so stop can end its workers too; through
    # Python's os.setsid because setsid(1) is Linux-only.
    "$(dirname "$MLFLOW")/python" -c 'import os, sys; os.setsid(); os.execv(sys.argv[1], sys.argv[1:])' \
        "$MLFLOW" server \
        "${store[@]}" "${artifacts[@]}" \
        --host "$HOST" --port "$PORT" >"$SERVER_LOG" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$SERVER_PID_FILE"
    say "Starting MLflow server at $url (pid $pid, log $SERVER_LOG) ..."
    echo "  backend store $BACKEND_STORE_URI, artifacts ${artifacts[*]}" | mask >&2
    local waited=0
    until healthy; do
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$SERVER_PID_FILE"
            say "Error: the MLflow server exited during start-up; last lines of $SERVER_LOG:"
            tail -n 5 "$SERVER_LOG" | mask >&2
            return 1
        fi
        if ((waited >= START_TIMEOUT * 2)); then
            say "Error: no answer from $url/health after ${START_TIMEOUT}s; last lines of $SERVER_LOG:"
            tail -n 3 "$SERVER_LOG" | mask >&2
            stop
            return 1
        fi
        sleep 0.5
        waited=$((waited + 1))
    done
    say "MLflow server up at $url"
}

stop() {
    local pid
    pid=$(our_pid)
    if [[ -z $pid ]]; then
        say "No MLflow server started from here is running."
        return 0
    fi
    # The whole process group: on MLflow 2.x the gunicorn master survives a kill of the CLI's pid.
    kill -TERM -- "-$pid" 2>/dev/null || true
    local waited=0
    while kill -0 -- "-$pid" 2>/dev/null && ((waited < 20)); do
        sleep 0.5
        waited=$((waited + 1))
    done
    kill -KILL -- "-$pid" 2>/dev/null || true
    # A killed process lingers until it is reaped: report stopped only once it is gone.
    while kill -0 -- "-$pid" 2>/dev/null && ((waited < 30)); do
        sleep 0.5
        waited=$((waited + 1))
    done
    rm -f "$SERVER_PID_FILE"
    say "MLflow server (pid $pid) stopped."
}

status() {
    local pid
    pid=$(our_pid)
    if [[ -n $pid ]] && healthy; then
        echo "running at $url (pid $pid)"
    else
        echo "not running"
        return 1
    fi
}

case "${1:-}" in
start | stop | status) "$1" ;;
*)
    say "usage: $0 start|stop|status"
    exit 2
    ;;
esac
