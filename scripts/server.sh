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
#                       clients never touch the store; ARTIFACT_ROOT is then unused (default: off).
#                       An s3://bucket/path needs MLFLOW_S3_ENDPOINT_URL (for a store other than
#                       AWS), AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment.
#   AUTH                1: MLflow's basic-auth app, admin `admin` with the password in
#                       MLFLOW_AUTH_ADMIN_PASSWORD (required, not MLflow's default) (default: off)
#   AUTH_DIR            its config, Flask secret key and users database (default: mlflow-auth)
#   AUTH_DATABASE_URI   its users database               (default: sqlite:///AUTH_DIR/basic_auth.db)
#   SERVER_PID_FILE     pid file: the server's identity record (scripts/processes.sh)
#                                                       (default: mlflow-server.pid)
#   SERVER_LOG          log file                        (default: mlflow-server.log)
set -euo pipefail

MLFLOW=${MLFLOW:-.venv/bin/mlflow}
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-5000}
BACKEND_STORE_URI=${BACKEND_STORE_URI:-sqlite:///mlflow.db}
ARTIFACT_ROOT=${ARTIFACT_ROOT:-./artifacts}
ARTIFACTS_DESTINATION=${ARTIFACTS_DESTINATION:-}
AUTH=${AUTH:-}
AUTH_DIR=${AUTH_DIR:-mlflow-auth}
AUTH_ADMIN=${AUTH_ADMIN:-admin}
SERVER_PID_FILE=${SERVER_PID_FILE:-mlflow-server.pid}
SERVER_LOG=${SERVER_LOG:-mlflow-server.log}
START_TIMEOUT=${START_TIMEOUT:-180} # seconds; MLflow 3's uvicorn workers start slowly on a busy machine
MLFLOW_DEFAULT_ADMIN_PASSWORD=password1234 # what MLflow's own basic_auth.ini ships

source "$(dirname "${BASH_SOURCE[0]}")/processes.sh"
# What mask() hides in anything we print, MLflow's log lines included.
export SECRET_VARIABLES="AWS_SECRET_ACCESS_KEY MLFLOW_AUTH_ADMIN_PASSWORD MLFLOW_TRACKING_PASSWORD"

url="http://${HOST}:${PORT}"
python="$(dirname "$MLFLOW")/python"

port_in_use() { (exec 3<>"/dev/tcp/${HOST}/${PORT}") 2>/dev/null; }

healthy() { curl -fsS --max-time 2 "${url}/health" >/dev/null 2>&1; }

auth_on() { [[ $AUTH =~ ^(1|yes|true)$ ]]; }

# Say what the pid file held that is not a server of ours, then forget it.
forget_record() {
    case $verdict in
    stale) say "Removing stale pid file $SERVER_PID_FILE: $reason." ;;
    not-ours) say "$reason: left running. Removing the stale pid file $SERVER_PID_FILE." ;;
    elsewhere) say "$reason: left alone. Removing $SERVER_PID_FILE, a copy of that folder's record." ;;
    unreadable) say "$reason: nothing signalled. Removing the stale pid file $SERVER_PID_FILE." ;;
    esac
    rm -f "$SERVER_PID_FILE"
}

