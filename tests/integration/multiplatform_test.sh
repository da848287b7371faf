#!/usr/bin/env bash
# Multi-platform builds (issue 23), as unprivileged users: --platform
# linux/amd64,linux/arm64 on a two-platform busybox index gives one OCI index
# whose arm64 image really ran arm64 code (under qemu-user-static's binfmt
# handler); the index is reproducible and its arm64 entry is what a build
# of linux/arm64 alone gives; a $BUILDPLATFORM stage shared by the targets
# runs once; a base without the platform and a platform without a binfmt
# handler fail before anything runs, leaving the store as it was.
source "$(dirname "$0")/lib.sh"
kt_begin_registry_test
kt_push_multiarch_busybox
user=kiln-ranged
kt_fresh_root "$user" >/dev/null  # (not in a subshell: it sets KT_ROOT_OF)
root=${KT_ROOT_OF[$user]}
chmod 0777 "$KT_WORK"  # --iidfile and logs are written by the unprivileged users

ctx=$KT_WORK/ctx
mkdir -p "$ctx"
cat >"$ctx/Dockerfile" <<DF
FROM $KT_MULTI_REF
RUN uname -m > /arch
DF
chmod -R a+rX "$ctx"

blob() { echo "$1/blobs/sha256/${2#sha256:}"; }
# entry ROOT INDEX_DIGEST ARCH: the manifest digest of ARCH in the index.
entry() { jq -r --arg a "$3" '.manifests[] | select(.platform.architecture == $a) | .digest' "$(blob "$1" "$2")"; }
# file_of ROOT MANIFEST_DIGEST PATH: PATH from the image's top layer.
file_of() {
  local layer
  layer=$(jq -r '.layers[-1].digest' "$(blob "$1" "$2")")
  tar -xzOf "$(blob "$1" "$layer")" "$3"
}
build() {  # build USER LOG ARGS...: kiln build as USER, output in LOG
  local as=$1 log=$2; shift 2
  kt_as "$as" "$KT_KILN" build --lint=off --progress=plain "$@" >"$log" 2>&1
}

# --- Two platforms, RUN in each: one index, the arm64 RUN ran arm64 code.
if build "$user" "$KT_WORK/multi.log" --platform linux/amd64,linux/arm64 -t multi:1 --iidfile "$KT_WORK/iid" "$ctx"; then
  kt_ok "two-platform build"
else
  cat "$KT_WORK/multi.log"; kt_fail "two-platform build"; kt_done; exit 1
fi
index=$(cat "$KT_WORK/iid")
raw=$(skopeo inspect --raw "oci:$root:multi:1")
kt_eq "--iidfile is the index digest (the tag's)" "$index" "sha256:$(printf '%s' "$raw" | sha256sum | cut -d' ' -f1)"
kt_eq "the index is an OCI index" application/vnd.oci.image.index.v1+json "$(jq -r .mediaType <<<"$raw")"
kt_eq "the index lists amd64 then arm64" "linux/amd64 linux/arm64" \
  "$(jq -r '[.manifests[].platform | .os + "/" + .architecture] | join(" ")' <<<"$raw")"
amd=$(entry "$root" "$index" amd64)
arm=$(entry "$root" "$index" arm64)
kt_eq "the amd64 image's RUN ran x86_64 code" x86_64 "$(file_of "$root" "$amd" arch)"
kt_eq "the arm64 image's RUN ran aarch64 code (emulated)" aarch64 "$(file_of "$root" "$arm" arch)"
arm_config=$(jq -r .config.digest "$(blob "$root" "$arm")")
kt_eq "the arm64 image's config says arm64" arm64 "$(jq -r .architecture "$(blob "$root" "$arm_config")")"
kt_check "the progress names the platform of each step" grep -q '^#[0-9]* \[linux/arm64 stage-0 2/2\] RUN uname -m' "$KT_WORK/multi.log"
kt_check "single-platform labels do not appear" bash -c "! grep -q '^#[0-9]* \[stage-0 ' '$KT_WORK/multi.log'"

# --- The same build again, nothing cached: the same index.
build "$user" "$KT_WORK/again.log" --no-cache --platform linux/amd64,linux/arm64 --iidfile "$KT_WORK/iid2" \
  -o "type=local,dest=$KT_WORK/local" "$ctx" || { cat "$KT_WORK/again.log"; kt_fail "second build"; }
kt_eq "a second build (--no-cache) gives the same index digest" "$index" "$(cat "$KT_WORK/iid2" 2>/dev/null)"
kt_eq "-o type=local writes a directory per platform" "x86_64 aarch64" \
  "$(cat "$KT_WORK/local/linux_amd64/arch" "$KT_WORK/local/linux_arm64/arch" 2>/dev/null | tr '\n' ' ' | sed 's/ $//')"

# --- --format docker: a Docker manifest list of schema 2 manifests.
# (Read from the store's blobs: skopeo's oci: transport takes only OCI media types.)
build "$user" "$KT_WORK/docker.log" --format docker --platform linux/amd64,linux/arm64 -t multi:docker \
  --iidfile "$KT_WORK/iid-docker" "$ctx" || { cat "$KT_WORK/docker.log"; kt_fail "--format docker build"; }
