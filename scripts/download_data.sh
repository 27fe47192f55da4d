#!/usr/bin/env bash
# Download TLC trip files into a folder (used by `make data`).
#
#   scripts/download_data.sh DEST FILE...
#
# TAXI_DATA_URL is the base address (default: the NYC TLC's trip-data address);
# a file:// address runs the same code offline. Files already present are kept
# (silently: `make data` runs this every time); a folder in a file's place is an
# error, never removed; a download that is not a parquet file is rejected and never
# left behind.
set -euo pipefail

TAXI_DATA_URL=${TAXI_DATA_URL:-https://d37ci6vzurychx.cloudfront.net/trip-data}
dest=${1:?usage: $0 DEST FILE...}
shift

is_parquet() { # parquet files start and end with the magic bytes PAR1
    [[ $(head -c 4 "$1") == PAR1 && $(tail -c 4 "$1") == PAR1 ]]
}

mkdir -p "$dest"
for name in "$@"; do
    target="$dest/$name"
    if [[ -d $target ]]; then
        echo "Error: $target is a folder, not a parquet file: move it out of the way and run make data again." >&2
        exit 1
    fi
    if [[ -f $target ]]; then
        continue
    fi
    echo "Downloading ${TAXI_DATA_URL%/}/$name" >&2
    partial="$target.part"
    trap 'rm -f "$partial"' EXIT
    if ! curl -fsSL --retry 3 -o "$partial" "${TAXI_DATA_URL%/}/$name"; then
        echo "Error: could not download ${TAXI_DATA_URL%/}/$name (check TAXI_DATA_URL and your connection)." >&2
        exit 1
    fi
    if ! is_parquet "$partial"; then
        echo "Error: ${TAXI_DATA_URL%/}/$name is not a parquet file: not saved (check TAXI_DATA_URL)." >&2
        exit 1
    fi
    mv "$partial" "$target"
done
