#!/usr/bin/env bash
# Conformance: every case under tests/conformance/ is built by kiln and by
# Debian's buildah (both rootless, as a user with a subuid range, from the same busybox base
# in a test registry), and the flattened file trees (path, type, mode, uid,
# gid, content digest, link target, hardlink groups) and the config fields are
# compared. A case may hold: `args` (build args, one per line), `target`,
# `kiln-args` (extra kiln flags, e.g. --strip=off, with a README saying why),
# `expect` containing "fail" (both must fail), `docker-differs` (+LINE / -LINE
# applied to buildah's tree where docker itself differs from buildah, with a
# README saying why), `docker-config` (docker's config fields, used instead of
# buildah's where they differ, with a README), `buildah-unsupported` (the reason) with `expected-lines`
# (lines docker's image has, checked in kiln's tree instead).
#
# buildah 1.28 also leaves the mount points of its RUN runtime in the image
# (/dev /proc /sys /run, empty /etc/hosts /etc/hostname /etc/resolv.conf);
# docker does not, so those exact empty entries are dropped from buildah's tree.
#
# KT_SHARD=I/N runs every Nth case from the Ith, as its own user (kiln-confI,
# with its own subuid range and buildah storage), so shards run side by side.
source "$(dirname "$0")/lib.sh"
kt_require_root
command -v buildah >/dev/null || kt_skip "buildah not installed"
shard=${KT_SHARD:-1/1}
shard_i=${shard%/*} shard_n=${shard#*/}
user=kiln-conf$shard_i
kt_workdir
kt_setup_user "$user" $((1000000 + shard_i * 100000))
kt_setup_buildah "$user"
kt_start_registry
kt_make_busybox_layout
kt_push_busybox
root=$(kt_fresh_root "$user")
cases_src="$KT_SRC/tests/conformance"
tree="python3 $KT_SRC/tests/integration/image_tree.py"
cp -a "$cases_src" "$KT_WORK/cases"
chmod -R a+rX "$KT_WORK/cases"
out=$KT_WORK/out
buildah_stubs='/(dev|proc|sys|run) dir 0755 0 0 |/etc/(hosts|hostname|resolv\.conf) file 0755 0 0 e3b0c44298fc1c14'
mkdir -p "$out"; chown "$user:" "$out"
kt_as "$user" buildah rmi -a -f >/dev/null 2>&1 || true

case_no=0
for dir in "$KT_WORK"/cases/*/; do
  name=$(basename "$dir")
  case_no=$((case_no + 1))
  [ $(((case_no - 1) % shard_n + 1)) -eq "$shard_i" ] || continue
  [ -n "${KT_ONLY:-}" ] && [[ "$name" != *"$KT_ONLY"* ]] && continue
  args=(--build-arg "BASE=$KT_REGISTRY/busybox:latest")
  if [ -f "$dir/args" ]; then
    while read -r a; do [ -n "$a" ] && args+=(--build-arg "$a"); done <"$dir/args"
  fi
  [ -f "$dir/target" ] && args+=(--target "$(cat "$dir/target")")
  kargs=()
  [ -f "$dir/kiln-args" ] && read -r -a kargs <"$dir/kiln-args"
  expect=ok
  [ -f "$dir/expect" ] && expect=$(cat "$dir/expect")

  if [ -f "$dir/buildah-unsupported" ]; then
    if kt_as "$user" "$KT_KILN" build --lint=off --progress=plain "${kargs[@]}" "${args[@]}" \
        -t "conf-$name" --output "type=oci,dest=$out/kiln-$name" "$dir" >"$out/kiln-$name.log" 2>&1; then
      $tree tree "$out/kiln-$name" "" >"$out/$name.kiln.tree"
      missing=$(grep -vxFf "$out/$name.kiln.tree" "$dir/expected-lines" || true)
      if [ -z "$missing" ]; then kt_ok "$name: matches docker's expected entries ($(cat "$dir/buildah-unsupported" | cut -c1-40)...)"
      else kt_fail "$name: missing expected entries:"; echo "$missing" | sed 's/^/    /'; fi
    else
      kt_fail "$name: kiln build failed"; tail -n 5 "$out/kiln-$name.log" | sed 's/^/    /'
    fi
    continue
  fi
  set +e
  kt_as "$user" "$KT_KILN" build --lint=off --progress=plain "${kargs[@]}" "${args[@]}" \
    -t "conf-$name" --output "type=oci,dest=$out/kiln-$name" "$dir" >"$out/kiln-$name.log" 2>&1
  krc=$?
  kt_as "$user" buildah build --layers --tls-verify=false --format docker -q "${args[@]}" \
    -t "conf-$name" "$dir" >"$out/buildah-$name.log" 2>&1
  brc=$?
  set -e
  kt_both_built "$name" "$expect" buildah "$krc" "$brc" "$out/kiln-$name.log" "$out/buildah-$name.log" || continue
  kt_as "$user" buildah push -q "conf-$name" "oci:$out/buildah-$name:latest" >/dev/null 2>&1 ||
    { kt_fail "$name: buildah push to oci layout failed"; continue; }
  $tree tree "$out/kiln-$name" "conf-$name" >"$out/$name.kiln.tree" 2>&1 ||
    $tree tree "$out/kiln-$name" "" >"$out/$name.kiln.tree"
  $tree tree "$out/buildah-$name" latest | grep -vxE "$buildah_stubs" >"$out/$name.buildah.tree" || true
  if [ -f "$dir/docker-differs" ]; then
    grep -vxFf <(sed -n 's/^-//p' "$dir/docker-differs") "$out/$name.buildah.tree" >"$out/$name.fixed" || true
    { cat "$out/$name.fixed"; sed -n 's/^+//p' "$dir/docker-differs"; } | LC_ALL=C sort >"$out/$name.buildah.tree"
    LC_ALL=C sort -o "$out/$name.kiln.tree" "$out/$name.kiln.tree"
  fi
  $tree config "$out/kiln-$name" "conf-$name" >"$out/$name.kiln.config" 2>&1 ||
    $tree config "$out/kiln-$name" "" >"$out/$name.kiln.config"
  $tree config "$out/buildah-$name" latest >"$out/$name.buildah.config"
  # docker's config where it differs from buildah's (README says why).
  [ -f "$dir/docker-config" ] && cp "$dir/docker-config" "$out/$name.buildah.config"
  if diff -u "$out/$name.buildah.tree" "$out/$name.kiln.tree" >"$out/$name.tree.diff" &&
     diff -u "$out/$name.buildah.config" "$out/$name.kiln.config" >"$out/$name.config.diff"; then
    kt_ok "$name: same tree and config as buildah"
  else
    kt_fail "$name: differs from buildah"
    cat "$out/$name.tree.diff" "$out/$name.config.diff" 2>/dev/null | head -30 | sed 's/^/    /'
  fi
done
kt_as "$user" buildah rmi -a -f >/dev/null 2>&1 || true
kt_done