list=$(cat "$(blob "$root" "$(cat "$KT_WORK/iid-docker")")" 2>/dev/null || true)
kt_eq "--format docker gives a manifest list of schema 2 manifests" \
  "application/vnd.docker.distribution.manifest.list.v2+json application/vnd.docker.distribution.manifest.v2+json" \
  "$(jq -r '[.mediaType, (.manifests | map(.mediaType) | unique | .[])] | join(" ")' <<<"$list")"

# --- --sbom: SBOMs and provenance for each platform's manifest.
printf 'FROM scratch\nCOPY Dockerfile /\n' >"$ctx/Dockerfile.sbom"
chmod a+r "$ctx/Dockerfile.sbom"
build "$user" "$KT_WORK/sbom.log" --sbom --platform linux/amd64,linux/arm64 -f "$ctx/Dockerfile.sbom" "$ctx" ||
  { cat "$KT_WORK/sbom.log"; kt_fail "--sbom build"; }
kt_eq "--sbom attaches provenance to each platform's manifest" 2 "$(grep -c 'attached application/vnd.in-toto+json' "$KT_WORK/sbom.log")"

# --- A step failing on one platform: the error names it, and the other
# platform stops before its next step.
cat >"$ctx/Dockerfile.fails" <<DF
FROM $KT_MULTI_REF
RUN if [ "\$(uname -m)" = x86_64 ]; then exit 3; fi; sleep 3
RUN echo "NEXT-STEP-RAN"
DF
chmod a+r "$ctx/Dockerfile.fails"
if build "$user" "$KT_WORK/fails.log" --platform linux/amd64,linux/arm64 -f "$ctx/Dockerfile.fails" "$ctx"; then
  kt_fail "a RUN failing on amd64 must fail the build"
else
  kt_check "a failing step names its platform" grep -q 'Dockerfile.fails:2: linux/amd64: RUN' "$KT_WORK/fails.log"
  kt_check "the other platform stopped before its next step" bash -c "! grep -q 'NEXT-STEP-RAN\$' '$KT_WORK/fails.log'"
fi

# --- arm64 alone: the same manifest as the index's arm64 entry.
alone=$(kt_as "$user" "$KT_KILN" build --lint=off -q --platform linux/arm64 "$ctx" 2>"$KT_WORK/alone.log") ||
  { cat "$KT_WORK/alone.log"; kt_fail "arm64 build"; }
kt_eq "linux/arm64 alone = the index's arm64 entry" "$arm" "$alone"

# --- Read by the usual tools: a registry, then podman under emulation.
skopeo copy -q --all --dest-tls-verify=false "oci:$root:multi:1" "docker://$KT_REGISTRY/multi:1" >/dev/null ||
  kt_fail "skopeo copy --all of the stored index"
kt_eq "skopeo reads the pushed index" 2 \
  "$(skopeo inspect --raw --tls-verify=false "docker://$KT_REGISTRY/multi:1" | jq '.manifests | length')"
# kiln's own outputs of an index: --push sends every manifest, then the
# index; --sign-by signs the index and each platform's manifest; -o type=oci
# with a .tar dest writes an archive holding all of it.
KT_EXTRA_ENV="KILN_PASSWORD=pw" kt_as "$user" "$KT_KILN" keygen --output-key-prefix "$KT_WORK/cosign" \
  >"$KT_WORK/keygen.log" 2>&1 || { cat "$KT_WORK/keygen.log"; kt_fail "kiln keygen"; }
if KT_EXTRA_ENV="KILN_PASSWORD=pw" build "$user" "$KT_WORK/push.log" --platform linux/amd64,linux/arm64 \
    -t "$KT_REGISTRY/multi:pushed" --push --sign-by "$KT_WORK/cosign.key" \
    -o "type=oci,dest=$KT_WORK/multi-oci.tar" "$ctx"; then
  pushed=$(skopeo inspect --raw --tls-verify=false "docker://$KT_REGISTRY/multi:pushed")
  kt_eq "kiln --push: the registry holds the same index" "$index" "sha256:$(printf '%s' "$pushed" | sha256sum | cut -d' ' -f1)"
  kt_eq "... and the arm64 manifest it lists" arm64 \
    "$(skopeo inspect --config --tls-verify=false "docker://$KT_REGISTRY/multi@$arm" | jq -r .architecture)"
  for d in "$index" "$amd" "$arm"; do
    kt_check "--sign-by pushed a signature for ${d:0:19}" \
      skopeo inspect --raw --tls-verify=false "docker://$KT_REGISTRY/multi:sha256-${d#sha256:}.sig"
  done
  kt_check "kiln verify accepts the signed index" \
    kt_as "$user" "$KT_KILN" verify --key "$KT_WORK/cosign.pub" "$KT_REGISTRY/multi:pushed"
  kt_eq "-o type=oci,dest=X.tar: an archive whose index lists both platforms" 2 \
    "$(skopeo inspect --raw "oci-archive:$KT_WORK/multi-oci.tar" | jq '.manifests | length')"
