#!/usr/bin/env bash
# COPY --link, as BuildKit documents it: the files go into a layer of their
# own that does not look at the image below, so a destination path through a
# symlink of the parent is made of real directories (0755 root), and after a
# change below the step a rebuild stacks the same layer again instead of
# copying (CACHED, same layer digest). A plain COPY follows the symlink.
# As kiln-ranged and kiln-single.
source "$(dirname "$0")/lib.sh"
kt_begin_build_test
CTX=$KT_WORK/ctx
mkdir -p "$CTX"
echo payload >"$CTX/data.txt"
cat >"$CTX/Dockerfile" <<DF
FROM oci:$BB:latest
ARG V=1
RUN mkdir /real && ln -s /real /lnk && echo \$V > /v
COPY data.txt /lnk/plain/
COPY --link data.txt /lnk/sub/
USER 1000
DF
chmod -R a+rX "$CTX"

# Layer listing of the image in an OCI layout: "path mode uid/gid" per entry,
# one layer per line group, top layer last.
layers_of() {  # layout
  local m
  m=$(jq -r '.manifests[0].digest' "$1/index.json" | cut -d: -f2)
  for l in $(jq -r '.layers[].digest' "$1/blobs/sha256/$m" | cut -d: -f2); do
    echo "== $l"
    tar tvzf "$1/blobs/sha256/$l" | awk '{print $6, $1, $2}' | sort
  done
}

for user in kiln-ranged kiln-single; do
  kt_fresh_root "$user" >/dev/null
  out=$KT_WORK/out-$user
  mkdir -p "$out"; chown "$user:" "$out"
  kt_as "$user" "$KT_KILN" build --lint=off --progress=plain --output "type=oci,dest=$out/a" "$CTX" \
    >"$KT_WORK/a-$user.log" 2>&1 || { cat "$KT_WORK/a-$user.log"; kt_fail "$user: build"; continue; }
  layers_of "$out/a" >"$KT_WORK/a-$user.layers"
  top=$(sed -n '/^== /h; ${x;p}' "$KT_WORK/a-$user.layers")
  linked=$(awk -v t="$top" '$0==t{on=1; next} /^== /{on=0} on' "$KT_WORK/a-$user.layers")
  kt_eq "$user: the linked layer holds real directories, 0755 root, and the file" \
    "lnk/ drwxr-xr-x 0/0
lnk/sub/ drwxr-xr-x 0/0
lnk/sub/data.txt -rw-r--r-- 0/0" "$linked"
  kt_check "$user: the plain COPY followed the symlink to /real" grep -q '^real/plain/data.txt ' "$KT_WORK/a-$user.layers"

  # A change below the linked step: the RUN runs again, the plain COPY copies
  # again, the linked layer is reused.
  kt_as "$user" "$KT_KILN" build --lint=off --progress=plain --build-arg V=2 --output "type=oci,dest=$out/b" "$CTX" \
    >"$KT_WORK/b-$user.log" 2>&1 || { cat "$KT_WORK/b-$user.log"; kt_fail "$user: rebuild"; continue; }
  step=$(sed -n 's/^\(#[0-9]*\) \[.*COPY --link data.txt \/lnk\/sub\/$/\1/p' "$KT_WORK/b-$user.log")
  kt_check "$user: the linked COPY is CACHED after a change below it" grep -qx "$step CACHED" "$KT_WORK/b-$user.log"
  kt_check "$user: and the RUN below it ran again" grep -q '(2 steps run, 1 cached)' "$KT_WORK/b-$user.log"
  layers_of "$out/b" >"$KT_WORK/b-$user.layers"
  kt_eq "$user: same linked layer digest" "$top" "$(sed -n '/^== /h; ${x;p}' "$KT_WORK/b-$user.layers")"
  kt_check "$user: the plain COPY ran again" grep -qE 'COPY data.txt /lnk/plain/' "$KT_WORK/b-$user.log"
done
kt_done
