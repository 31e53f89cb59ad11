#!/usr/bin/env bash
# Profiles normd in the middle of one harness workload's max-rate phase (BENCHMARKS.md, issue 15):
#
#   Benchmarks/profile.sh NORMD WORKLOAD OUT     # e.g. .build/release/normd 16x64 /tmp/p16x64
#   SYSTEM=normd-chainthread Benchmarks/profile.sh ...   # another normd system of the harness
#
# Runs Benchmarks/harness.py with normd alone on WORKLOAD (a 14 s max-rate phase), waits 4 s, then
#   - records `perf record -g` of the normd process for 6 s into OUT.data and writes the flat
#     profile (self time per symbol, every thread) to OUT.txt;
#   - writes each normd thread's CPU seconds (user + sys from /proc/PID/task/TID/stat) over the
#     same 6 s to OUT.threads.
# Needs .build/bench (Benchmarks/run.sh builds it) and perf (Debian's linux-perf).
set -euo pipefail
cd "$(dirname "$0")/.."
normd=$1 workload=$2 out=$3
python=${PYTHON:-.venv/bin/python3}
# In a session of its own, so that this run's normd is found among its processes only (not a
# leftover of an earlier run) and the whole run is killed if this script stops early.
setsid "$python" Benchmarks/harness.py --normd "$normd" --cbin .build/bench --systems "${SYSTEM:-normd}" --workloads "$workload" \
    --duration 14 > "$out.harness" 2>&1 &
harness=$!
trap 'kill -- -"$harness" 2>/dev/null || true' EXIT
pid=""
for _ in $(seq 1 100); do
    pid=$(pgrep -n -s "$harness" -f "^$normd run --config .*normd-bench" || true)
    [ -n "$pid" ] && break
    sleep 0.1
done
[ -n "$pid" ] || { echo "profile.sh: normd did not start" >&2; exit 1; }
sleep 4
ticks=$(getconf CLK_TCK)
thread_cpu() { for stat in /proc/"$pid"/task/*/stat; do
    awk -v t="$ticks" '{ sub(/^[^)]*\) /, ""); name=$0; print FILENAME, ($12 + $13) / t }' FILENAME="$stat" "$stat"
done; }
declare -A before
while read -r file seconds; do before[$file]=$seconds; done < <(thread_cpu)
perf record -q -g -o "$out.data" -p "$pid" -- sleep 6 2>/dev/null
{
    printf '%-28s %s\n' thread "CPU s over 6 s"
    while read -r file seconds; do
        name=$(cat "${file%/stat}/comm" 2>/dev/null || echo "?")
        printf '%-28s %.2f\n' "$name" "$(echo "$seconds - ${before[$file]:-0}" | bc -l)"
    done < <(thread_cpu)
} > "$out.threads"
# `head` closes the pipe early: under pipefail that is an error, which must not end the run here.
{ perf report -i "$out.data" --no-children --sort comm,dso,symbol --stdio 2>/dev/null | grep -v '^$' | head -120 > "$out.txt"; } || true
wait "$harness"
echo "profile: $out.txt, threads: $out.threads"
