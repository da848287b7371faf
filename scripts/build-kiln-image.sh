#!/usr/bin/env bash
# Builds the kiln image with kiln: scripts/kiln-image.Dockerfile on a Debian
# 12 minbase root that debootstrap makes from this machine's apt mirror.
#
#   build-kiln-image.sh KILN OUT [TAG]
#
# KILN: the kiln binary to put in the image (it also runs the build);
# OUT: the OCI layout written, holding TAG (default kiln:latest; in the
# layout it is named by the tag alone: oci:OUT:latest). Prints the
# image ID. Needs root for debootstrap, once: the base root is cached as a
# tar in $KILN_IMAGE_CACHE (default /var/cache/kiln-image), keyed by its
# package list, because debootstrap takes minutes and the tar is reused as
# long as the list is the same (delete it to take Debian's updates).
set -euo pipefail
kiln=${1:?usage: build-kiln-image.sh KILN OUT [TAG]}
out=${2:?usage: build-kiln-image.sh KILN OUT [TAG]}
tag=${3:-kiln:latest}
here=$(cd "$(dirname "$0")" && pwd)
cache=${KILN_IMAGE_CACHE:-/var/cache/kiln-image}
die() { echo "build-kiln-image: $*" >&2; exit 1; }
[ -x "$kiln" ] || die "$kiln is not an executable kiln binary"

# The packages: uidmap and setcap for the id mapping, CA certificates for
# registries, libcurl (kiln loads it with dlopen), and whatever Debian
# package holds each library the binary links (a sanitizer build needs
# libasan and libubsan too).
pkgs=(uidmap libcap2-bin ca-certificates libcurl4)
while read -r lib; do
  owner=$(dpkg -S "$lib" 2>/dev/null | head -n1 | cut -d: -f1) ||
    die "no Debian package holds $lib, which $kiln links; build kiln against Debian 12's libraries"
  [ -n "$owner" ] || die "no Debian package holds $lib, which $kiln links"
  pkgs+=("$owner")
done < <(ldd "$kiln" | awk '$2 == "=>" && $3 ~ /^\// {print $3}' | while read -r p; do
  # ldd reports /lib/x86_64-linux-gnu/...; dpkg knows the merged-/usr path too.
  if dpkg -S "$p" >/dev/null 2>&1; then echo "$p"; else echo "/usr$p"; fi
done)
mapfile -t pkgs < <(printf '%s\n' "${pkgs[@]}" | sort -u)
include=$(IFS=,; echo "${pkgs[*]}")
key=$(echo "bookworm minbase $include" | sha256sum | cut -c1-16)
base=$cache/bookworm-minbase-$key.tar

if [ ! -s "$base" ]; then
  [ "$(id -u)" -eq 0 ] || die "the base root $base is not made yet, and debootstrap needs root: run this once as root"
  command -v debootstrap >/dev/null || die "debootstrap is missing (scripts/setup.sh --test installs it)"
  mkdir -p "$cache"
  # One debootstrap at a time per cache (tests may run this concurrently).
  exec 9>"$cache/.lock"
  flock 9
fi
if [ ! -s "$base" ]; then
  mirror=${KILN_IMAGE_MIRROR:-$("$here/debian-mirror.sh")}
  root=$(mktemp -d "$cache/root.XXXXXX")
  trap 'rm -rf "$root"' EXIT
  echo "build-kiln-image: debootstrap bookworm from $mirror with $include" >&2
  debootstrap --variant=minbase --include="$include" bookworm "$root" "$mirror" >"$root.log" 2>&1 ||
    { tail -n 20 "$root.log" >&2; die "debootstrap failed (log: $root.log)"; }
  rm -f "$root.log"
  # Device nodes come from the container runtime; apt's lists and caches
  # are large and stale in an image.
  rm -rf "${root:?}"/dev/* "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb
  tar --numeric-owner --xattrs --xattrs-include='*' --sort=name -C "$root" -cf "$base.tmp" .
  mv "$base.tmp" "$base"
  rm -rf "$root"
  trap - EXIT
fi
exec 9>&-

# The context: KILN_IMAGE_KEEP_CONTEXT=DIR keeps it there (the container
# tests rebuild the image from it inside a container).
if [ -n "${KILN_IMAGE_KEEP_CONTEXT:-}" ]; then
  ctx=$KILN_IMAGE_KEEP_CONTEXT
  rm -rf "$ctx"; mkdir -p "$ctx"
else
  ctx=$(mktemp -d "${TMPDIR:-/tmp}/kiln-image-ctx.XXXXXX")
  trap 'rm -rf "$ctx"' EXIT
fi
cp "$here/kiln-image.Dockerfile" "$ctx/Dockerfile"
ln "$base" "$ctx/bookworm.tar" 2>/dev/null || cp "$base" "$ctx/bookworm.tar"
# Debug info is most of a RelWithDebInfo binary and nothing the image needs.
strip --strip-debug -o "$ctx/kiln" "$kiln" 2>/dev/null || cp "$kiln" "$ctx/kiln"
chmod 0755 "$ctx/kiln"
chmod -R a+rX "$ctx"
mkdir -p "$(dirname "$out")"
rm -rf "$out"
iid=$(mktemp "${TMPDIR:-/tmp}/kiln-image-iid.XXXXXX")
"$kiln" build --lint=off -q -t "$tag" --iidfile "$iid" --output "type=oci,dest=$out" "$ctx" >/dev/null ||
  { rm -f "$iid"; die "kiln build of $ctx failed"; }
cat "$iid"; echo
rm -f "$iid"
