#!/usr/bin/env bash
# Makes a minimal root filesystem from Debian's busybox-static: /bin/busybox,
# one symlink per applet, /etc/passwd and /etc/group with root, a build user
# (1000) and nobody, and /tmp. Used as the local base image for examples,
# tests and benchmarks (nothing is pulled from the internet).
set -euo pipefail
dest=${1:?usage: make-busybox-rootfs.sh DIR}
# BUSYBOX: another architecture's busybox-static (tests of multi-platform
# builds); the applet list comes from the host's, which is the same version.
bb=${BUSYBOX:-/bin/busybox}
for b in /bin/busybox "$bb"; do
  [ -x "$b" ] || { echo "make-busybox-rootfs: $b missing (apt-get install busybox-static)" >&2; exit 1; }
done
mkdir -p "$dest"/{bin,etc,tmp,root,home/app,var,usr/bin,usr/sbin,sbin}
cp "$bb" "$dest/bin/busybox"
chmod 0755 "$dest/bin/busybox"
for applet in $(/bin/busybox --list); do
  [ "$applet" = busybox ] && continue
  ln -sf busybox "$dest/bin/$applet"
done
cat >"$dest/etc/passwd" <<'P'
root:x:0:0:root:/root:/bin/sh
app:x:1000:1000:app:/home/app:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
P
cat >"$dest/etc/group" <<'G'
root:x:0:
app:x:1000:
nogroup:x:65534:
G
chmod 1777 "$dest/tmp"
chmod 0700 "$dest/root"
# Reproducible: fixed mtimes so the base image digest is the same everywhere.
find "$dest" -exec touch -h -d @0 {} +
