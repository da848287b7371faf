# Shared helpers for the black-box tests. Source it from a *_test.sh script.
#
# The tests run as root in CI but exercise kiln as unprivileged users that
# they create: kiln-ranged (with a subuid/subgid range) and kiln-single
# (without one). A registry (Debian's docker-registry) is started on
# 127.0.0.1 on a free port when a test asks for one. Exit code 77 = skipped.
set -euo pipefail

KT_SRC=${KILN_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
KT_PASS=0
KT_FAIL=0
KT_CLEANUP=()
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}

kt_cleanup() {
  local i
  for ((i = ${#KT_CLEANUP[@]} - 1; i >= 0; i--)); do eval "${KT_CLEANUP[$i]}" || true; done
}
trap kt_cleanup EXIT
kt_on_exit() { KT_CLEANUP+=("$1"); }

kt_skip() { echo "SKIP: $*"; exit 77; }
kt_fail() { echo "FAIL: $*" >&2; KT_FAIL=$((KT_FAIL + 1)); }
kt_ok() { echo "ok - $*"; KT_PASS=$((KT_PASS + 1)); }
kt_check() {  # kt_check "description" command...
  local what=$1; shift
  if "$@"; then kt_ok "$what"; else kt_fail "$what"; fi
}
kt_eq() {  # kt_eq "description" expected actual
  if [ "$2" = "$3" ]; then kt_ok "$1"; else kt_fail "$1: expected [$2], got [$3]"; fi
}
kt_done() {
  echo "$KT_PASS passed, $KT_FAIL failed"
  [ "$KT_FAIL" -eq 0 ]
}

kt_require_root() { [ "$(id -u)" -eq 0 ] || kt_skip "needs root to create test users"; }

# A world-readable scratch dir, removed at exit.
kt_workdir() {
  KT_WORK=$(mktemp -d /tmp/kiln-test.XXXXXX)
  chmod 0755 "$KT_WORK"
  # KT_KEEP=1 keeps the scratch dir for a post-mortem.
  if [ -n "${KT_KEEP:-}" ]; then echo "# scratch dir kept: $KT_WORK"; else kt_on_exit "rm -rf '$KT_WORK'"; fi
  mkdir -p "$KT_WORK/bin"
  install -m 0755 "${KILN:?KILN must point to the kiln binary}" "$KT_WORK/bin/kiln"
  KT_KILN=$KT_WORK/bin/kiln
}

# Users: kiln-ranged has 100000 subordinate ids, kiln-single has none.
kt_setup_users() {
  kt_setup_user kiln-ranged 200000
  kt_setup_user kiln-single
}

# kt_setup_user NAME [FIRST_SUBID]: creates NAME if needed and gives it
# 100000 subordinate ids from FIRST_SUBID, or none. Tests that run at the same
# time (the conformance shards) share /etc/passwd and /etc/subuid: edits are
# serialized with flock and made only when the entry is not already right, so
# a newuidmap running for another test never sees the entry missing.
kt_setup_user() {
  kt_require_root
  local user=$1 first=${2:-} want="" f
  [ -n "$first" ] && want="$user:$first:100000"
  touch /etc/subuid /etc/subgid
  (
    flock 9
    id "$user" >/dev/null 2>&1 || useradd -m -s /bin/bash -K SUB_UID_COUNT=0 -K SUB_GID_COUNT=0 "$user"
    for f in /etc/subuid /etc/subgid; do
      [ "$(grep "^$user:" "$f" || true)" = "$want" ] && continue
      sed -i "/^$user:/d" "$f"
      [ -n "$want" ] && echo "$want" >>"$f"
    done
  ) 9>/tmp/.kiln-test-users.lock
}

# kt_as USER cmd... : runs as USER with a per-test KILN_ROOT and HOME.
kt_as() {
  local user=$1; shift
  local home
  home=$(getent passwd "$user" | cut -d: -f6)
  runuser -u "$user" -- env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$home" USER="$user" \
    KILN_ROOT="${KT_ROOT_OF[$user]:-$home/.local/share/kiln}" ASAN_OPTIONS="$ASAN_OPTIONS" \
    ${KT_EXTRA_ENV:-} "$@"
}
declare -A KT_ROOT_OF
# A fresh store for USER inside the work dir.
kt_fresh_root() {
  local user=$1 dir=$KT_WORK/root-$1-$RANDOM
  mkdir -p "$dir"; chown "$user:" "$dir"
  KT_ROOT_OF[$user]=$dir
  echo "$dir"
}

kt_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Starts docker-registry on 127.0.0.1; sets KT_REGISTRY=127.0.0.1:PORT.
# Optional: KT_REGISTRY_HTPASSWD=file, KT_REGISTRY_TLS="cert key".
kt_start_registry() {
  command -v docker-registry >/dev/null || kt_skip "docker-registry not installed"
  local port dir
  port=$(kt_free_port)
  dir=$KT_WORK/registry-$port
  mkdir -p "$dir/data"
  {
    echo "version: 0.1"
    echo "log: {level: info, accesslog: {disabled: false}}"
    echo "storage: {filesystem: {rootdirectory: $dir/data}, delete: {enabled: true}}"
    echo "http:"
    echo "  addr: 127.0.0.1:$port"
    if [ -n "${KT_REGISTRY_TLS:-}" ]; then
      set -- $KT_REGISTRY_TLS
      echo "  tls: {certificate: $1, key: $2}"
    fi
    if [ -n "${KT_REGISTRY_HTPASSWD:-}" ]; then
      echo "auth: {htpasswd: {realm: kiln-test, path: $KT_REGISTRY_HTPASSWD}}"
    fi
  } >"$dir/config.yml"
  docker-registry serve "$dir/config.yml" >"$dir/log" 2>&1 &
  local pid=$!
  kt_on_exit "kill $pid 2>/dev/null; wait $pid 2>/dev/null"
  local scheme=http
  [ -n "${KT_REGISTRY_TLS:-}" ] && scheme=https
  for _ in $(seq 100); do
    curl -sk "$scheme://127.0.0.1:$port/v2/" -o /dev/null && break
    sleep 0.1
  done
  KT_REGISTRY=127.0.0.1:$port
  KT_REGISTRY_LOG=$dir/log
}

# An OCI layout holding busybox:latest made with umoci (independent of kiln).
# The usual start of a build test: scratch dir, the test users and a busybox
# base layout in $BB.
kt_begin_build_test() {
  kt_require_root
  kt_workdir
  kt_setup_users
  kt_make_busybox_layout
  BB=$KT_BUSYBOX_LAYOUT
}

# kt_both_built NAME EXPECT PEER KILN_RC PEER_RC KILN_LOG PEER_LOG: judges one
# conformance case built by kiln and by a peer (buildah, BuildKit). Returns 0
# when both built and their results are to be compared; otherwise it has
# counted the case (both failing as expected, or a failure) and returns 1.
kt_both_built() {
  local name=$1 expect=$2 peer=$3 krc=$4 prc=$5 klog=$6 plog=$7
  if [ "$expect" = fail ]; then
    if [ "$krc" -ne 0 ] && [ "$prc" -ne 0 ]; then kt_ok "$name: both fail"; else
      kt_fail "$name: expected both to fail (kiln $krc, $peer $prc)"; fi
    return 1
  fi
  if [ "$krc" -ne 0 ] || [ "$prc" -ne 0 ]; then
    kt_fail "$name: build failed (kiln $krc, $peer $prc)"
    tail -n 5 "$klog" "$plog" | sed 's/^/    /'
    return 1
  fi
}

# The same, with a registry on 127.0.0.1 that holds busybox (KT_REGISTRY).
kt_begin_registry_test() {
  kt_begin_build_test
  kt_start_registry
  kt_push_busybox
}

# kt_make_layout LAYOUT TAG SHELL FILL...: an OCI layout holding LAYOUT:TAG,
# one layer with the rootfs that `FILL... ROOTFS` makes, CMD SHELL. Made with
# umoci, independent of kiln. Returns FILL's status.
kt_make_layout() {
  local layout=$1 tag=$2 shell=$3 rc=0
  shift 3
  command -v umoci >/dev/null || kt_skip "umoci not installed"
  local tmp=$KT_WORK/bundle.$RANDOM
  umoci init --layout "$layout" >/dev/null
  umoci new --image "$layout:$tag" >/dev/null
  umoci unpack --image "$layout:$tag" "$tmp" >/dev/null
  "$@" "$tmp/rootfs" || rc=$?
  if [ "$rc" -eq 0 ]; then
    umoci repack --image "$layout:$tag" "$tmp" >/dev/null
    umoci config --image "$layout:$tag" --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
      --config.cmd "$shell" --architecture "${KT_LAYOUT_ARCH:-amd64}" --os linux >/dev/null
    umoci gc --layout "$layout" >/dev/null
    chmod -R a+rX "$layout"
  fi
  rm -rf "$tmp"
  return "$rc"
}

kt_make_busybox_layout() {
  local layout=${1:-$KT_WORK/busybox}
  kt_make_layout "$layout" latest sh bash "$KT_SRC/scripts/make-busybox-rootfs.sh"
  KT_BUSYBOX_LAYOUT=$layout
}

# Pushes the busybox layout to the test registry as busybox:latest.
kt_push_busybox() {
  skopeo copy -q --dest-tls-verify=false "oci:$KT_BUSYBOX_LAYOUT:latest" \
    "docker://$KT_REGISTRY/busybox:latest" >/dev/null
}

# Debian's arm64 busybox-static, the host's version, fetched once into a cache
# (setup.sh --test adds the arm64 architecture to dpkg). Prints its path.
kt_arm64_busybox() {
  local cache=/var/cache/kiln-test/busybox-arm64 ver
  ver=$(dpkg-query -W -f='${Version}' busybox-static)
  if [ ! -x "$cache/$ver/bin/busybox" ]; then
    mkdir -p "$cache"
    (  # tests that run at the same time (sandbox_tests, the integration scripts) fetch it once
      flock 9
      [ -x "$cache/$ver/bin/busybox" ] && exit 0
      mkdir -p "$cache/$ver.tmp"
      (cd "$cache/$ver.tmp" && apt-get download -q "busybox-static:arm64=$ver" >/dev/null 2>&1) ||
        { echo "kt_arm64_busybox: apt-get download busybox-static:arm64=$ver failed (dpkg --add-architecture arm64 && apt-get update)" >&2; exit 1; }
      dpkg-deb -x "$cache/$ver.tmp"/busybox-static_*_arm64.deb "$cache/$ver.tmp/root"
      rm -rf "${cache:?}/$ver"
      mkdir -p "$cache/$ver/bin"
      cp "$cache/$ver.tmp/root/bin/busybox" "$cache/$ver/bin/busybox"
      rm -rf "${cache:?}/$ver.tmp"
    ) 9>"$cache/.lock" || return 1
  fi
  echo "$cache/$ver/bin/busybox"
}

# kt_push_multiarch_busybox [NAME]: a two-platform busybox base in the test
# registry as NAME:latest (default busybox-multi): an OCI index of linux/amd64
# and linux/arm64/v8 (the variant spelled as Docker Hub's indexes do), made
# with umoci, skopeo and curl, independent of kiln. Sets KT_MULTI_REF.
kt_push_multiarch_busybox() {
  local name=${1:-busybox-multi} arm_bb arch digest size entries=""
  arm_bb=$(kt_arm64_busybox) || kt_fail "no arm64 busybox"
  for arch in amd64 arm64; do
    local layout=$KT_WORK/multi-$arch
    if [ "$arch" = arm64 ]; then
      KT_LAYOUT_ARCH=arm64 BUSYBOX=$arm_bb kt_make_layout "$layout" latest sh bash "$KT_SRC/scripts/make-busybox-rootfs.sh"
    else
      kt_make_layout "$layout" latest sh bash "$KT_SRC/scripts/make-busybox-rootfs.sh"
    fi
    skopeo copy -q --dest-tls-verify=false "oci:$layout:latest" "docker://$KT_REGISTRY/$name:$arch" >/dev/null
    skopeo inspect --raw --tls-verify=false "docker://$KT_REGISTRY/$name:$arch" >"$layout.manifest"
    digest=sha256:$(sha256sum <"$layout.manifest" | cut -d' ' -f1)
    size=$(wc -c <"$layout.manifest")
    local plat='{"architecture":"amd64","os":"linux"}'
    [ "$arch" = arm64 ] && plat='{"architecture":"arm64","os":"linux","variant":"v8"}'
    entries+="${entries:+,}{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"$digest\",\"size\":$size,\"platform\":$plat}"
  done
  curl -fsS -X PUT -H 'Content-Type: application/vnd.oci.image.index.v1+json' \
    --data-binary "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":[$entries]}" \
    "http://$KT_REGISTRY/v2/$name/manifests/latest" >/dev/null
  KT_MULTI_REF=$KT_REGISTRY/$name:latest
}

# Prints the Debian mirror of this machine's apt sources: deb822 *.sources
# first, else a classic sources.list (what debootstrap leaves), else
# deb.debian.org. Either file may be missing. KT_APT_DIR: for the tests of this.
kt_debian_mirror() { APT_DIR=${KT_APT_DIR:-/etc/apt} "$KT_SRC/scripts/debian-mirror.sh"; }

# kt_start_dockerd DIR: a private dockerd (scripts/start-dockerd.sh), stopped
# when the test ends; exports DOCKER_HOST. Returns non-zero when it did not start.
kt_start_dockerd() {
  local dir=$1
  "$KT_SRC/scripts/start-dockerd.sh" "$dir" || return 1
  kt_on_exit "kill \$(cat '$dir/pid') 2>/dev/null; for _ in \$(seq 100); do [ -e '$dir/pid' ] || break; sleep 0.1; done"
  export DOCKER_HOST=unix://$dir/sock
}

# Rootless buildah for USER as these machines need it: runc (crun refuses the
# hybrid cgroup layout), cgroupfs (no systemd), overlay storage.
kt_setup_buildah() {
  local user=$1 home
  command -v buildah >/dev/null || kt_skip "buildah not installed"
  home=$(getent passwd "$user" | cut -d: -f6)
  mkdir -p "$home/.config/containers"
  printf '[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n' \
    >"$home/.config/containers/containers.conf"
  printf '[storage]\ndriver = "overlay"\n' >"$home/.config/containers/storage.conf"
  chown -R "$user:" "$home/.config"
}
