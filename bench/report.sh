#!/bin/sh
# bench/report.sh OUTPUT — docs/benchmarks.md from what `make bench` printed:
# one table, a row per figure, with the date and the machine. Every line of
# the output that holds a number is a figure: the text before its first
# ": " names it, the rest is the value; the HTTP table's rows keep their
# columns. Run by `make bench`; the file is committed.
set -eu
out=$1
date=$(date -u +%Y-%m-%d)
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
machine="$(nproc) cores, ${cpu:-$(uname -m)}, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)"
echo "# Benchmarks"
echo
echo "The latest figures of \`make bench\`, which rewrites this file; each figure's context is in the benchmark that prints it (\`bench/\`)."
echo
echo "| figure | value | date | machine |"
echo "|---|---|---|---|"
awk -v date="$date" -v machine="$machine" '
    function cell(s) { gsub(/\|/, "\\|", s); gsub(/^[ \t]+|[ \t]+$/, "", s); return s }
    /^target[ \t]+req\/s/ { table = 1; next }
    table && length($0) > 23 {   # run.sh: the target in 22 columns, then req/s, p50, p99, ratio, verdict
        n = split(substr($0, 24), f, " ")
        if (n >= 4 && f[1] ~ /^[0-9.]+$/) {
            printf "| HTTP %s | %s req/s, p50 %s ms, p99 %s ms, %s of the bare server |\n", cell(substr($0, 1, 22)), f[1], f[2], f[3], f[4]
            next
        }
    }
    { table = 0 }
    /[0-9]/ && !/^(round|==|#)/ {
        i = index($0, ": ")
        if (i > 0) { name = substr($0, 1, i - 1); value = substr($0, i + 2) } else { name = $0; value = "" }
        printf "| %s | %s |\n", cell(name), cell(value)
    }
' "$out" | sed "s/|\$/| $date | $machine |/"
