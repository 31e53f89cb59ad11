#!/usr/bin/env bash
# The test command (README, .ci/run): installs what is missing, builds, runs every test.
# The tests start `python3` (pyzmq, NumPy, scikit-learn): the project venv's, first on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
bash Scripts/bootstrap.sh
export PATH="$PWD/.venv/bin:$PATH"
swift build --build-tests
swift test --skip-build --disable-xctest "$@"
