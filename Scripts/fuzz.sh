#!/usr/bin/env bash
# Fuzzes normd's decoders of external bytes with libFuzzer (see Docs/RELIABILITY.md, "Fuzzing").
#
#   Scripts/fuzz.sh TARGET [SECONDS] [libFuzzer flags...]   one target, default 60 s
#   Scripts/fuzz.sh all SECONDS [libFuzzer flags...]        every target in turn, SECONDS each
#
# TARGET: tensor, npy, json (the wire decoders), npy_file (the .npy file reader), config (YAML
# through validation), state (the state-file reader), sync (a sync group member's frames). Builds the driver package Fuzz/ with
# -sanitize=fuzzer,address into .build-fuzz (never the ordinary .build), then fuzzes starting from
# the committed corpus Tests/FuzzCorpus/TARGET (seeds and crashers/, not crashers/pending/), copied
# into .build-fuzz/corpus/TARGET, where libFuzzer also keeps what it finds.
# Exit status: 0 when no target crashed, 1 when one did (its input is in .build-fuzz/artifacts/TARGET/).
set -euo pipefail
cd "$(dirname "$0")/.."

TARGETS=(tensor npy json npy_file config state sync)
usage() { local IFS='|'; echo "usage: $0 {${TARGETS[*]}|all} [SECONDS] [libFuzzer flags...]" >&2; exit 64; }
[ $# -ge 1 ] || usage
which=$1; shift
seconds=${1:-60}; [ $# -ge 1 ] && shift
[[ $seconds =~ ^[0-9]+$ ]] || usage
if [ "$which" = all ]; then chosen=("${TARGETS[@]}"); else
    [[ " ${TARGETS[*]} " == *" $which "* ]] || usage
    chosen=("$which")
fi

SCRATCH=.build-fuzz
echo "fuzz: building the driver (Fuzz/, -sanitize=fuzzer,address) into $SCRATCH" >&2
swift build --package-path Fuzz --scratch-path "$SCRATCH" -c release \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -g >&2
driver=$SCRATCH/release/normd-fuzz

failed=()
for target in "${chosen[@]}"; do
    corpus=$SCRATCH/corpus/$target
    artifacts=$SCRATCH/artifacts/$target/
    mkdir -p "$corpus" "$artifacts"
    # Seeds and fixed crashers (regressions) start the run; pending crashers would stop it at once.
    find "Tests/FuzzCorpus/$target" -path '*/crashers/pending' -prune -o -type f -exec cp {} "$corpus/" \;
    log=$SCRATCH/$target.log
    # Tokens (keys, boundary numbers) the mutator would take long to invent byte by byte.
    dict=(); [ -f "Fuzz/Dictionaries/$target.dict" ] && dict=(-dict="Fuzz/Dictionaries/$target.dict")
    echo "fuzz: $target for ${seconds}s (corpus $corpus)" >&2
    status=0
    # One process on one core: libFuzzer's default (no -jobs/-workers; -jobs=1 would only add a
    # parent process and a fuzz-0.log in the current directory). -timeout: 10 s for one input is a hang.
    # -rss_limit_mb: the decoders must stay far below 2 GB for any input.
    # -detect_leaks=0: LeakSanitizer cannot see Swift references kept in enum payloads with spare
    # bits (it reported the state target's pipeline global as "leaked"); ARC leaks are cycles, and
    # unbounded growth still hits -rss_limit_mb.
    # SWIFT_BACKTRACE=enable=no: Swift's own crash backtracer, reading memory under ASan, ends in a
    # misleading "heap-buffer-overflow"; libFuzzer's deadly-signal report gives the symbolized stack.
    SWIFT_BACKTRACE=${SWIFT_BACKTRACE:-enable=no} ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0} "$driver" "$target" "$corpus" -max_total_time="$seconds" \
        -timeout=10 -rss_limit_mb=2048 -detect_leaks=0 -artifact_prefix="$artifacts" -print_final_stats=1 "${dict[@]}" "$@" \
        >"$log" 2>&1 || status=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    if [ "$status" -ne 0 ]; then
        failed+=("$target")
        # The report, the first frames of the stack (a Swift trap names itself in frame #4, e.g.
        # "Swift runtime failure: Unexpectedly found nil"), and the input itself in base64: a CI
        # machine's .build-fuzz is gone once the run ends, so its log must be enough to reproduce.
        grep -E '^(==[0-9]+== ?ERROR|SUMMARY|Fatal error|.*fatal error|artifact_prefix|Test unit written)' "$log" | head -20 >&2 || true
        grep -E '^ +#([0-9]|1[0-9]) ' "$log" | head -20 | cut -c1-300 >&2 || true
        for input in "$artifacts"*; do
            [ -f "$input" ] || continue
            if [ "$(stat -c %s "$input")" -le 65536 ]; then
                echo "fuzz: input $(basename "$input") in base64 (base64 -d > input):" >&2
                base64 -w 100 "$input" >&2
            fi
        done
        echo "fuzz: $target CRASHED (exit $status) after ${runs:-?} runs; log $log" >&2
        echo "fuzz: reproduce with: $driver $target <input>; keep it as Tests/FuzzCorpus/$target/crashers/<name>" >&2
    else
        echo "fuzz: $target ok: ${runs:-?} runs, ${rate:-?} exec/s, corpus $(find "$corpus" -type f | wc -l) inputs" >&2
    fi
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: crashes in: ${failed[*]}" >&2
    exit 1
fi
