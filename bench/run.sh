#!/bin/sh
# bench/run.sh — `make bench`: riskd against the bare evhttp+Lua reference
# (bench/bare.c), measured in the same run with wrk, alternating, so that the
# ratio holds on a noisy shared machine even when absolute rates do not.
set -eu
cd "$(dirname "$0")/.."
DURATION=${BENCH_DURATION:-5}
ROUNDS=${BENCH_ROUNDS:-3}
BARE_PORT=${BENCH_BARE_PORT:-5101}
tmp=$(mktemp -d)
cleanup() { kill "$bare_pid" "$riskd_pid" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT

# The analyze route needs a service token: a throwaway account and secret.
export JWT_SECRET="bench-$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')"
echo "bench service passphrase" | ./build/riskd user add bench --role service --db "sqlite:$tmp/bench.db" >/dev/null
echo "bench admin passphrase" | ./build/riskd user add bench-admin --role admin --db "sqlite:$tmp/bench.db" >/dev/null
ulimit -n 8192 2>/dev/null || true   # 1,000 WebSocket subscribers below

# A breached-password index of BENCH_RANGE_HASHES random hashes for the range queries.
mkdir -p "$tmp/intel"
/usr/bin/python3 -c '
import os, sys
with open(sys.argv[1], "w") as f:
    for _ in range(int(sys.argv[2])):
        f.write("%s:%d\n" % (os.urandom(20).hex().upper(), 1))' "$tmp/hashes.txt" "${BENCH_RANGE_HASHES:-1000000}"
./build/riskd intel passwords import "$tmp/hashes.txt" --intel "$tmp/intel" >/dev/null
cp intel/bot_agents.patterns "$tmp/intel/"

./build/bare "$BARE_PORT" 2>"$tmp/bare.log" &
bare_pid=$!
# The shipped rules with fixed levels: the month of synthetic attempts posted
# below would calibrate high up to its ceiling, and the delivery benchmark's
# analyses (a breached password from a scripting tool) are meant to reach it.
cp -R rules "$tmp/rules"
sed -i 's/level_budget = {[^}]*}/level_budget = {}/' "$tmp/rules/config.lua"
grep -q 'level_budget = {}' "$tmp/rules/config.lua" || { echo "bench: cannot switch calibration off" >&2; exit 1; }
./build/riskd serve --port 0 --db "sqlite:$tmp/bench.db" --intel "$tmp/intel" --rules "$tmp/rules" >"$tmp/riskd.log" 2>&1 &
riskd_pid=$!
for _ in $(seq 50); do
    grep -q '"listening"' "$tmp/riskd.log" 2>/dev/null && break
    sleep 0.1
done
riskd_port=$(sed -n 's/.*"msg":"listening".*"port":\([0-9]*\).*/\1/p' "$tmp/riskd.log")
[ -n "$riskd_port" ] || { cat "$tmp/riskd.log"; exit 1; }
RISKD_TOKEN=$(/usr/bin/python3 -c '
import http.client, json, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]))
c.request("POST", "/api/auth/login", json.dumps({"username": "bench", "password": "bench service passphrase"}),
          {"Content-Type": "application/json"})
print(json.loads(c.getresponse().read())["token"])' "$riskd_port")
export RISKD_TOKEN
ADMIN_TOKEN=$(/usr/bin/python3 -c '
import http.client, json, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]))
c.request("POST", "/api/auth/login", json.dumps({"username": "bench-admin", "password": "bench admin passphrase"}),
          {"Content-Type": "application/json"})
print(json.loads(c.getresponse().read())["token"])' "$riskd_port")

# run NAME URL [SCRIPT]: one wrk run (CONNS connections, 64 unless set);
# appends "rps p50_ms p99_ms" to $tmp/NAME.
run() {
    conns=${CONNS:-64}
    wrk -t"$([ "$conns" -lt 2 ] && echo 1 || echo 2)" -c"$conns" -d"${DURATION}s" --latency ${3:+-s "$3"} "$2" >"$tmp/wrk.out" 2>&1
    awk -v name="$1" '
        function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
        /Requests\/sec/ { rps = $2 }
        $1 == "50%" { p50 = ms($2) }
        $1 == "99%" { p99 = ms($2) }
        /Non-2xx/ { bad = $NF }
        END { if (bad) { print name ": " bad " non-2xx responses" > "/dev/stderr"; exit 1 }
              printf "%s %.3f %.3f\n", rps, p50, p99 }' "$tmp/wrk.out" >>"$tmp/$1"
}

