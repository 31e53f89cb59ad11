#!/usr/bin/env bash
# Soak test (Docs/RELIABILITY.md, "Soak test"):
#
#   Benchmarks/soak.sh [MINUTES] [options]     # default 10 minutes; CI runs `Benchmarks/soak.sh 1`
#
# Builds normd in RELEASE (the build an operator runs) and the C producer/consumer in
# Benchmarks/soak/ with `cc`, probes the maximum rate for 5 s, then runs normd for MINUTES at half of
# it: 10 % malformed messages (eight rejection reasons), two consumers, one stalling 5 s every 30 s,
# RSS and the heap in use (normd_heap_bytes, from the admin endpoint) sampled every second. Exits 1
# naming every failed assertion. Options go to
# Benchmarks/soak/soak.py (`--rate MSG_PER_S` skips the probe; `--help` lists them).
set -euo pipefail
cd "$(dirname "$0")/.."

bash Scripts/bootstrap.sh
export PATH="$PWD/.venv/bin:$PATH"

out=.build/soak
mkdir -p "$out"
for program in producer consumer; do
    cc -O2 -Wall -Wextra -o "$out/soak-$program" "Benchmarks/soak/$program.c" -lzmq -lm
done
swift build -c release --product normd 2>&1 | tail -1

exec python3 Benchmarks/soak/soak.py --normd .build/release/normd --bin "$out" "$@"
