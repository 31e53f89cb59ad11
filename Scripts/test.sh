#!/usr/bin/env bash
# The test command (README, .ci/run): installs what is missing, builds, runs every test.
# The tests start `python3` (pyzmq, NumPy, scikit-learn): the project venv's, first on PATH.
# After the Swift tests, pytest runs the Python client's tests (Clients/python/tests) against the
# debug daemon just built (.build/debug/normd), and the soak's memory verdict (Benchmarks/soak/test_rss.py). First of all, the Swift sources must be formatted
# (Scripts/format.sh --check: the toolchain's swift-format with .swift-format), which takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
bash Scripts/bootstrap.sh
export PATH="$PWD/.venv/bin:$PATH"
bash Scripts/format.sh --check
swift build --build-tests
swift test --skip-build --disable-xctest "$@"
NORMD_BINARY="$PWD/.build/debug/normd" python3 -m pytest -q -rs -p no:cacheprovider Clients/python/tests Benchmarks/soak/test_rss.py
