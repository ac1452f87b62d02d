#!/bin/sh
# tests/coverage.sh — `make coverage`: line coverage of engine/ (gcovr) from
# the C unit tests and the e2e suite run against a --coverage build, and of
# scripts/ and rules/ from the busted specs (tests/luacov.lua).
set -eu
cd "$(dirname "$0")/.."
COV=build/cov
rm -rf "$COV"
mkdir -p "$COV"
make --no-print-directory all >/dev/null
make --no-print-directory BUILD="$COV" CFLAGS="-O0 -g --coverage -DRK_LUA_COVERAGE" \
    $(for t in $(sed -n 's/^TESTS *:= *//p' Makefile); do echo "$COV/$t.t"; done) "$COV/riskd" "$COV/riskd.so" >/dev/null
for t in "$COV"/test_*.t; do "$t" >/dev/null 2>&1 || echo "coverage: $t failed" >&2; done
# Lua lines run by the coverage build of riskd (the e2e suites) count too.
hits="$(pwd)/$COV/lua.hits"
rm -f "$hits"
export RISKD_LUA_COVERAGE="$hits"
RISKD_BIN="$COV/riskd" python3 tests/e2e/test_server.py >/dev/null 2>&1 || echo "coverage: e2e failed" >&2
RISKD_BIN="$COV/riskd" python3 tests/e2e/test_story.py >/dev/null 2>&1 || echo "coverage: story e2e failed" >&2
RISKD_BIN="$COV/riskd" python3 tests/e2e/test_dashboard.py >/dev/null 2>&1 || echo "coverage: dashboard e2e failed" >&2
RISKD_BIN="$COV/riskd" python3 tests/e2e/test_user_cli.py >/dev/null 2>&1 || echo "coverage: user CLI e2e failed" >&2
RISKD_BIN="$COV/riskd" python3 tests/e2e/test_iforest_cli.py >/dev/null 2>&1 || echo "coverage: CLI e2e failed" >&2
RISKD_BIN="$COV/riskd" python3 tests/e2e/test_auth.py >/dev/null 2>&1 || echo "coverage: auth e2e failed" >&2
RISKD_BIN="$COV/riskd" python3 tests/e2e/test_hostile.py >/dev/null 2>&1 || echo "coverage: hostile-input e2e failed" >&2
RISKD_BIN="$COV/riskd" python3 tests/e2e/test_batch.py >/dev/null 2>&1 || echo "coverage: batch e2e failed" >&2
RISKD_BIN="$COV/riskd" python3 tests/e2e/test_intel.py >/dev/null 2>&1 || echo "coverage: intel e2e failed" >&2
RISKD_BIN="$COV/riskd" python3 tests/e2e/test_realtime.py >/dev/null 2>&1 || echo "coverage: real-time e2e failed" >&2
RISKD_BIN="$COV/riskd" python3 tests/e2e/test_console.py >/dev/null 2>&1 || echo "coverage: console e2e failed" >&2
RISKD_BIN="$COV/riskd" python3 tests/e2e/test_phishing.py >/dev/null 2>&1 || echo "coverage: phishing e2e failed" >&2
RISKD_BIN="$COV/riskd" python3 tests/e2e/test_rules_workflow.py >/dev/null 2>&1 || echo "coverage: rule workflow e2e failed" >&2
RISKD_BIN="$COV/riskd" python3 tests/e2e/test_calibration.py >/dev/null 2>&1 || echo "coverage: calibration e2e failed" >&2
RISKD_BIN="$COV/riskd" python3 tests/e2e/test_outcomes.py >/dev/null 2>&1 || echo "coverage: outcomes e2e failed" >&2
RISKD_BIN="$COV/riskd" python3 tests/e2e/test_keys.py >/dev/null 2>&1 || echo "coverage: API keys e2e failed" >&2
RISKD_BIN="$COV/riskd" python3 tests/e2e/test_delivery.py >/dev/null 2>&1 || echo "coverage: delivery e2e failed" >&2
RISKD_BIN="$COV/riskd" python3 tests/e2e/test_compat.py >/dev/null 2>&1 || echo "coverage: compat e2e failed" >&2
RISKD_BIN="$COV/riskd" /usr/bin/python3 tests/e2e/test_openapi.py >/dev/null 2>&1 || echo "coverage: API description e2e failed" >&2
RISKD_SO_DIR="$COV" /usr/bin/python3 tests/e2e/test_store_mongo_wire.py >/dev/null 2>&1 || echo "coverage: MongoDB wire tests failed" >&2
RISKD_BIN="$COV/riskd" /usr/bin/python3 tests/e2e/test_mongo_changestream.py >/dev/null 2>&1 || echo "coverage: change stream e2e failed" >&2
RISKD_SO_DIR="$COV" lua5.4 /usr/bin/busted >/dev/null 2>&1 || echo "coverage: busted failed" >&2
# Reports: HTML (per file, per line) and text under build/coverage/; the
# run fails when either figure is under 80 %.
REPORT=build/coverage
rm -rf "$REPORT"
mkdir -p "$REPORT"
echo "== C (engine/)"
gcovr -r . --filter 'engine/' --object-directory "$COV" --html-details "$REPORT/index.html" \
    --txt "$REPORT/c.txt" "$COV" 2>/dev/null
tail -n +5 "$REPORT/c.txt"
echo "== Lua (scripts/, rules/)"
lua5.4 tests/luacov.lua "$hits" scripts rules | tee "$REPORT/lua.txt"
c=$(awk '$1 == "TOTAL" { sub("%", "", $4); print $4 }' "$REPORT/c.txt")
lua=$(awk '/^TOTAL/ { sub("%", "", $NF); print $NF }' "$REPORT/lua.txt")
echo
echo "coverage: engine/ ${c}% of lines, scripts/ and rules/ ${lua}% (minimum 80%); report in $REPORT/index.html"
[ "$(readlink riskd)" = build/riskd ] || { echo "coverage: ./riskd does not point at the optimised build" >&2; exit 1; }
awk -v c="$c" -v l="$lua" 'BEGIN { exit !(c + 0 >= 80 && l + 0 >= 80) }' || { echo "coverage: under 80%" >&2; exit 1; }
