#!/usr/bin/env bash
# Install the browser that `make ui-check` drives (used by `make install-browser`).
#
# Debian or Ubuntu: the `chromium` package with apt-get (as root, else through sudo).
# macOS: nothing to install here: ui_check.py finds Google Chrome in /Applications, or set
# CHROMIUM=/path/to/chrome. Elsewhere: install Chromium yourself, then set CHROMIUM if needed.
set -euo pipefail

say() { echo "$*" >&2; }

if [[ -n ${CHROMIUM:-} ]]; then
    say "Using CHROMIUM=$CHROMIUM."
    exit 0
fi
if command -v chromium >/dev/null 2>&1; then
    say "Chromium is installed: $(command -v chromium)."
    exit 0
fi
if [[ $(uname -s) == Darwin ]]; then
    say "macOS: install Google Chrome (ui_check.py finds it in /Applications), or set"
    say "CHROMIUM='/Applications/Google Chrome.app/Contents/MacOS/Google Chrome'."
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    say "Error: no apt-get here: install Chromium with your package manager (or set CHROMIUM=/path/to/chromium)."
    exit 1
fi
sudo=()
if [[ $(id -u) != 0 ]]; then
    sudo=(sudo)
fi
say "Installing Debian's chromium package with apt-get ..."
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
say "Chromium is installed: $(command -v chromium)."
