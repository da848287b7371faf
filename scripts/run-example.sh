#!/usr/bin/env bash
# The main job on an example: make a local busybox base image (no registry,
# no internet), build examples/<name> with kiln, and show what came out.
set -euo pipefail
kiln=${1:?usage: run-example.sh KILN EXAMPLE_DIR}
example=${2:?usage: run-example.sh KILN EXAMPLE_DIR}
src=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/kiln-example.XXXXXX)
trap 'rm -rf "$work"' EXIT

# The base: busybox-static as a one-layer image built by kiln itself.
mkdir -p "$work/base"
"$src/scripts/make-busybox-rootfs.sh" "$work/base/rootfs"
printf 'FROM scratch\nCOPY rootfs/ /\nENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\nCMD ["sh"]\n' >"$work/base/Dockerfile"
"$kiln" build --quiet --lint=off -t busybox:local "$work/base" >/dev/null

name=$(basename "$example")
out=${KILN_EXAMPLE_OUT:-$PWD/build/$name.oci}
"$kiln" build -t "$name:latest" --output "type=oci,dest=$out" "$example"
echo
"$kiln" images
echo "OCI layout: $out"
