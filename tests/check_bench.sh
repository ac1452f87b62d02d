#!/bin/sh
# tests/check_bench.sh — the benchmark programs of `make bench` still build
# (make test does not run them; a rename must not break them unseen). TAP.
cd "$(dirname "$0")/.." || exit 1
n=0
status=0
for b in bare store_bench intel_bench ws_latency; do
    n=$((n + 1))
    if log=$(make --no-print-directory -s "build/$b" 2>&1); then
        echo "ok $n - bench/$b.c builds"
    else
        echo "not ok $n - bench/$b.c builds"
        echo "$log" | sed 's/^/# /' | tail -20
        status=1
    fi
done
echo "1..$n"
exit $status
