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
#   SERVER_PID_FILE     pid file (the server's process group)  (default: mlflow-server.pid)
#   SERVER_LOG          log file                        (default: mlflow-server.log)
set -euo pipefail

MLFLOW=${MLFLOW:-.venv/bin/mlflow}
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-5000}
BACKEND_STORE_URI=${BACKEND_STORE_URI:-sqlite:///mlflow.db}
ARTIFACT_ROOT=${ARTIFACT_ROOT:-./artifacts}
SERVER_PID_FILE=${SERVER_PID_FILE:-mlflow-server.pid}
SERVER_LOG=${SERVER_LOG:-mlflow-server.log}
START_TIMEOUT=${START_TIMEOUT:-60}

url="http://${HOST}:${PORT}"

say() { echo "$*" >&2; }

# The pid in the pid file if that process is still an mlflow server we started, else nothing.
our_pid() {
    [[ -f $SERVER_PID_FILE ]] || return 0
    local pid
    pid=$(<"$SERVER_PID_FILE")
    if [[ $pid =~ ^[0-9]+$ ]] && [[ -r /proc/$pid/cmdline ]] &&
        tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'mlflow.* server'; then
        echo "$pid"
    else
        say "Removing stale pid file $SERVER_PID_FILE (process ${pid:-?} is gone)."
        rm -f "$SERVER_PID_FILE"
    fi
}

port_in_use() { (exec 3<>"/dev/tcp/${HOST}/${PORT}") 2>/dev/null; }

healthy() { curl -fsS --max-time 2 "${url}/health" >/dev/null 2>&1; }

start() {
    local pid
    pid=$(our_pid)
    if [[ -n $pid ]]; then
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
    mkdir -p "$ARTIFACT_ROOT"
    # setsid: the server gets a process group of its own, so stop can end its workers too.
    setsid "$MLFLOW" server \
        --backend-store-uri "$BACKEND_STORE_URI" \
        --default-artifact-root "$ARTIFACT_ROOT" \
        --host "$HOST" --port "$PORT" >"$SERVER_LOG" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$SERVER_PID_FILE"
    say "Starting MLflow server at $url (pid $pid, log $SERVER_LOG) ..."
    local waited=0
    until healthy; do
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$SERVER_PID_FILE"
            say "Error: the MLflow server exited during start-up; last lines of $SERVER_LOG:"
            tail -n 5 "$SERVER_LOG" >&2
            return 1
        fi
        if ((waited >= START_TIMEOUT * 2)); then
            say "Error: no answer from $url/health after ${START_TIMEOUT}s: see $SERVER_LOG."
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
    waited=0
    while kill -0 -- "-$pid" 2>/dev/null && ((waited < 10)); do # a killed process takes a moment
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
