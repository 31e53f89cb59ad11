#!/usr/bin/env bash
# Runs the normd daemon on its default configuration (Config/normd.yaml: PULL on tcp://127.0.0.1:5555,
# PUSH on tcp://127.0.0.1:5556), installing what it needs first. Extra arguments go to `normd run`,
# e.g. `Scripts/run.sh --config Config/sidecar_ipc.yaml --log-level debug`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash Scripts/bootstrap.sh
swift build -c release --product normd
config=(--config Config/normd.yaml)
for arg in "$@"; do [ "$arg" = "--config" ] && config=(); done
exec .build/release/normd run "${config[@]}" "$@"
