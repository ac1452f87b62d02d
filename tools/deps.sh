#!/bin/sh
# tools/deps.sh [group...] — installs the Debian 12 packages riskd needs that
# are missing. Groups: build (default), web (npm, for the console's chart
# library), test, bench, container. Quiet and quick when
# everything is there; needs root (or sudo) only when something is missing.
set -eu

build="make gcc libc6-dev pkg-config git ca-certificates liblua5.4-dev lua5.4 lua-cjson
       libevent-dev libmongoc-dev libbson-dev libjwt-dev libsqlite3-dev libargon2-dev
       libmaxminddb-dev libjansson-dev libssl-dev libwslay-dev
       libgmime-3.0-dev libpsl-dev libidn2-dev libxml2-dev publicsuffix libarchive-dev"
web="nodejs npm"
test="lua-busted libcmocka-dev openssl python3 python3-yaml python3-jsonschema curl gcovr python3-mockupdb libmaxmind-db-writer-perl clang libclang-rt-14-dev systemd chromium nodejs npm"
bench="wrk python3 python3-sklearn python3-pandas spamassassin libmaxmind-db-writer-perl"
container="podman buildah debootstrap runc fuse-overlayfs uidmap slirp4netns docker-compose python3 tar"

want=""
[ $# -eq 0 ] && set -- build
for g in "$@"; do
    case "$g" in
        build) want="$want $build" ;;
        web) want="$want $web" ;;
        test) want="$want $build $test" ;;
        bench) want="$want $build $bench" ;;
        container) want="$want $container" ;;
        *) echo "deps.sh: unknown group '$g'" >&2; exit 2 ;;
    esac
done

missing=""
for p in $want; do
    # Node.js from another source (NodeSource's package bundles npm and
    # conflicts with Debian's npm): the commands are what the tests need.
    case "$p" in nodejs|npm) command -v "${p%js}" >/dev/null 2>&1 && continue ;; esac
    # dpkg-query prints "install ok installed" for an installed package.
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$st" in *" installed") ;; *) missing="$missing $p" ;; esac
done
[ -z "$missing" ] && exit 0

echo "deps: installing$missing" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
# A fresh container has no package lists yet; refresh them once.
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
