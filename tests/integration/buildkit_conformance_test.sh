#!/usr/bin/env bash
# Conformance against docker build itself: the cases of tests/conformance/
# and tests/conformance-buildkit/ (what a RUN sees: HOME, PATH; USER from the
# base image's config; ARG/ENV scoping; WORKDIR creation) are built by kiln
# (rootless, as a user with a subuid range) and by dockerd's embedded BuildKit
# (Debian's docker.io, on a private socket and data root), from the same
# busybox bases in a test registry. The flattened file trees and the config
# fields are compared (tests/integration/image_tree.py).
#
# Case files as in conformance_test.sh (`args`, `target`, `kiln-args`,
# `expect`), plus: `lint` builds kiln through its lint gate (default: off);
# `buildkit-differs` (+LINE / -LINE applied to BuildKit's tree where kiln
# differs on purpose, with a README saying why). Skipped cases: heredocs
# (BuildKit v0.8 in docker 20.10 has none; conformance_test.sh checks them).
#
# KT_ONLY=substring runs the matching cases only.
source "$(dirname "$0")/lib.sh"
kt_require_root
# Debian's docker CLI: another `docker` earlier in PATH may lack the legacy builder's BuildKit.
docker_cli=${KT_DOCKER:-/usr/bin/docker}
command -v dockerd >/dev/null || kt_fail "dockerd not installed (scripts/setup.sh --test installs docker.io)"
[ -x "$docker_cli" ] || kt_fail "$docker_cli missing (docker.io)"
[ "$KT_FAIL" -eq 0 ] || { kt_done; exit 1; }
user=kiln-bk
kt_workdir
kt_setup_user "$user" 1500000
root=$(kt_fresh_root "$user")
kt_start_registry
kt_make_busybox_layout
kt_push_busybox
# The same busybox whose config says User app.
umoci config --image "$KT_BUSYBOX_LAYOUT:latest" --tag user --config.user app >/dev/null
skopeo copy -q --dest-tls-verify=false "oci:$KT_BUSYBOX_LAYOUT:user" "docker://$KT_REGISTRY/busybox:user" >/dev/null

# dockerd of our own: private socket, data and exec roots; no networking setup.
dd=$(mktemp -d /tmp/kiln-bk-dockerd.XXXXXX)  # short: the socket path has a length limit
kt_on_exit "rm -rf '$dd'"
kt_start_dockerd "$dd" || { kt_fail "dockerd did not start"; kt_done; exit 1; }
export DOCKER_BUILDKIT=1

cp -a "$KT_SRC/tests/conformance" "$KT_WORK/cases"
cp -a "$KT_SRC/tests/conformance-buildkit/." "$KT_WORK/cases/"
chmod -R a+rX "$KT_WORK/cases"
out=$KT_WORK/out
mkdir -p "$out"; chown "$user:" "$out"
tree="python3 $KT_SRC/tests/integration/image_tree.py"
# runc makes the mount points of a RUN's /dev, /proc and /sys in the rootfs
# when the image lacks them (busybox does), and BuildKit keeps them in the
# layer. kiln mounts them without leaving a trace in the image: on purpose,
# an image's file tree should not depend on the runtime that built it.
runc_stubs='/(dev|proc|sys) dir 0755 0 0 '

for dir in "$KT_WORK"/cases/*/; do
  name=$(basename "$dir")
  [ -n "${KT_ONLY:-}" ] && [[ "$name" != *"$KT_ONLY"* ]] && continue
  grep -q '<<' "$dir/Dockerfile" && continue  # heredocs: not in BuildKit v0.8
  args=(--build-arg "BASE=$KT_REGISTRY/busybox:latest" --build-arg "BASE_USER=$KT_REGISTRY/busybox:user")
  if [ -f "$dir/args" ]; then
    while read -r a; do [ -n "$a" ] && args+=(--build-arg "$a"); done <"$dir/args"
  fi
  [ -f "$dir/target" ] && args+=(--target "$(cat "$dir/target")")
  kargs=(--lint=off)
  [ -f "$dir/lint" ] && kargs=(--lint=error)
  [ -f "$dir/kiln-args" ] && read -r -a more <"$dir/kiln-args" && kargs+=("${more[@]}")
  expect=ok
  [ -f "$dir/expect" ] && expect=$(cat "$dir/expect")
  set +e
  kt_as "$user" "$KT_KILN" build --progress=plain "${kargs[@]}" "${args[@]}" \
    --output "type=oci,dest=$out/kiln-$name" "$dir" >"$out/kiln-$name.log" 2>&1
  krc=$?
  "$docker_cli" build --network=host -q "${args[@]}" -t "bk-$name" "$dir" >"$out/bk-$name.log" 2>&1
  brc=$?
  set -e
  kt_both_built "$name" "$expect" buildkit "$krc" "$brc" "$out/kiln-$name.log" "$out/bk-$name.log" || continue
  "$docker_cli" save "bk-$name" -o "$out/bk-$name.tar" &&
    skopeo copy -q "docker-archive:$out/bk-$name.tar" "oci:$out/bk-$name:latest" >/dev/null 2>&1 ||
    { kt_fail "$name: docker save / skopeo copy to an OCI layout failed"; continue; }
  rm -f "$out/bk-$name.tar"
  $tree tree "$out/kiln-$name" "" >"$out/$name.kiln.tree"
  $tree tree "$out/bk-$name" latest | grep -vxE "$runc_stubs" >"$out/$name.bk.tree" || true
  if [ -f "$dir/buildkit-differs" ]; then
    grep -vxFf <(sed -n 's/^-//p' "$dir/buildkit-differs") "$out/$name.bk.tree" >"$out/$name.fixed" || true
    { cat "$out/$name.fixed"; sed -n 's/^+//p' "$dir/buildkit-differs"; } | LC_ALL=C sort >"$out/$name.bk.tree"
    LC_ALL=C sort -o "$out/$name.kiln.tree" "$out/$name.kiln.tree"
  fi
  $tree config "$out/kiln-$name" "" >"$out/$name.kiln.config"
  $tree config "$out/bk-$name" latest >"$out/$name.bk.config"
  if diff -u "$out/$name.bk.tree" "$out/$name.kiln.tree" >"$out/$name.tree.diff" &&
     diff -u "$out/$name.bk.config" "$out/$name.kiln.config" >"$out/$name.config.diff"; then
    kt_ok "$name: same tree and config as BuildKit"
  else
    kt_fail "$name: differs from BuildKit"
    cat "$out/$name.tree.diff" "$out/$name.config.diff" >"$out/$name.diff" 2>/dev/null || true
    head -n 30 "$out/$name.diff" | sed 's/^/    /'
  fi
  "$docker_cli" rmi -f "bk-$name" >/dev/null 2>&1 || true
done
kt_done
