#!/usr/bin/env bash
# Installs everything kiln needs to build and test, from Debian 12's packages.
# Run as root (or through sudo). Safe to run again: apt-get skips what is there.
set -euo pipefail

build_deps=(cmake g++ make pkg-config git
  libseccomp-dev libcap-dev libarchive-dev libssl-dev nlohmann-json3-dev
  libcli11-dev libgtest-dev libgmock-dev libcurl4-openssl-dev libsqlite3-dev zlib1g-dev libzstd-dev
  libtomlplusplus-dev
  ca-certificates)  # kiln verifies HTTPS registries against the system's CA bundle
# Real parts the tests use: id mapping helpers, a registry, a base image source,
# and the clients kiln must interoperate with.
test_deps=(uidmap docker-registry busybox-static skopeo umoci buildah runc fuse-overlayfs
  apache2-utils openssl passwd util-linux procps iproute2 zstd python3 jq debootstrap curl shellcheck openssh-client
  strace  # copy_syscalls_test counts the system calls that fail
  bzip2 xz-utils  # ADD of .tar.bz2 / .tar.xz in the tests; neither is in a minbase system
  podman docker.io python3-yaml libcap2-bin  # the container rows; dockerd's BuildKit for conformance
  clang libclang-rt-14-dev  # libFuzzer targets: tests/fuzz
  qemu-user-static binfmt-support)  # foreign-architecture RUN steps (multi-platform builds)

want=("${build_deps[@]}")
[ "${1:-}" = "--test" ] && want+=("${test_deps[@]}")

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [ "${1:-}" = "--test" ]; then
  # Multi-platform tests: Debian's qemu handlers registered in binfmt_misc
  # (no systemd starts binfmt-support in CI), and dpkg knowing arm64 so that
  # `apt-get download busybox-static:arm64` gives a real arm64 base.
  # A failure here is reported and set-up goes on: the other tests need none
  # of it, and the multi-platform tests then fail naming what is missing.
  if { [ -e /proc/sys/fs/binfmt_misc/status ] ||
       $sudo mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc; } && $sudo update-binfmts --enable; then :
  else
    echo "setup.sh: could not register qemu's binfmt_misc handlers (mount -t binfmt_misc binfmt_misc" \
      "/proc/sys/fs/binfmt_misc; update-binfmts --enable): foreign-architecture RUN steps will fail" >&2
  fi
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    $sudo dpkg --add-architecture arm64
    $sudo apt-get update -qq
  fi
fi
