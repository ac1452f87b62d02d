#!/bin/sh
# tests/run.sh [--only c|spec|e2e] TEST... — runs every suite and sums them.
# Each suite speaks TAP; a suite that exits non-zero without a failing test
# line (a crash, a sanitizer report) counts as one failure. The last line is
# "N passed, N failed", and the exit status is non-zero if anything failed.
# The servers run as the unit and the image run them: without the MongoDB
# driver's /dev/shm counters (docs/operations.md).
export MONGOC_DISABLE_SHM=1
only=""
if [ "${1:-}" = "--only" ]; then only=$2; shift 2; fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
pass=0
fail=0

suite() {  # suite NAME COMMAND...
    name=$1; shift
    echo "== $name"
    "$@" >"$out/log" 2>&1
    rc=$?
    cat "$out/log"
    p=$(grep -c '^ok ' "$out/log")
    f=$(grep -c '^not ok ' "$out/log")
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "not ok - $name exited with status $rc"
        f=1
    fi
    if [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then
        echo "not ok - $name ran no test"
        f=1
    fi
    pass=$((pass + p))
    fail=$((fail + f))
}

if [ -z "$only" ] || [ "$only" = c ]; then
    for t in "$@"; do
        suite "$t" env CMOCKA_MESSAGE_OUTPUT=TAP "build/$t.t"
    done
    for t in "$@"; do
        suite "$t (ASan+UBSan)" env CMOCKA_MESSAGE_OUTPUT=TAP \
            ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
            "build/asan/$t.t"
    done
    suite "layout" sh tests/check_layout.sh
    suite "docs (README size, files named)" sh tests/check_docs.sh
    suite "the benchmark programs build" sh tests/check_bench.sh
    suite "fuzz smoke (libFuzzer)" sh tests/fuzz/smoke.sh
fi
if [ -z "$only" ] || [ "$only" = spec ]; then
    # lua5.4 explicitly: /usr/bin/lua may point at another Lua version.
    suite "busted" lua5.4 /usr/bin/busted -o TAP
fi
if [ -z "$only" ] || [ "$only" = e2e ]; then
    suite "e2e" python3 tests/e2e/test_server.py
    suite "e2e login story" python3 tests/e2e/test_story.py
    suite "e2e login story (ASan+UBSan server)" env RISKD_BIN=build/asan/riskd ASAN_OPTIONS=detect_leaks=1 \
        python3 tests/e2e/test_story.py
    suite "e2e alerts and dashboard" python3 tests/e2e/test_dashboard.py
    suite "e2e iforest CLI" python3 tests/e2e/test_iforest_cli.py
    suite "e2e user CLI" python3 tests/e2e/test_user_cli.py
    suite "e2e auth API" python3 tests/e2e/test_auth.py
    suite "e2e install and the systemd unit" python3 tests/e2e/test_install.py
    suite "e2e web console (headless chromium)" python3 tests/e2e/test_console.py
    suite "e2e real-time streams" python3 tests/e2e/test_realtime.py
    suite "e2e real-time streams (ASan+UBSan server)" env RISKD_BIN=build/asan/riskd ASAN_OPTIONS=detect_leaks=1 \
        python3 tests/e2e/test_realtime.py
    suite "e2e threat intelligence" python3 tests/e2e/test_intel.py
    suite "e2e threat intelligence (ASan+UBSan server)" env RISKD_BIN=build/asan/riskd ASAN_OPTIONS=detect_leaks=1 \
        python3 tests/e2e/test_intel.py
    suite "e2e phishing analysis" python3 tests/e2e/test_phishing.py
    suite "e2e phishing analysis (ASan+UBSan server)" env RISKD_BIN=build/asan/riskd ASAN_OPTIONS=detect_leaks=1 \
        python3 tests/e2e/test_phishing.py
    suite "e2e hostile input" python3 tests/e2e/test_hostile.py
    suite "e2e the rule workflow (saves, broken files, start-up)" python3 tests/e2e/test_rules_workflow.py
    suite "e2e calibrated levels (budget, restart)" python3 tests/e2e/test_calibration.py
    suite "e2e calibrated levels (ASan+UBSan server)" env RISKD_BIN=build/asan/riskd ASAN_OPTIONS=detect_leaks=1 \
        python3 tests/e2e/test_calibration.py
    suite "e2e the Flask system's clients (--compat flask)" python3 tests/e2e/test_compat.py
    suite "e2e alert delivery (webhooks, syslog, outbox, dead letters)" python3 tests/e2e/test_delivery.py
    suite "e2e alert delivery (ASan+UBSan server)" env RISKD_BIN=build/asan/riskd ASAN_OPTIONS=detect_leaks=1 \
        python3 tests/e2e/test_delivery.py
    suite "e2e services' API keys (CLI, admin API, revocation)" python3 tests/e2e/test_keys.py
    suite "e2e services' API keys (ASan+UBSan server)" env RISKD_BIN=build/asan/riskd ASAN_OPTIONS=detect_leaks=1 \
        python3 tests/e2e/test_keys.py
    suite "e2e learning from verified attempts (outcomes, grace period)" python3 tests/e2e/test_outcomes.py
    suite "e2e learning from verified attempts (ASan+UBSan server)" env RISKD_BIN=build/asan/riskd ASAN_OPTIONS=detect_leaks=1 \
        python3 tests/e2e/test_outcomes.py
    # Debian's python3, which has python3-jsonschema and python3-yaml.
    suite "e2e API description (redocly lint, live answers against the schemas)" /usr/bin/python3 tests/e2e/test_openapi.py
    suite "e2e batch commands (generate, train)" python3 tests/e2e/test_batch.py
    # Debian's python3, which has python3-mockupdb.
    suite "MongoDB store on the wire (MockupDB)" /usr/bin/python3 tests/e2e/test_store_mongo_wire.py
    suite "e2e alerts of other instances by change stream (MockupDB)" /usr/bin/python3 tests/e2e/test_mongo_changestream.py
    suite "e2e change stream (ASan+UBSan server)" env RISKD_BIN=build/asan/riskd ASAN_OPTIONS=detect_leaks=1 \
        /usr/bin/python3 tests/e2e/test_mongo_changestream.py
    suite "e2e iforest CLI (ASan+UBSan)" env RISKD_BIN=build/asan/riskd ASAN_OPTIONS=detect_leaks=1 \
        python3 tests/e2e/test_iforest_cli.py
    # The same suite against the server built with ASan+UBSan: a leak at exit
    # turns the graceful-shutdown test's exit status non-zero, and a report
    # on stderr breaks the JSON log the tests parse.
    suite "e2e (ASan+UBSan server)" env RISKD_BIN=build/asan/riskd \
        ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        python3 tests/e2e/test_server.py
fi

echo
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
