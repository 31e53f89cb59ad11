#!/usr/bin/env bash
# Thread-CPU micro-benchmark of the stage chain, fused vs unfused (Benchmarks/ChainCPU/main.swift).
# Needs `swift build -c release --product normd` first; compiles against its NormCore, StageKit and
# stage objects in seconds, where Benchmarks/Micro needs a release build of its whole package.
set -euo pipefail
cd "$(dirname "$0")/.."
R=.build/release
mkdir -p .build/bench
swiftc -O -I "$R/Modules" Benchmarks/ChainCPU/main.swift \
    "$R"/NormCore.build/*.o "$R"/StageKit.build/*.o "$R"/MinMax.build/*.o "$R"/BatchNorm.build/*.o "$R"/BatchRenorm.build/*.o \
    -o .build/bench/chain-cpu
.build/bench/chain-cpu
