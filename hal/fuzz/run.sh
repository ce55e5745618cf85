#!/usr/bin/env bash
# Builds the reference CDM's libFuzzer harnesses and runs each for SECONDS (default 20).
# Exits non-zero if any harness finds a crash, leak, timeout or sanitizer report.
#   hal/fuzz/run.sh 20
set -euo pipefail
SECONDS_EACH=${1:-20}
here=$(cd "$(dirname "$0")" && pwd)
refcdm="$here/../refcdm"
make -s -C "$refcdm" fuzz
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export DRMKIT_REFCDM_STORE_DIR="$work/store" # persistence of the harnesses stays in the sandbox
status=0
for bin in "$refcdm"/build/fuzz_*; do
    name=$(basename "$bin")
    corpus="$work/$name"
    mkdir -p "$corpus"
    if [[ -d "$here/corpus/$name" ]]; then
        cp "$here/corpus/$name"/* "$corpus"/ 2>/dev/null || true
    fi
    dict=()
    [[ -f "$here/$name.dict" ]] && dict=(-dict="$here/$name.dict")
    echo "== $name (${SECONDS_EACH}s)"
    if ! (cd "$work" && "$bin" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
            "${dict[@]}" -print_final_stats=0 "$corpus" >"$work/$name.log" 2>&1); then
        echo "!! $name failed:"
        tail -n 60 "$work/$name.log"
        mkdir -p "$here/../refcdm/build/fuzz-artifacts"
        cp "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-* \
            "$here/../refcdm/build/fuzz-artifacts/" 2>/dev/null || true
        status=1
    else
        grep -E "^#[0-9]+.*(DONE|pulse)" "$work/$name.log" | tail -n 1 || true
    fi
done
exit $status
