#!/bin/sh
# tools/container-test.sh — `make container-test`: builds the image from the
# real Dockerfile with podman and proves it, on a Debian 12 host with no
# Docker daemon and no access to image registries:
#   - the base image debian:bookworm-slim is made here, by debootstrap
#     (minbase) from the Debian mirror apt already uses, and imported into a
#     podman store under build/container/ (kept between runs);
#   - podman gets its own containers.conf (runc, cgroupfs, host network,
#     limits no higher than the host's: crun refuses hosts with mixed cgroup
#     v1/v2 and a container may not raise a limit above the host's),
#     storage.conf (overlay under build/) and registries.conf (no registry);
#   - tests/container/check.py then runs the image and checks it from the host.
# Prints TAP and one last line "N passed, N failed".
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
CT="$ROOT/build/container"
mkdir -p "$CT"
sh tools/deps.sh container

cat >"$CT/containers.conf" <<EOF
[containers]
netns = "host"
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
log_driver = "k8s-file"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
cat >"$CT/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$CT/storage"
runroot = "$CT/run"
EOF
cat >"$CT/registries.conf" <<EOF
unqualified-search-registries = []
short-name-mode = "permissive"
EOF
export CONTAINERS_CONF="$CT/containers.conf" CONTAINERS_STORAGE_CONF="$CT/storage.conf"
export CONTAINERS_REGISTRIES_CONF="$CT/registries.conf"

# The mirror apt uses: deb822 .sources files (Debian 12's default) or
# one-line .list files.
mirror() {
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] && sed -n 's/^URIs: *\([^ ]*\).*/\1/p' "$f" | grep -v -- '-security' | head -n 1 && return
    done
    cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
        awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) { print $i; exit } }' | grep . && return
    echo http://deb.debian.org/debian
}

if ! podman image exists localhost/debian:bookworm-slim; then
    if [ ! -f "$CT/rootfs.tar" ]; then
        m=$(mirror)
        echo "# debootstrap bookworm (minbase) from $m" >&2
        rm -rf "$CT/rootfs"
        debootstrap --variant=minbase bookworm "$CT/rootfs" "$m" >"$CT/debootstrap.log" 2>&1 ||
            { tail -20 "$CT/debootstrap.log" >&2; exit 1; }
        # what the official slim image leaves out: documentation, manuals, translations
        rm -rf "$CT"/rootfs/var/cache/apt/archives/*.deb "$CT"/rootfs/var/lib/apt/lists/* "$CT"/rootfs/usr/share/doc/* \
            "$CT"/rootfs/usr/share/man/* "$CT"/rootfs/usr/share/info/* "$CT"/rootfs/usr/share/locale/*
        tar -C "$CT/rootfs" -cf "$CT/rootfs.tar.tmp" . && mv "$CT/rootfs.tar.tmp" "$CT/rootfs.tar"
        rm -rf "$CT/rootfs"
    fi
    podman import --quiet "$CT/rootfs.tar" localhost/debian:bookworm-slim >/dev/null
fi

exec python3 tests/container/check.py
