#!/usr/bin/env bash
# Thread-CPU micro-benchmarks (BENCHMARKS.md, "Issue 15"), small programs linked against the release
# build's object files (no extra package build, unlike Benchmarks/Micro):
#   ChainCPU  — the stage chain per 256 × 128 train batch, fused vs unfused, and a memcpy;
#   DecodeCPU — decoding a 1-row tensor message, header cache hit vs miss;
#   AcceptCPU — decode, then decode + engine accept + batching, per 1-row message;
#   HeaderCPU — the tensor encoding of a 256-row batch's header (its `sources` list of 256 entries);
#   AllocCount — allocations per batch and per message once warm (malloc interposer, not a CPU time).
# Needs `swift build -c release --product normd` first. Usage: Benchmarks/cpu-micro.sh [ChainCPU|DecodeCPU|AcceptCPU|HeaderCPU|AllocCount]...
# To compare with another build's objects (e.g. main's, copied into `.build-main/release`), set
# CPU_MICRO_RELEASE to that release directory and CPU_MICRO_OUT to where its programs go.
set -euo pipefail
cd "$(dirname "$0")/.."
R=${CPU_MICRO_RELEASE:-.build/release}
OUT=${CPU_MICRO_OUT:-.build/bench}
mkdir -p "$OUT"
for program in "${@:-ChainCPU DecodeCPU AcceptCPU HeaderCPU}"; do
    for name in $program; do
        case "$name" in
            ChainCPU) modules="NormCore StageKit MinMax BatchNorm BatchRenorm" ;;
            DecodeCPU) modules="WireFormat NpyFormat NormCore StageKit Pipeline Logging" ;;
            HeaderCPU) modules="WireFormat NpyFormat NormCore StageKit Pipeline Logging" ;;
            AllocCount) modules="WireFormat NpyFormat NormCore StageKit Pipeline Logging MinMax BatchNorm BatchRenorm" ;;
            AcceptCPU) modules="WireFormat NpyFormat NormCore StageKit Pipeline Logging MinMax BatchNorm BatchRenorm" ;;
            *) echo "unknown program $name" >&2; exit 64 ;;
        esac
        # The objects normd was last linked from, not `*.o`: a build directory keeps the objects of
        # files since renamed or deleted, and linking those too gives duplicate symbols.
        objects=()
        for module in $modules; do
            while IFS= read -r object; do objects+=("$object"); done \
                < <(grep "/$module.build/" "$R/normd.product/Objects.LinkFileList" | sed "s|^.*/release/|$R/|")
        done
        swiftc -O -I "$R/Modules" "Benchmarks/$name/main.swift" "${objects[@]}" -o "$OUT/$name" 2>&1 | grep -v warning || true
        if [[ "$name" == AllocCount ]]; then
            cc -O2 -shared -fPIC -o "$OUT/libcount.so" Benchmarks/AllocCount/count.c -ldl
            LD_PRELOAD="$(realpath "$OUT")/libcount.so" "$OUT/$name"
        else
            "$OUT/$name"
        fi
    done
done
