#!/usr/bin/env bash
# Installs what building and testing normd needs on a fresh Debian machine, skipping what is there:
#   - libzmq3-dev (the system libzmq that the CZeroMQ module map links)
#   - NumPy and pyzmq for the Python clients the end-to-end tests use
# Safe to run repeatedly and without a terminal (CI runs it with no standard input).
set -euo pipefail

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo -n "$@"; else
        echo "bootstrap: need root (or sudo) to run: $*" >&2; return 1; fi
}

if [ ! -f /usr/include/zmq.h ]; then
    echo "bootstrap: installing libzmq3-dev" >&2
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get update -qq </dev/null
    as_root apt-get install -y -qq libzmq3-dev </dev/null
fi

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import numpy, zmq' >/dev/null 2>&1; then
    echo "bootstrap: installing numpy and pyzmq for $PYTHON" >&2
    "$PYTHON" -m pip install --quiet --disable-pip-version-check numpy pyzmq </dev/null
fi

command -v swift >/dev/null 2>&1 || { echo "bootstrap: swift is not on PATH (expected Swift 6.3 at /opt/swift)" >&2; exit 1; }
