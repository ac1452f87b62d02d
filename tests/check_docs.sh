#!/bin/sh
# tests/check_docs.sh — the README is for a newcomer: at most 12 KB, and
# every file it or docs/ names exists. TAP.
cd "$(dirname "$0")/.." || exit 1
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $1"; }

size=$(wc -c < README.md)
if [ "$size" -le 12288 ]; then ok "README.md is $size bytes (at most 12 KB)"; else not_ok "README.md is $size bytes, over 12 KB"; fi

# Paths in backquotes that start with a folder of the repository (NAME.lua
# and the like are placeholders).
missing=""
for doc in README.md docs/*.md; do
    for p in $(grep -o '`[^` ]*`' "$doc" | tr -d '`' |
               grep -E '^(docs|engine|scripts|rules|tests|spec|bench|tools|web|intel|models|packaging)/' |
               grep -v '[*<>{}|]' | grep -v '[A-Z][A-Z][A-Z]*\.' | sed 's/[.,:;)]*$//' | sort -u); do
        case "$p" in models/*.model|models/ACTIVE|intel/passwords.*) continue ;; esac   # made at run time
        [ -e "$p" ] || missing="$missing $doc:$p"
    done
done
if [ -z "$missing" ]; then ok "every file README.md and docs/ name exists"; else not_ok "named but missing:$missing"; fi
echo "1..$n"
[ -z "$missing" ] && [ "$size" -le 12288 ]
