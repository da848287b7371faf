#!/usr/bin/env bash
# The fallbacks for hosts where overlayfs cannot be mounted in a user
# namespace, fuse-overlayfs and a copy of the root (KILN_SNAPSHOTTER=
# fuse-overlayfs / copy), build the same image, byte for byte, as overlayfs
# does: same manifest digest, with and without a subuid range.
# The Dockerfile adds, changes, chmods and deletes lower files and directories
# (whiteouts), across stages and with a COPY --from.
source "$(dirname "$0")/lib.sh"
kt_begin_build_test
CTX=$KT_WORK/ctx
mkdir -p "$CTX"
echo payload >"$CTX/data.txt"
cat >"$CTX/Dockerfile" <<DF
FROM oci:$BB:latest AS build
COPY data.txt /src/
RUN cat /src/data.txt > /src/out.txt && mkdir -p /src/deep/er && echo x > /src/deep/er/f
FROM oci:$BB:latest
COPY --from=build /src /src
RUN rm -f /bin/true /bin/false && rm -rf /src/deep && mkdir /src/deep && echo y > /src/deep/g
RUN chmod 0700 /src/out.txt && ln -s /src/out.txt /out && echo more >> /src/data.txt
RUN chmod 0750 /srv 2>/dev/null || mkdir -m 0750 /srv
USER 1000
DF
chmod -R a+rX "$CTX"
# fuse-overlayfs needs /dev/fuse, 0666 on a stock Debian; some CI hosts make
# it root-only. As root, give it the stock mode for the test and put it back.
if [ "$(id -u)" = 0 ] && [ -c /dev/fuse ]; then
  fuse_mode=$(stat -c %a /dev/fuse)
  chmod 0666 /dev/fuse
  kt_on_exit "chmod $fuse_mode /dev/fuse"
fi
for user in kiln-ranged kiln-single; do
  kt_fresh_root "$user" >/dev/null
  native=$(kt_as "$user" "$KT_KILN" build --lint=off -q "$CTX" 2>"$KT_WORK/native-$user.err") ||
    { cat "$KT_WORK/native-$user.err"; kt_fail "$user: overlay build"; continue; }
  kt_fresh_root "$user" >/dev/null
  copy=$(KT_EXTRA_ENV=KILN_SNAPSHOTTER=copy kt_as "$user" "$KT_KILN" build --lint=off -q "$CTX" \
    2>"$KT_WORK/copy-$user.err") || { cat "$KT_WORK/copy-$user.err"; kt_fail "$user: copy build"; continue; }
  kt_check "$user: a digest was printed" test "${native#sha256:}" != "$native"
  kt_eq "$user: copy snapshots give the same manifest digest as overlayfs" "$native" "$copy"
  kt_fresh_root "$user" >/dev/null
  fuse=$(KT_EXTRA_ENV=KILN_SNAPSHOTTER=fuse-overlayfs kt_as "$user" "$KT_KILN" build --lint=off -q "$CTX" \
    2>"$KT_WORK/fuse-$user.err") || { cat "$KT_WORK/fuse-$user.err"; kt_fail "$user: fuse-overlayfs build"; continue; }
  kt_eq "$user: fuse-overlayfs gives the same manifest digest as overlayfs" "$native" "$fuse"
  kt_eq "$user: no fuse-overlayfs daemon is left" "" "$(pgrep -u "$user" -x fuse-overlayfs || true)"
