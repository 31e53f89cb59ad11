#!/usr/bin/env bash
# Thread-CPU micro-benchmarks (BENCHMARKS.md, "Issue 15"), small programs linked against the release
# build's object files (no extra package build, unlike Benchmarks/Micro):
#   ChainCPU  — the stage chain per 256 × 128 train batch, fused vs unfused, and a memcpy;
#   ChainCallgrind — the chain's batches alone, for callgrind's instruction counts, and a hash of the bits;
#   DecodeCPU — decoding a 1-row tensor message, header cache hit vs miss;
#   AcceptCPU — decode, then decode + engine accept + batching, per 1-row message;
#   HeaderCPU — the tensor encoding of a 256-row batch's header (its `sources` list of 256 entries);
#   AllocCount — allocations per batch and per message once warm (malloc interposer, not a CPU time).
# Needs `swift build -c release --product normd` first. Usage: Benchmarks/cpu-micro.sh [ChainCPU|ChainCallgrind|DecodeCPU|AcceptCPU|HeaderCPU|AllocCount]...
# To compare two builds: CPU_MICRO_RELEASE=<another build's release directory> (e.g. main's, copied
# aside, or Benchmarks/chain-modules.sh's output) links against its objects and Modules instead;
# CPU_MICRO_OUT=<directory> puts the programs there (default .build/bench); BENCH_ARGS is passed to
# each program (ChainCPU: the number of rounds).
set -euo pipefail
cd "$(dirname "$0")/.."
R=${CPU_MICRO_RELEASE:-.build/release}
OUT=${CPU_MICRO_OUT:-.build/bench}
mkdir -p "$OUT"
for program in "${@:-ChainCPU DecodeCPU AcceptCPU HeaderCPU}"; do
    for name in $program; do
        case "$name" in
            ChainCPU | ChainCallgrind) modules="NormCore StageKit MinMax BatchNorm BatchRenorm" ;;
            DecodeCPU) modules="WireFormat NpyFormat NormCore StageKit Pipeline Logging" ;;
            HeaderCPU) modules="WireFormat NpyFormat NormCore StageKit Pipeline Logging" ;;
            AllocCount) modules="WireFormat NpyFormat NormCore StageKit Pipeline Logging MinMax BatchNorm BatchRenorm" ;;
            AcceptCPU) modules="WireFormat NpyFormat NormCore StageKit Pipeline Logging MinMax BatchNorm BatchRenorm" ;;
            *) echo "unknown program $name" >&2; exit 64 ;;
        esac
        # The objects normd was last linked from, not `*.o`: a build directory keeps the objects of
        # files since renamed or deleted, and linking those too gives duplicate symbols.
        # Without a linked normd (only the modules built: `swift build -c release --target BatchRenorm
        # --target MinMax`), every object of each module's build directory.
        # NormCore's AVX2 kernels are the C target CKernels: its objects, and its module map when the
        # build is SwiftPM's (chain-modules.sh puts one in Modules/ instead).
        modules="CKernels $modules"
        extra=()
        if [[ -f "$R/CKernels.build/module.modulemap" ]]; then extra=(-Xcc "-fmodule-map-file=$R/CKernels.build/module.modulemap"); fi
        objects=()
        for module in $modules; do
            if [[ -f "$R/normd.product/Objects.LinkFileList" ]]; then
                while IFS= read -r object; do objects+=("$object"); done \
                    < <(grep "/$module.build/" "$R/normd.product/Objects.LinkFileList" | sed "s|^.*/release/|$R/|")
            else
                objects+=("$R/$module.build/"*.o)
            fi
        done
        # A program that fails to build must not leave an older one behind to be run instead.
        rm -f "$OUT/$name"
        # --export-dynamic: ChainCPU looks up kernels newer than main's objects with dlsym.
        swiftc -O -I "$R/Modules" ${extra[@]+"${extra[@]}"} -Xlinker --export-dynamic "Benchmarks/$name/main.swift" "${objects[@]}" -o "$OUT/$name" 2>&1 | grep -v warning || true
        [[ -x "$OUT/$name" ]] || { echo "cpu-micro.sh: $name did not build" >&2; exit 1; }
        if [[ "$name" == AllocCount ]]; then
            cc -O2 -shared -fPIC -o "$OUT/libcount.so" Benchmarks/AllocCount/count.c -ldl
            LD_PRELOAD="$(realpath "$OUT")/libcount.so" "$OUT/$name" ${BENCH_ARGS:-}
        else
            "$OUT/$name" ${BENCH_ARGS:-}
        fi
    done
done