run bare "http://127.0.0.1:$BARE_PORT/" >/dev/null   # warm-up
for r in $(seq "$ROUNDS"); do
    run bare "http://127.0.0.1:$BARE_PORT/"
    run healthz "http://127.0.0.1:$riskd_port/healthz"
    run bare "http://127.0.0.1:$BARE_PORT/"
    run ping "http://127.0.0.1:$riskd_port/api/ping"
    run bare "http://127.0.0.1:$BARE_PORT/"
    run analyze "http://127.0.0.1:$riskd_port/api/login/analyze" bench/analyze.lua
    run bare "http://127.0.0.1:$BARE_PORT/"
    run range "http://127.0.0.1:$riskd_port/api/passwords/range/00000" bench/range.lua
    echo "round $r/$ROUNDS done" >&2
done

# median of column c of a file
median() { sort -n -k"$2" "$1" | awk -v c="$2" '{ v[NR] = $c } END { print v[int((NR + 1) / 2)] }'; }
bare_rps=$(median "$tmp/bare" 1); bare_p99=$(median "$tmp/bare" 3)
echo
printf "%-22s %12s %9s %9s %8s %s\n" target "req/s" "p50 ms" "p99 ms" ratio verdict
for t in bare healthz ping analyze range; do
    rps=$(median "$tmp/$t" 1); p50=$(median "$tmp/$t" 2); p99=$(median "$tmp/$t" 3)
    awk -v t="$t" -v rps="$rps" -v p50="$p50" -v p99="$p99" -v brps="$bare_rps" -v bp99="$bare_p99" 'BEGIN {
        ratio = rps / brps
        lim = (2 > 2 * bp99) ? 2 : 2 * bp99
        want = 0.75
        if (t == "analyze") { want = 0.15; lim = 10 }
        if (t == "range") { want = 0; lim = 1e9 }
        verdict = (t == "bare") ? "reference" : (t == "range") ? "(no target; ~1 hash per prefix at 1M hashes)" : ((ratio >= want && p99 <= lim) ? "meets target (>= " want ", p99 <= " lim " ms)" : "BELOW target (>= " want ", p99 <= " lim " ms)")
        name = (t == "bare") ? "bare evhttp+Lua" : (t == "healthz" ? "riskd GET /healthz" : (t == "ping" ? "riskd GET /api/ping" : (t == "analyze" ? "riskd POST analyze" : "riskd GET pw range")))
        printf "%-22s %12.0f %9.3f %9.3f %8.2f %s\n", name, rps, p50, p99, ratio, verdict }'
done

# Latency of analyze at one and at 32 connections (the rounds above use 64),
# against targets of p99 <= 2 ms and <= 10 ms.
for c in 1 32; do
    for r in $(seq "$ROUNDS"); do CONNS=$c run "analyze_c$c" "http://127.0.0.1:$riskd_port/api/login/analyze" bench/analyze.lua; done
    awk -v c="$c" -v rps="$(median "$tmp/analyze_c$c" 1)" -v p50="$(median "$tmp/analyze_c$c" 2)" \
        -v p99="$(median "$tmp/analyze_c$c" 3)" 'BEGIN { lim = (c == 1) ? 2 : 10
        printf "riskd POST analyze at %d connection%s: %.0f req/s, p50 %.2f ms, p99 %.2f ms (target p99 <= %d ms: %s)\n",
            c, (c == 1 ? "" : "s"), rps, p50, p99, lim, (p99 <= lim ? "meets target" : "BELOW target") }'
done

# Real-time: alert delivery to 1,000 WebSocket subscribers at 100 alerts/s,
# and the analyze rate while those 1,000 are connected (beside the one above).
echo
./build/ws_latency "$riskd_port" "$ADMIN_TOKEN" "$RISKD_TOKEN" "${BENCH_WS_SECONDS:-10}"
./build/ws_latency "$riskd_port" "$ADMIN_TOKEN" "$RISKD_TOKEN" --hold $((DURATION + 8)) &
hold_pid=$!
sleep 5
run analyze_ws "http://127.0.0.1:$riskd_port/api/login/analyze" bench/analyze.lua
wait "$hold_pid" || true
printf "riskd POST analyze with 1,000 WebSocket subscribers: %.0f req/s (without: %.0f)\n" \
    "$(median "$tmp/analyze_ws" 1)" "$(median "$tmp/analyze" 1)"

# With history: the same analyses after BENCH_HISTORY_SECONDS more of them
# (the store grows by ~4,000 events a second), so that a cost growing with
# the store's history shows here and not in the short rounds above.
wrk -t2 -c64 -d"${BENCH_HISTORY_SECONDS:-60}s" -s bench/analyze.lua "http://127.0.0.1:$riskd_port/api/login/analyze" >/dev/null 2>&1
run analyze_history "http://127.0.0.1:$riskd_port/api/login/analyze" bench/analyze.lua
printf "riskd POST analyze after %s s more of them (store %.0f MB): %.0f req/s, p99 %.1f ms (the rounds above: %.0f req/s)\n" \
    "${BENCH_HISTORY_SECONDS:-60}" "$(du -cm "$tmp"/bench.db* | tail -1 | cut -f1)" \
    "$(median "$tmp/analyze_history" 1)" "$(median "$tmp/analyze_history" 3)" "$(median "$tmp/analyze" 1)"