done
# A rebuild after a one-file change reruns the COPY steps that read it on
# the same parents: the files their last trees hold unchanged are
# hard-linked from there, not written again (builder/copy.h), and the image
# is the one a fresh store builds, byte for byte, on overlayfs and on
# fuse-overlayfs. The first COPY lands in a directory a lower layer has
# (/src, from WORKDIR), the second in new ones, with --chmod.
CTX2=$KT_WORK/ctx2
mkdir -p "$CTX2/tree/d1/d2" "$CTX2/tree/d3"
for f in top d1/x d1/d2/y d3/z; do echo "$f content" >"$CTX2/tree/$f"; done
cat >"$CTX2/Dockerfile" <<DF
FROM oci:$BB:latest AS src
WORKDIR /src
COPY tree/ ./
FROM oci:$BB:latest
COPY --chmod=0640 tree /app/tree
COPY --from=src /src /src
USER 1000
DF
chmod -R a+rX "$CTX2"
for snap in overlay fuse-overlayfs; do
  for user in kiln-ranged kiln-single; do
    echo "first $snap" >"$CTX2/tree/d1/x"
    kt_fresh_root "$user" >/dev/null
    root=${KT_ROOT_OF[$user]}
    KT_EXTRA_ENV=KILN_SNAPSHOTTER=$snap kt_as "$user" "$KT_KILN" build --lint=off -q "$CTX2" >/dev/null \
      2>"$KT_WORK/link1.err" || { cat "$KT_WORK/link1.err"; kt_fail "$user/$snap: first build"; continue; }
    echo "second $snap" >"$CTX2/tree/d1/x"
    again=$(KT_EXTRA_ENV=KILN_SNAPSHOTTER=$snap kt_as "$user" "$KT_KILN" build --lint=off -q "$CTX2" \
      2>"$KT_WORK/link2.err") || { cat "$KT_WORK/link2.err"; kt_fail "$user/$snap: rebuild"; continue; }
    # Each COPY's z is one inode in its old and its new layer tree.
    kt_eq "$user/$snap: both COPY steps linked their unchanged files" 4 \
      "$(find "$root/layers" -type f -name z -links 2 | wc -l)"
    kt_eq "$user/$snap: and wrote the changed one" 0 "$(find "$root/layers" -type f -name x -links +1 | wc -l)"
    kt_fresh_root "$user" >/dev/null
    fresh=$(KT_EXTRA_ENV=KILN_SNAPSHOTTER=$snap kt_as "$user" "$KT_KILN" build --lint=off -q "$CTX2" \
      2>"$KT_WORK/link3.err") || { cat "$KT_WORK/link3.err"; kt_fail "$user/$snap: fresh build"; continue; }
    kt_eq "$user/$snap: the rebuild gives the image a fresh store builds" "$fresh" "$again"
  done
done
# Asked for explicitly, the copy is not announced; a bad value is an error.
kt_eq "no fallback note when KILN_SNAPSHOTTER=copy is asked for" 0 "$(grep -c "overlayfs refused" "$KT_WORK/copy-kiln-ranged.err" || true)"
rc=0
KT_EXTRA_ENV=KILN_SNAPSHOTTER=vfs kt_as kiln-ranged "$KT_KILN" build --lint=off -q "$CTX" >/dev/null 2>"$KT_WORK/bad.err" || rc=$?
kt_check "KILN_SNAPSHOTTER=vfs fails" test "$rc" -ne 0
kt_check "and says which values work" grep -q "expected auto, overlay, fuse-overlayfs or copy" "$KT_WORK/bad.err"
# Asked for where /dev/fuse is root-only: a clear error, not another way.
if [ "$(id -u)" = 0 ] && [ -c /dev/fuse ]; then
  chmod 0600 /dev/fuse
  rc=0
  KT_EXTRA_ENV=KILN_SNAPSHOTTER=fuse-overlayfs kt_as kiln-single "$KT_KILN" build --no-cache --lint=off -q "$CTX" \
    >/dev/null 2>"$KT_WORK/nofuse.err" || rc=$?
  chmod 0666 /dev/fuse
  kt_check "KILN_SNAPSHOTTER=fuse-overlayfs without access to /dev/fuse fails" test "$rc" -ne 0
  kt_check "and names /dev/fuse" grep -q "fuse-overlayfs: /dev/fuse: Permission denied" "$KT_WORK/nofuse.err"
fi
kt_done
