#!/bin/sh
# tests/check_layout.sh — the conventions of docs/style.md that a grep can check. TAP.
n=0
status=0
t() {  # t NAME CONDITION-COMMAND...
    n=$((n + 1)); name=$1; shift
    if "$@"; then echo "ok $n - $name"; else echo "not ok $n - $name"; status=1; fi
}
# the pure cores: the Makefile's list, which also compiles them without Lua's include path
cores=$(sed -n 's/^CORE *:= *//p' Makefile)
t "the Makefile lists the pure cores" test -n "$cores"
for c in $cores; do
    t "engine/$c.[ch] is a pure core (no lua.h)" sh -c "! grep -ls 'lua\.h\|lauxlib\.h\|lualib\.h' engine/$c.c engine/$c.h"
done
for b in engine/l_*.c; do
    o=build/$(basename "$b" .c).o
    t "$b exports only luaopen_riskd*" sh -c \
        "test -f $o && ! nm -g --defined-only $o | awk '{print \$3}' | grep -v '^luaopen_riskd'"
done
t "every C file starts with a comment naming it" sh -c \
    'for f in engine/*.c engine/*.h; do head -1 "$f" | grep -q "^/\* $(basename "$f")" || { echo "# $f"; exit 1; }; done'
echo "1..$n"
exit $status
