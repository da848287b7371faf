#!/usr/bin/env bash
# Hostile base images (tests/integration/hostile_layout.py) against a rootless
# kiln: a layer whose content is not its config's diff_id (claiming
# busybox's), a gzip layer with a broken CRC and one with trailing bytes.
# Each build fails naming the layer and both digests and keeps nothing; the
# forged image neither poisons nor borrows the genuine busybox layer; `kiln
# fsck` stays clean, and `kiln fsck --full` finds a tampered unpacked layer
# and names the images it affects.
source "$(dirname "$0")/lib.sh"
kt_begin_build_test
kt_start_registry
kt_push_busybox
user=kiln-ranged
root=$(kt_fresh_root "$user")
KT_ROOT_OF[$user]=$root  # set in a subshell above
for mode in forge crc trailing; do
  python3 "$KT_SRC/tests/integration/hostile_layout.py" "$BB" "$KT_WORK/$mode" "$mode"
done

# busybox's layer as its config names it, and the forged layer's real content digest.
blob_of() { jq -r '.manifests[0].digest' "$1/index.json" | sed 's/sha256:/blobs\/sha256\//'; }
manifest=$BB/$(blob_of "$BB")
bb_diff=$(jq -r '.config.digest' "$manifest" | sed 's/sha256://' | xargs -I{} jq -r '.rootfs.diff_ids[0]' "$BB/blobs/sha256/{}")
forged_layer=$(jq -r '.layers[0].digest' "$KT_WORK/forge/$(blob_of "$KT_WORK/forge")")
forged_diff=sha256:$(gzip -dc "$KT_WORK/forge/blobs/sha256/${forged_layer#sha256:}" | sha256sum | cut -d' ' -f1)

ctx=$KT_WORK/ctx
mkdir -p "$ctx"
# Genuine busybox has no /POISONED and its own /bin/sh.
for name in forge crc trailing genuine; do
  from="oci:$KT_WORK/$name:latest"
  [ "$name" = genuine ] && from="$KT_REGISTRY/busybox:latest"
  printf 'FROM %s\nRUN test ! -e /POISONED && test -x /bin/busybox && echo GENUINE-FILES\n' "$from" >"$ctx/Dockerfile.$name"
done
chmod -R a+rX "$ctx"
build() {  # build NAME [ARGS...]: output in $KT_WORK/log
  local name=$1; shift
  kt_as "$user" "$KT_KILN" build --lint=off --progress=plain -f "$ctx/Dockerfile.$name" "$@" "$ctx" >"$KT_WORK/log" 2>&1
}
fsck() { kt_as "$user" "$KT_KILN" fsck "$@" >"$KT_WORK/fsck.log" 2>&1; }
log_has() { grep -qF -- "$1" "$KT_WORK/log"; }
unpacked() { ls "$root/layers" | tr '\n' ' '; }
leftovers() { find "$root/tmp" -mindepth 1 -maxdepth 1 | wc -l; }

kt_check "fsck of a fresh store is clean" fsck --full

# 1. The forged image first: nothing unpacked, nothing recorded.
if build forge; then kt_fail "a layer that is not its diff_id was accepted"; else kt_ok "forged layer refused"; fi
kt_check "the error names the layer blob" log_has "$forged_layer"
kt_check "the error names the claimed diff_id" log_has "$bb_diff"
kt_check "the error names the content's digest" log_has "$forged_diff"
kt_check "the error names the image" log_has "oci:$KT_WORK/forge:latest"
kt_eq "nothing unpacked from the forged image" "" "$(unpacked)"
kt_eq "no scratch left behind" 0 "$(leftovers)"
kt_check "no diff_id recorded for the forged blob" test ! -e "$root/diff-ids/${forged_layer#sha256:}"

# 2. A later, unrelated FROM busybox sees busybox's files.
build genuine -t app || { cat "$KT_WORK/log"; kt_fail "genuine build failed"; }
kt_check "FROM busybox after the forged image sees genuine files" log_has "GENUINE-FILES"
kt_check "busybox's layer is unpacked under its computed diff_id" test -e "$root/layers/${bb_diff#sha256:}.done"

# 3. The forged image again, now that busybox's diff_id is unpacked: it must
#    not borrow the genuine layer either.
if build forge; then kt_fail "forged image borrowed busybox's unpacked layer"; else kt_ok "forged image refused with busybox unpacked"; fi
kt_check "  naming both digests" grep -q "$forged_diff.*$bb_diff" "$KT_WORK/log"

# The same forged image pulled from a registry.
skopeo copy -q --dest-tls-verify=false "oci:$KT_WORK/forge:latest" "docker://$KT_REGISTRY/forged:latest" >/dev/null
printf 'FROM %s\nRUN true\n' "$KT_REGISTRY/forged:latest" >"$ctx/Dockerfile.pulled"
chmod a+r "$ctx/Dockerfile.pulled"
before=$(unpacked)
if build pulled; then kt_fail "forged image from the registry accepted"; else kt_ok "forged image from the registry refused"; fi
kt_check "  naming the image and both digests" grep -q "$KT_REGISTRY/forged:latest.*$forged_layer.*$forged_diff.*$bb_diff" "$KT_WORK/log"
kt_eq "  and nothing more is unpacked" "$before" "$(unpacked)"
kt_check "  nor tagged" bash -c "! grep -q forged '$root/index.json'"
kt_check "  nothing under the forged content's digest either" test ! -e "$root/layers/${forged_diff#sha256:}"

# 4. Broken gzip: CRC and trailing data.
if build crc; then kt_fail "gzip with a broken CRC accepted"; else kt_ok "gzip with a broken CRC refused"; fi
kt_check "  saying so" log_has "incorrect data check"
kt_check "  naming the image" log_has "image oci:$KT_WORK/crc:latest"
if build trailing; then kt_fail "gzip with trailing data accepted"; else kt_ok "gzip with trailing data refused"; fi
kt_check "  saying so" log_has "trailing data after the last gzip member"
kt_eq "no scratch left behind by the gzip failures" 0 "$(leftovers)"

# 5. fsck: clean, then a tampered unpacked layer is found, named with the
#    images it affects, removed, and unpacked again on the next build.
kt_check "fsck is clean after the hostile builds" fsck
kt_check "fsck --full is clean after the hostile builds" fsck --full
victim=$(find "$root/layers/${bb_diff#sha256:}" -type f | sort | head -1)
echo tampered >>"$victim"
if fsck --full; then kt_fail "fsck --full missed a tampered unpacked layer"; else kt_ok "fsck --full exits non-zero on a tampered layer"; fi
kt_check "  naming the layer" grep -q "corrupt unpacked layer: $bb_diff" "$KT_WORK/fsck.log"
kt_check "  and the images it affects" grep -q "affected image: app:latest" "$KT_WORK/fsck.log"
kt_check "plain fsck (blobs only) still passes" fsck
kt_check "fsck --full --remove drops it" fsck --full --remove
kt_check "fsck --full is clean again" fsck --full
build genuine --no-cache || { cat "$KT_WORK/log"; kt_fail "rebuild after fsck --remove failed"; }
kt_check "the rebuild unpacks busybox again, genuine" log_has "GENUINE-FILES"
kt_check "and fsck --full is clean" fsck --full
kt_done
