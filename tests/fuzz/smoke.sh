#!/bin/sh
# tests/fuzz/smoke.sh — the fuzz targets in `make test`: every input kept
# under tests/fuzz/corpus/<target>/ (seeds, and any crash ever found) must
# pass, then each target fuzzes for FUZZ_SMOKE_SECONDS (default 5) from
# there, in a scratch folder. TAP. `make fuzz` is the long run.
set -u
cd "$(dirname "$0")/../.."
secs=${FUZZ_SMOKE_SECONDS:-5}
n=0
fail=0
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for t in request model mime; do
    bin=build/fuzz/fuzz_$t
    n=$((n + 1))
    if "$bin" -runs=0 tests/fuzz/corpus/$t >"$scratch/log" 2>&1; then
        echo "ok $n - fuzz_$t: every kept input ($(ls tests/fuzz/corpus/$t | wc -l)) runs clean"
    else
        echo "not ok $n - fuzz_$t: a kept input fails"; sed 's/^/#   /' "$scratch/log" | tail -30; fail=1
    fi
    n=$((n + 1))
    mkdir -p "$scratch/$t"
    dict=""
    [ -f tests/fuzz/$t.dict ] && dict="-dict=tests/fuzz/$t.dict"
    if "$bin" -max_total_time="$secs" -max_len=8192 -timeout=10 $dict -artifact_prefix="$scratch/crash-" \
            "$scratch/$t" tests/fuzz/corpus/$t >"$scratch/log" 2>&1; then
        runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$scratch/log")
        echo "ok $n - fuzz_$t: $runs runs in ${secs} s, no crash"
    else
        echo "not ok $n - fuzz_$t found a crash (input kept in $scratch is lost: run make fuzz to keep it)"
        sed 's/^/#   /' "$scratch/log" | tail -30; fail=1
    fi
done
echo "1..$n"
exit $fail