# The basic-auth app's settings: a config that only its owner can read (MLFLOW_AUTH_CONFIG_PATH)
# holding the admin's password, and a Flask secret key made once and kept beside it. Both are
# handed to mlflow through its environment, never its command line.
prepare_auth() {
    local password=${MLFLOW_AUTH_ADMIN_PASSWORD:-}
    if [[ -z $password || $password == "$MLFLOW_DEFAULT_ADMIN_PASSWORD" ]]; then
        say "Error: AUTH=1 needs the admin's password in MLFLOW_AUTH_ADMIN_PASSWORD, and not MLflow's default: \`export MLFLOW_AUTH_ADMIN_PASSWORD=<a password of your own, 12+ characters>\`, then start again."
        return 1
    fi
    if ((${#password} < 12)) || [[ $password =~ [[:cntrl:]] || $password != "${password#[[:space:]]}" || $password != "${password%[[:space:]]}" ]]; then
        say "Error: MLFLOW_AUTH_ADMIN_PASSWORD must have 12 or more characters (as MLflow asks of every user), no control characters and no leading or trailing space: set another one."
        return 1
    fi
    if ! "$python" -c 'import flask_wtf' 2>/dev/null; then
        say "Error: AUTH=1 needs Flask-WTF in $(dirname "$MLFLOW"): run \`make install-team\`."
        return 1
    fi
    (umask 077 && mkdir -p "$AUTH_DIR")
    chmod 700 "$AUTH_DIR"
    local dir
    dir=$(cd "$AUTH_DIR" && pwd -P)
    local database=${AUTH_DATABASE_URI:-sqlite:///$dir/basic_auth.db}
    (
        umask 077
        if [[ ! -s $dir/flask-secret-key ]]; then
            "$python" -c 'import secrets; print(secrets.token_hex(32))' >"$dir/flask-secret-key"
        fi
        # configparser reads % as interpolation: written as %%.
        printf '[mlflow]\ndefault_permission = NO_PERMISSIONS\ndatabase_uri = %s\nadmin_username = %s\nadmin_password = %s\nauthorization_function = mlflow.server.auth:authenticate_request_basic_auth\n' \
            "${database//%/%%}" "$AUTH_ADMIN" "${password//%/%%}" >"$dir/basic_auth.ini.tmp"
        mv "$dir/basic_auth.ini.tmp" "$dir/basic_auth.ini"
    )
    chmod 600 "$dir/flask-secret-key" "$dir/basic_auth.ini"
    export MLFLOW_AUTH_CONFIG_PATH="$dir/basic_auth.ini"
    MLFLOW_FLASK_SERVER_SECRET_KEY=$(<"$dir/flask-secret-key")
    export MLFLOW_FLASK_SERVER_SECRET_KEY
    # MLflow creates the admin only in a new users database: make an existing admin's password
    # the one in MLFLOW_AUTH_ADMIN_PASSWORD too (read from the config, not the command line).
    # umask 077: the users database (password hashes) is for its owner only.
    local output
    if ! output=$(umask 077 && "$python" - 2>&1 <<'PY'
from mlflow.server.auth.config import read_auth_config
from mlflow.server.auth.sqlalchemy_store import SqlAlchemyStore

config = read_auth_config()
store = SqlAlchemyStore()
store.init_db(config.database_uri)
if store.has_user(config.admin_username):
    store.update_user(config.admin_username, password=config.admin_password, is_admin=True)
else:
    store.create_user(config.admin_username, config.admin_password, is_admin=True)
PY
    ); then
        echo "$output" | tail -n 5 | mask >&2
        echo "Error: could not set the admin's password in the users database $database (above)." | mask >&2
        return 1
    fi
}

# mlflow server's arguments from the settings (the backend store, artifacts, login, address).
server_arguments() {
    arguments=()
    # Keep a password in the store's URI off the command line (`ps` shows it to every user):
    # mlflow reads the store from its environment too, which only its owner can see.
    local with_password='://[^/@:]*:[^/@]*@'
    if [[ $BACKEND_STORE_URI =~ $with_password ]]; then
        export MLFLOW_BACKEND_STORE_URI=$BACKEND_STORE_URI
    else
        arguments+=(--backend-store-uri "$BACKEND_STORE_URI")
    fi
    # Proxied mode: clients get mlflow-artifacts:/ URIs and upload through the server over HTTP.
    if [[ -n $ARTIFACTS_DESTINATION ]]; then
        arguments+=(--artifacts-destination "$ARTIFACTS_DESTINATION" --serve-artifacts)
    else
        arguments+=(--default-artifact-root "$ARTIFACT_ROOT") # the default (Q4 reads it)
    fi
    if auth_on; then
        arguments+=(--app-name basic-auth)
    fi
    arguments+=(--host "$HOST" --port "$PORT")
}

start() {
    server_arguments
    check_record "$SERVER_PID_FILE" "$PORT"
    case $verdict in
    ours)
        if [[ " $rec_command " != *" $MLFLOW "* ]]; then
            say "Error: the server in $SERVER_PID_FILE (pid $rec_pid) is another environment's MLflow, not $MLFLOW: run \`make server-stop\` first (server and scripts must use the same MLflow)."
            return 1
        fi
        if [[ $rec_command != *" server ${arguments[*]}" ]]; then
            echo "Error: the server in $SERVER_PID_FILE (pid $rec_pid) runs with other settings (${rec_command#* server }): run \`make server-stop\` first." | mask >&2
            return 1
        fi
        # Started moments ago (by a `make server` run at the same time): wait for it.
        if ! healthy && (($(date +%s) - rec_since < START_TIMEOUT)); then
            say "MLflow server (pid $rec_pid) is starting; waiting for $url ..."
            wait_until_healthy "$rec_pid" || true
        fi
        if healthy; then
            say "MLflow server already running at $url (pid $rec_pid)."
            return 0
        fi
        say "Error: the server in $SERVER_PID_FILE (pid $rec_pid) does not answer at $url: run \`make server-stop\` first."
        return 1
        ;;
    other-port)
        say "Error: the MLflow server started from here (pid $rec_pid) serves port $rec_port, not $PORT: stop it first with \`make server-stop PORT=$rec_port\`."
        return 1
        ;;
    orphans)
        # Its main process was killed, but its workers still hold the port: they are ours (same
        # process group, program and age), so stop them and start afresh.
        say "The MLflow server's main process (pid $rec_pid) is gone but its workers still run (pids $orphans): stopping them."
        stop_group "$rec_pid"
        rm -f "$SERVER_PID_FILE"
        ;;
    stale | not-ours | elsewhere | unreadable) forget_record ;;
    esac
    if [[ ! -x $MLFLOW ]]; then
        say "Error: $MLFLOW not found: run \`make install\` first."
        return 1
    fi
    if [[ $ARTIFACTS_DESTINATION == s3://* ]] && ! "$python" -c 'import boto3' 2>/dev/null; then
        say "Error: ARTIFACTS_DESTINATION=$ARTIFACTS_DESTINATION needs boto3 in $(dirname "$MLFLOW"): run \`make install-team\`."
        return 1
    fi
    if auth_on; then
        prepare_auth
    fi
    if port_in_use; then
        say "Error: port $PORT on $HOST is taken by another program: pick another, e.g. \`make server PORT=5001\`."
        return 1
    fi
    local destination=${ARTIFACTS_DESTINATION:-$ARTIFACT_ROOT}
    [[ $destination == *://* ]] || mkdir -p "$destination"
    local since
    since=$(date +%s)
    launch_in_own_session "$python" "$SERVER_LOG" "$MLFLOW" server "${arguments[@]}"
    local pid=$launched_pid
    local recorded=0
    write_record "$SERVER_PID_FILE" "$pid" "$PORT" "$since" || recorded=$?
    if ((recorded == 2)); then
        stop_group "$pid" # ours: launched just now
        say "Error: another \`make server\` started at the same time and recorded its server in $SERVER_PID_FILE first: this one stopped its own; \`make server\` again says which runs."
        return 1
    fi
    if ((recorded != 0)); then
        say "Error: the MLflow server exited during start-up; last lines of $SERVER_LOG:"
        tail -n 5 "$SERVER_LOG" | mask >&2
        return 1
    fi
    say "Starting MLflow server at $url (pid $pid, log $SERVER_LOG) ..."
    local login="no login"
    if auth_on; then
        login="basic-auth login, admin user $AUTH_ADMIN, users in $AUTH_DIR/"
    fi
    echo "  backend store $BACKEND_STORE_URI, artifacts in $destination, $login" | mask >&2
    local answered=0
    wait_until_healthy "$pid" || answered=$?
    if ((answered == 1)); then
        rm -f "$SERVER_PID_FILE"
        say "Error: the MLflow server exited during start-up; last lines of $SERVER_LOG:"
        tail -n 5 "$SERVER_LOG" | mask >&2
        return 1
    fi
    if ((answered == 2)); then
        say "Error: no answer from $url/health after ${START_TIMEOUT}s; last lines of $SERVER_LOG:"
        tail -n 3 "$SERVER_LOG" | mask >&2
        stop
        return 1
    fi
    say "MLflow server up at $url"
}

# Wait until the server (pid $1) answers at /health: 0 once it does, 1 if it exited, 2 if it
# still does not after START_TIMEOUT seconds.
wait_until_healthy() {
    local waited=0
    until healthy; do
        running "$1" || return 1
        ((waited < START_TIMEOUT * 2)) || return 2
        sleep 0.5
        waited=$((waited + 1))
    done
}

stop() {
    check_record "$SERVER_PID_FILE" "$PORT"
    case $verdict in
    ours)
        stop_group "$rec_pid"
        say "MLflow server (pid $rec_pid) stopped."
        ;;
    orphans)
        say "The MLflow server's main process (pid $rec_pid) is gone; stopping its workers (pids $orphans)."
        stop_group "$rec_pid"
        say "MLflow server (pid $rec_pid) stopped."
        ;;
    other-port)
        say "Error: the MLflow server started from here (pid $rec_pid) serves port $rec_port, not $PORT: left running; stop it with \`make server-stop PORT=$rec_port\`."
        return 1
        ;;
    none)
        say "No MLflow server started from here is running."
        return 0
        ;;
    *)
        forget_record
        say "No MLflow server started from here is running."
        return 0
        ;;
    esac
    rm -f "$SERVER_PID_FILE"
}

status() {
    check_record "$SERVER_PID_FILE" "$PORT"
    if [[ $verdict == ours ]] && healthy; then
        echo "running at $url (pid $rec_pid)"
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