else
  cat "$KT_WORK/push.log"; kt_fail "two-platform build with --push --sign-by -o type=oci"
fi
# Rootful podman with private storage, as containers_test.sh runs it (the
# rlimits: runc cannot raise them above this machine's).
P=(podman --root "$KT_WORK/podman/root" --runroot "$KT_WORK/podman/run" --storage-driver overlay
  --runtime runc --cgroup-manager cgroupfs --events-backend file)
kt_on_exit "${P[*]} rm -a -f >/dev/null 2>&1; ${P[*]} rmi -a -f >/dev/null 2>&1; umount '$KT_WORK/podman/root/overlay' 2>/dev/null"
kt_eq "podman run --platform linux/arm64 reads the arm64 image" aarch64 \
  "$("${P[@]}" run --rm --network none --ulimit nofile=20000:20000 --ulimit nproc=8192:8192 --tls-verify=false \
     --platform linux/arm64 "$KT_REGISTRY/multi:1" cat /arch 2>"$KT_WORK/podman.log" || cat "$KT_WORK/podman.log" >&2)"

# --- Cross-compile pattern, as kiln-single: the $BUILDPLATFORM stage that
# does not declare TARGETARCH runs once; the one that does runs per target.
cross=$KT_WORK/cross
mkdir -p "$cross"
cat >"$cross/Dockerfile" <<DF
FROM --platform=\$BUILDPLATFORM $KT_MULTI_REF AS tools
RUN echo "TOOLS-RAN-\$((1))" && uname -m > /tools-arch
FROM --platform=\$BUILDPLATFORM $KT_MULTI_REF AS build
ARG TARGETARCH
RUN echo "BUILD-RAN-FOR-\$TARGETARCH" && uname -m > /build-arch && echo \$TARGETARCH > /target
FROM $KT_MULTI_REF
COPY --from=tools /tools-arch /tools-arch
COPY --from=build /build-arch /target /
DF
chmod -R a+rX "$cross"
kt_fresh_root kiln-single >/dev/null
single_root=${KT_ROOT_OF[kiln-single]}
if build kiln-single "$KT_WORK/cross.log" --platform linux/amd64,linux/arm64 --iidfile "$KT_WORK/iid3" "$cross"; then
  kt_ok "cross-compile build as kiln-single"
  kt_eq "the shared \$BUILDPLATFORM stage ran once" 1 "$(grep -c 'TOOLS-RAN-1$' "$KT_WORK/cross.log")"
  kt_eq "the stage declaring TARGETARCH ran per target" 2 "$(grep -c 'BUILD-RAN-FOR-[a-z0-9]*$' "$KT_WORK/cross.log")"
  cross_arm=$(entry "$single_root" "$(cat "$KT_WORK/iid3")" arm64)
  kt_eq "the arm64 image's builder ran on the build machine" x86_64 "$(file_of "$single_root" "$cross_arm" build-arch)"
  kt_eq "... for TARGETARCH=arm64" arm64 "$(file_of "$single_root" "$cross_arm" target)"
else
  cat "$KT_WORK/cross.log"; kt_fail "cross-compile build as kiln-single"
fi

# --- Failures before anything runs, with the store as it was.
store_state() { find "$root" -path "$root/tmp" -prune -o -printf '%P %s\n' | sort; }
before=$(store_state)
if build "$user" "$KT_WORK/s390x.log" --platform linux/s390x -t nope "$ctx"; then
  kt_fail "a base without linux/s390x must fail"
else
  kt_check "a base without the platform names the ones it has" \
    grep -q 'no manifest for platform linux/s390x (available: linux/amd64, linux/arm64' "$KT_WORK/s390x.log"
fi
kt_eq "... and leaves the store as it was" "$before" "$(store_state)"

# No machine here lacks a handler for the architectures kiln knows: a fake
# binfmt_misc directory (enabled, no handlers) stands in for one.
mkdir -p "$KT_WORK/binfmt"
echo enabled >"$KT_WORK/binfmt/status"
chmod -R a+rX "$KT_WORK/binfmt"
printf 'FROM scratch\nCOPY Dockerfile /\nRUN ["/x"]\n' >"$ctx/Dockerfile.riscv"
chmod a+r "$ctx/Dockerfile.riscv"
if KT_EXTRA_ENV="KILN_BINFMT_DIR=$KT_WORK/binfmt" build "$user" "$KT_WORK/riscv.log" --platform linux/riscv64 \
  -f "$ctx/Dockerfile.riscv" "$ctx"; then
  kt_fail "a RUN for a platform without a binfmt handler must fail"
else
  kt_check "no handler: the error names the stage, platform, package and command" \
    grep -q 'stage-0 for linux/riscv64 has RUN steps.*no handler.*apt-get install qemu-user-static' "$KT_WORK/riscv.log"
  kt_check "... before any step ran" bash -c "! grep -q 'COPY Dockerfile' '$KT_WORK/riscv.log'"
fi
kt_eq "... and leaves the store as it was" "$before" "$(store_state)"
kt_done
