#!/usr/bin/env bash
# Serve the registered champion over HTTP (used by `make serve-model`); Ctrl-C stops it.
#
# `mlflow models serve --env-manager local`: the model runs in this environment, no new one
# is built. POST raw trips as JSON to http://HOST:MODEL_PORT/invocations.
#
# Settings come from the environment (the Makefile passes them):
#   MLFLOW               mlflow executable                   (default: .venv/bin/mlflow)
#   MODEL_URI            model to serve, e.g. models:/<name>@champion (required)
#   HOST                 loopback address to listen on       (default: 127.0.0.1)
#   MODEL_PORT           port                                (default: a free one)
#   MLFLOW_TRACKING_URI  tracking server holding the registry
set -euo pipefail

MLFLOW=${MLFLOW:-.venv/bin/mlflow}
MODEL_URI=${MODEL_URI:?set MODEL_URI, e.g. models:/<name>@champion (make serve-model sets it)}
HOST=${HOST:-127.0.0.1}
BIN_DIR=$(cd "$(dirname "$MLFLOW")" && pwd)
PYTHON="$BIN_DIR/python"
export PATH="$BIN_DIR:$PATH"  # mlflow starts `uvicorn` from the PATH: the venv's, not a global one

if [[ -z ${MODEL_PORT:-} ]]; then
    MODEL_PORT=$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
elif (exec 3<>"/dev/tcp/${HOST}/${MODEL_PORT}") 2>/dev/null; then
    echo "Error: port $MODEL_PORT on $HOST is taken: pick another MODEL_PORT, or leave it empty for a free one." >&2
    exit 1
fi

url="http://${HOST}:${MODEL_PORT}"
cat >&2 <<MSG
Serving $MODEL_URI at $url/invocations (Ctrl-C stops it). Try:
  curl -s $url/invocations -H 'Content-Type: application/json' \\
    -d '{"dataframe_records": [{"PULocationID": 74, "DOLocationID": 75, "trip_distance": 1.2}]}'
MSG
exec "$MLFLOW" models serve -m "$MODEL_URI" --env-manager local --host "$HOST" --port "$MODEL_PORT"
