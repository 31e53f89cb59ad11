#!/usr/bin/env bash
# Formats the Swift sources with the toolchain's swift-format and the repository's .swift-format
# (4 spaces, 150 columns, existing line breaks respected, imports ordered; the style-only lint
# rules are off — the formatter decides layout, not naming).
#   Scripts/format.sh           rewrite the files in place
#   Scripts/format.sh --check   change nothing; list every file that is not formatted, exit 1 if any
# Scripts/test.sh runs the check first, so CI refuses an unformatted tree.
set -euo pipefail
cd "$(dirname "$0")/.."
paths=(Package.swift Sources Plugins Tests Benchmarks/Micro Fuzz)
if [[ "${1:-}" == "--check" ]]; then
    if ! swift format lint --strict --recursive --parallel "${paths[@]}"; then
        echo "error: the files above are not formatted; run Scripts/format.sh and commit the result" >&2
        exit 1
    fi
else
    swift format format --in-place --recursive --parallel "${paths[@]}"
fi
