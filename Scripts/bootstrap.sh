#!/usr/bin/env bash
# Installs what building and testing normd needs on a fresh Debian 12 machine that has only the
# Swift toolchain (on PATH), skipping what is there:
#   - apt: libzmq3-dev (the system libzmq the CZeroMQ module map links), the C/C++ tool chain and
#     headers swiftc links with (gcc also builds Benchmarks/c), git (SwiftPM fetches the dependencies),
#     the libraries the toolchain's own programs load (ncurses, curl, libxml2, sqlite),
#     python3 + python3-venv, tmux (the terminal TopCommandTests drives `normd top` in), curl (the
#     HTTP client the admin endpoint's tests use, as an operator or a probe would);
#   - a project venv, .venv, with Scripts/requirements.txt (NumPy, pyzmq, scikit-learn, pytest) and the
#     Python client package Clients/python (editable): Debian 12
#     ships no pip and refuses system-wide pip installs (PEP 668), so nothing goes into the system
#     Python. Scripts/test.sh puts .venv/bin first on PATH, since the tests call `python3`.
# Safe to run repeatedly and without a terminal (CI runs it with no standard input); when everything
# is present it only asks dpkg and reads one stamp file (well under a second).
# PYTHON names the interpreter the venv is made from (default python3).
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo -n "$@"; else
        echo "bootstrap: need root (or sudo) to run: $*" >&2; return 1; fi
}

PYTHON=${PYTHON:-python3}

# What a debootstrap'ed (minbase) Debian 12 lacks to build and test normd with /opt/swift, found by
# doing it (Docs/RELIABILITY.md, "Set-up on a clean Debian").
packages=(libzmq3-dev gcc libc6-dev libstdc++-12-dev binutils git ca-certificates
          libncurses6 libcurl4 libxml2 libsqlite3-0
          tmux    # the terminal `normd top`'s test drives (TopCommandTests)
          curl)   # the admin endpoint's tests speak HTTP through it (Tests/EndToEndTests/Support/AdminHTTP.swift)
# The venv needs an interpreter with venv + ensurepip (Debian splits ensurepip into python3-venv).
if ! "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1; then
    packages+=(python3 python3-venv)
    PYTHON=python3
fi

if command -v dpkg-query >/dev/null 2>&1; then
    installed=$(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${packages[@]}" 2>/dev/null || true)
    missing=()
    for package in "${packages[@]}"; do
        grep -qx "$package installed" <<<"$installed" || missing+=("$package")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "bootstrap: installing ${missing[*]}" >&2
        export DEBIAN_FRONTEND=noninteractive
        as_root apt-get update -qq </dev/null
        as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null >/dev/null
    fi
elif [ ! -f /usr/include/zmq.h ]; then
    echo "bootstrap: not a Debian system; install libzmq's headers, a C tool chain, git and python3 with venv yourself" >&2
    exit 1
fi

# The venv is current when its interpreter runs and it was last filled from this requirements file.
venv=.venv
stamp=$venv/normd-requirements.txt
if ! "$venv/bin/python3" -c '' >/dev/null 2>&1; then
    echo "bootstrap: creating $venv with $PYTHON" >&2
    "$PYTHON" -m venv --clear "$venv" </dev/null
    rm -f "$stamp"
fi
if ! cmp -s Scripts/requirements.txt "$stamp"; then
    echo "bootstrap: installing Scripts/requirements.txt into $venv" >&2
    # pip trusts its own bundled CA list; use Debian's store instead (as Debian's own pip does), so a
    # network whose TLS proxy CA is installed system-wide (update-ca-certificates) works too.
    if [ -z "${PIP_CERT:-}" ] && [ -f /etc/ssl/certs/ca-certificates.crt ]; then export PIP_CERT=/etc/ssl/certs/ca-certificates.crt; fi
    "$venv/bin/python3" -m pip install --quiet --disable-pip-version-check --no-input -r Scripts/requirements.txt </dev/null
    cp Scripts/requirements.txt "$stamp"
fi
# The Python client package (Clients/python), installed editable so the tests always run the working
# tree's code; reinstalled only when its pyproject.toml changes (or the venv was recreated).
client_stamp=$venv/normd-client-pyproject.toml
if ! cmp -s Clients/python/pyproject.toml "$client_stamp" || ! "$venv/bin/python3" -c 'import normd' >/dev/null 2>&1; then
    echo "bootstrap: installing Clients/python (normd-client) into $venv" >&2
    if [ -z "${PIP_CERT:-}" ] && [ -f /etc/ssl/certs/ca-certificates.crt ]; then export PIP_CERT=/etc/ssl/certs/ca-certificates.crt; fi
    "$venv/bin/python3" -m pip install --quiet --disable-pip-version-check --no-input --no-deps -e ./Clients/python </dev/null
    cp Clients/python/pyproject.toml "$client_stamp"
fi

command -v swift >/dev/null 2>&1 || { echo "bootstrap: swift is not on PATH (expected Swift 6.3 at /opt/swift: export PATH=/opt/swift/usr/bin:\$PATH)" >&2; exit 1; }
swift --version >/dev/null 2>&1 || { echo "bootstrap: swift is on PATH but does not run:" >&2; swift --version; exit 1; }
