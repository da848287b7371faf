#!/usr/bin/env bash
# A multi-stage build that copies the same build-context files into two
# stages writes them once: the second COPY hard-links them from the tree the
# first one made (builder/copy.h, EarlierFiles' donor). What the image holds
# does not change: the second COPY's layer is byte for byte the one a build
# without the first stage makes. As kiln-ranged and kiln-single.
source "$(dirname "$0")/lib.sh"
kt_begin_build_test
CTX=$KT_WORK/ctx
mkdir -p "$CTX/src/sub"
for i in 1 2 3 4 5; do echo "file $i" >"$CTX/src/sub/f$i.txt"; done
echo top >"$CTX/src/top.txt"
ln -s sub/f1.txt "$CTX/src/link"
cat >"$CTX/Dockerfile.two" <<DF
FROM oci:$BB:latest AS build
COPY . /ctx
RUN wc -l /ctx/src/sub/f1.txt > /count
FROM oci:$BB:latest
COPY --from=build /count /count
COPY src /app/src
USER 1000
DF
cat >"$CTX/Dockerfile.one" <<DF
FROM oci:$BB:latest
COPY src /app/src
USER 1000
DF
chmod -R a+rX "$CTX"

top_layer() {  # user image -> diff_id of its top layer
  kt_as "$1" "$KT_KILN" inspect "$2" | jq -r '.config.rootfs.diff_ids[-1]'
}

for user in kiln-ranged kiln-single; do
  kt_fresh_root "$user" >/dev/null
  root=${KT_ROOT_OF[$user]}
  kt_as "$user" "$KT_KILN" build --lint=off --progress=plain -f "$CTX/Dockerfile.two" -t two "$CTX" \
    >"$KT_WORK/two-$user.log" 2>&1 || { cat "$KT_WORK/two-$user.log"; kt_fail "$user: two-stage build"; continue; }
  two=$(top_layer "$user" two)
  tree=$root/layers/${two#sha256:}
  kt_check "$user: the second COPY's tree is in the store" test -f "$tree/app/src/sub/f3.txt"
  links=$(find "$tree/app/src" -type f -links 2 2>/dev/null | wc -l)
  kt_eq "$user: its 6 files are linked from the first COPY's tree" 6 "$links"
  kt_check "$user: the symlink is a symlink" test -L "$tree/app/src/link"

  kt_fresh_root "$user" >/dev/null
  kt_as "$user" "$KT_KILN" build --lint=off --progress=plain -f "$CTX/Dockerfile.one" -t one "$CTX" \
    >"$KT_WORK/one-$user.log" 2>&1 || { cat "$KT_WORK/one-$user.log"; kt_fail "$user: one-stage build"; continue; }
  kt_eq "$user: same layer as a build that copies them once" "$two" "$(top_layer "$user" one)"
done
kt_done