# Phishing (#10): the default verdict on held-out generated mail (another
# seed and other brands) and on hand-written mail; training on one half of
# a corpus and measuring on the other (target ROC AUC >= 0.97); the full
# analysis without HTTP on two processes (target 2,000 messages/s of 20 KB);
# and the HTTP endpoint's rate.
echo
./build/riskd run bench/phishing_eval.lua 1000 tests/fixture/mail
./build/riskd run bench/phishing_eval.lua 10 tests/fixture/mail-heldout | tail -1
./build/riskd generate --phishing --count 2000 --seed 123 --other-brands --output "$tmp/corpus" >/dev/null 2>&1
echo "riskd phishing train on half of a generated corpus (seed 123, other brands), measured on the other half:"
./build/riskd phishing train --phishing "$tmp/corpus/phishing.mbox" --legitimate "$tmp/corpus/legitimate.mbox" \
    --holdout 0.5 --model "$tmp/corpus.model" | grep "held-out"
./build/riskd run bench/phishing.lua 3000 1 >"$tmp/ph1" &
./build/riskd run bench/phishing.lua 3000 2 >"$tmp/ph2"
wait $!
cat "$tmp/ph1" "$tmp/ph2"
awk '/messages\/s/ { for (i = 1; i <= NF; i++) if ($i == "messages/s") s += $(i - 1) }
     END { printf "phishing analysis on two processes: %.0f messages/s (target 2,000): %s\n", s, (s >= 2000 ? "meets target" : "BELOW target") }' \
    "$tmp/ph1" "$tmp/ph2"
mkdir -p "$tmp/mail"
./build/riskd run bench/phishing.lua 20 1 --write "$tmp/mail"
BENCH_MAIL_DIR="$tmp/mail" run phish_http "http://127.0.0.1:$riskd_port/api/phishing/analyze" bench/phish_http.lua
printf "riskd POST /api/phishing/analyze (20 KB messages, 64 connections): %.0f req/s, p50 %.1f ms, p99 %.1f ms\n" \
    "$(median "$tmp/phish_http" 1)" "$(median "$tmp/phish_http" 2)" "$(median "$tmp/phish_http" 3)"

# Phishing on real mail (#25): the held-out fifth of the corpus, riskd
# against SpamAssassin per source and era, and each indicator's rates.
echo
/usr/bin/python3 bench/phishing_corpus.py "${CORPUS:-../shared/mail-corpus}"

# The pipeline alone, no HTTP, on a fresh database.
echo
RISKD_DB="sqlite:$tmp/pipeline.db" ./build/riskd run bench/pipeline.lua "${BENCH_PIPELINE:-20000}"

# Detection quality (riskd eval): tuning seeds and held-out seeds apart, the
# worst held-out figure last (bench/detection.py); then the classic
# generator, riskd beside the familiarity reference.
echo
/usr/bin/python3 bench/detection.py
for seed in ${BENCH_EVAL_SEEDS:-1 2 3}; do
    ./build/riskd generate --users "${BENCH_EVAL_USERS:-1000}" --days 30 --seed "$seed" --attack-rate 0.03 \
        --output "$tmp/eval-$seed.jsonl" >/dev/null 2>&1
    echo
    echo "riskd eval, generated attempts (classic), seed $seed:"
    ./build/riskd eval --input "$tmp/eval-$seed.jsonl" || true
done

# riskd score: about a million generated attempts through the full pipeline (target: 60,000/s
# on two cores), all on one thread, then with parsing and encoding on helper threads (the default);
# each with the time per stage (sampled, the clock's own cost taken off), the sequential share
# and an Amdahl projection. Its report goes to stderr: kept in the output here.
n=${BENCH_SCORE_USERS:-20000}
./build/riskd generate --users "$n" --days 30 --seed 9 --output "$tmp/score.jsonl"
echo
echo "riskd score over $(wc -l < "$tmp/score.jsonl") generated attempts (target 60,000 attempts/s):"
echo "one thread (--threads 0):"
./build/riskd score --input "$tmp/score.jsonl" --output /dev/null --timing --threads 0 2>&1 | sed 's/^riskd score: /riskd score, one thread: /'
echo "parsing and encoding on helper threads (the default):"
./build/riskd score --input "$tmp/score.jsonl" --output /dev/null --timing 2>&1 | sed 's/^riskd score: /riskd score, helper threads: /'
