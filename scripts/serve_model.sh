#!/usr/bin/env bash
# Serve the registered champion over HTTP (used by `make serve-model`); Ctrl-C stops it.
#
# verify_model.py first downloads the model into a private scratch folder and checks its
# signature (see homework/trust/); `mlflow models serve --env-manager local` then serves those
# checked files, in this environment (no new one is built). An unsigned or changed model is
# refused before anything of it is loaded. POST raw trips as JSON to
# http://HOST:MODEL_PORT/invocations.
#
# Settings come from the environment (the Makefile passes them):
#   MLFLOW               mlflow executable                   (default: .venv/bin/mlflow)
#   MODEL_URI            model to serve, e.g. models:/<name>@champion (required)
#   HOST                 loopback address to listen on       (default: 127.0.0.1)
#   MODEL_PORT           port                                (default: a free one)
#   TRUST_UNSIGNED       1: serve a model that is not signed by a trusted key (default: refuse)
#   MLFLOW_TRACKING_URI  tracking server holding the registry
set -euo pipefail

MLFLOW=${MLFLOW:-.venv/bin/mlflow}
MODEL_URI=${MODEL_URI:?set MODEL_URI, e.g. models:/<name>@champion (make serve-model sets it)}
HOST=${HOST:-127.0.0.1}
TRUST_UNSIGNED=${TRUST_UNSIGNED:-}
BIN_DIR=$(cd "$(dirname "$MLFLOW")" && pwd)
PYTHON="$BIN_DIR/python"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export PATH="$BIN_DIR:$PATH"  # mlflow starts `uvicorn` from the PATH: the venv's, not a global one

if [[ -z ${MODEL_PORT:-} ]]; then
    MODEL_PORT=$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
elif (exec 3<>"/dev/tcp/${HOST}/${MODEL_PORT}") 2>/dev/null; then
    echo "Error: port $MODEL_PORT on $HOST is taken: pick another MODEL_PORT, or leave it empty for a free one." >&2
    exit 1
fi

case $TRUST_UNSIGNED in
    1 | yes | true) trust=--trust_unsigned ;;
    *) trust= ;;
esac
# The checked copy lives in a folder only we can read, removed when serving ends.
scratch=$(mktemp -d)  # in $TMPDIR, mode 0700
trap 'rm -rf "$scratch"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
model_dir=$("$PYTHON" "$ROOT/verify_model.py" --model_uri "$MODEL_URI" --dest "$scratch/model" ${trust:+"$trust"})

url="http://${HOST}:${MODEL_PORT}"
cat >&2 <<MSG
Serving $MODEL_URI at $url/invocations (Ctrl-C stops it). Try:
  curl -s $url/invocations -H 'Content-Type: application/json' \\
    -d '{"dataframe_records": [{"PULocationID": 74, "DOLocationID": 75, "trip_distance": 1.2}]}'
MSG
"$MLFLOW" models serve -m "$model_dir" --env-manager local --host "$HOST" --port "$MODEL_PORT"
