#!/bin/sh
# tools/secret.sh — makes sure `riskd serve` has a token secret: when neither
# the environment nor .env holds JWT_SECRET, appends a random 256-bit one to
# .env (git-ignored, readable by its owner only). Called by `make run`.
set -eu
[ -n "${JWT_SECRET:-}" ] && exit 0
if [ -f .env ] && grep -q '^[[:space:]]*\(export[[:space:]]\+\)\?JWT_SECRET=' .env; then exit 0; fi
umask 077
secret=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
printf 'JWT_SECRET=%s\n' "$secret" >> .env
chmod 600 .env
echo "tools/secret.sh: wrote a new JWT_SECRET to .env"
