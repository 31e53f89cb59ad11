#!/usr/bin/env bash
# Compiles the chain's modules (NormCore, StageKit, MinMax, BatchNorm, BatchRenorm and, when present,
# the CKernels C target) from a source tree straight with swiftc/clang -O (whole module), into OUT —
# without a SwiftPM build of the whole dependency tree. For A/B runs of ChainCPU: build main's tree and
# this one the same way, then link Benchmarks/ChainCPU against each:
#   Benchmarks/chain-modules.sh SRC OUT    (SRC: a checkout, e.g. `git worktree`/`git archive` of main)
#   CPU_MICRO_RELEASE=OUT CPU_MICRO_OUT=.build/bench-x Benchmarks/cpu-micro.sh ChainCPU
# With WITH_PIPELINE=1 also Logging (from this checkout's .build/checkouts), NpyFormat, Pipeline and
# WireFormat, for AllocCount.
set -euo pipefail
src=$(cd "$1" && pwd); out=$2
mkdir -p "$out/Modules" "$out/normd.product"
: > "$out/normd.product/Objects.LinkFileList"
flags=(-O -wmo -parse-as-library -package-name normd -enable-upcoming-feature InternalImportsByDefault
       -enable-upcoming-feature MemberImportVisibility -I "$out/Modules")
if [[ -d "$src/Sources/CKernels" ]]; then
    mkdir -p "$out/CKernels.build"
    for file in "$src"/Sources/CKernels/*.c; do
        clang -O2 -fPIC -I "$src/Sources/CKernels/include" -c "$file" -o "$out/CKernels.build/$(basename "$file").o"
        echo "$out/CKernels.build/$(basename "$file").o" >> "$out/normd.product/Objects.LinkFileList"
    done
    printf 'module CKernels {\n    header "%s"\n    export *\n}\n' "$src/Sources/CKernels/include/CKernels.h" > "$out/Modules/module.modulemap"
fi
modules=(NormCore:Sources/NormCore StageKit:Sources/StageKit MinMax:Plugins/MinMax BatchNorm:Plugins/BatchNorm BatchRenorm:Plugins/BatchRenorm)
if [[ -n "${WITH_PIPELINE:-}" ]]; then
    logging=$(cd "$(dirname "$0")/.." && pwd)/.build/checkouts/swift-log/Sources/Logging
    modules+=("Logging:$logging" NpyFormat:Sources/NpyFormat Pipeline:Sources/Pipeline WireFormat:Sources/WireFormat)
fi
for entry in "${modules[@]}"; do
    module=${entry%%:*}; dir=${entry#*:}
    mkdir -p "$out/$module.build"
    if [[ "$dir" == /* ]]; then # a dependency: its own sources and settings
        sources=$(find "$dir" -name '*.swift'); moduleFlags=(-O -wmo -parse-as-library -package-name "$module" -I "$out/Modules")
    else
        sources=$(ls "$src/$dir"/*.swift); moduleFlags=("${flags[@]}")
    fi
    # shellcheck disable=SC2086 # the file names have no spaces
    swiftc "${moduleFlags[@]}" -module-name "$module" -emit-module -emit-module-path "$out/Modules/$module.swiftmodule" \
        -c $sources -o "$out/$module.build/$module.o" 2>&1 | grep -v warning || true
    echo "$out/$module.build/$module.o" >> "$out/normd.product/Objects.LinkFileList"
done
