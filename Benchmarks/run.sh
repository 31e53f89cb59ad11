#!/usr/bin/env bash
# One command for normd's benchmarks (see BENCHMARKS.md):
#
#   Benchmarks/run.sh            # the table: direct, bare zmq_proxy, pyzmq+NumPy sidecar, normd, normd with the admin server scraped every 100 ms (~9 min)
#   Benchmarks/run.sh --quick    # smoke run: 128 features only, short phases (~45 s)
#   Benchmarks/run.sh --micro    # also the stage-math and allocation micro-benchmarks (ordo-one/benchmark)
#
# Builds the C load generator, consumer and forwarder with `cc` against the system libzmq, and
# normd in release, then runs Benchmarks/harness.py (extra arguments go to it, e.g.
# `--workloads 128x1 --systems forwarder,normd`). Results also land in .build/bench/results.json.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=() micro=0 extra=()
for arg in "$@"; do
    case "$arg" in
        --quick) quick=(--quick) ;;
        --micro) micro=1 ;;
        *) extra+=("$arg") ;;
    esac
done

bash Scripts/bootstrap.sh
export PATH="$PWD/.venv/bin:$PATH"   # harness.py needs NumPy: the project venv's python3

out=.build/bench
mkdir -p "$out"
for program in producer consumer forwarder stallprobe; do
    cc -O2 -Wall -Wextra -o "$out/$program" "Benchmarks/c/$program.c" -lzmq -lm
done
swift build -c release --product normd 2>&1 | tail -1

python3 Benchmarks/harness.py --normd .build/release/normd --cbin "$out" --json "$out/results.json" \
    ${quick[@]+"${quick[@]}"} ${extra[@]+"${extra[@]}"}

if [ "$micro" = 1 ]; then
    swift package --package-path Benchmarks/Micro benchmark --format markdown
fi
