#!/usr/bin/env bash
# What a two-platform build (issue 23) gives beyond the index itself, with no
# emulation needed (no RUN), as kiln-ranged:
#   - -o type=tar: one directory per platform at the top of the tar
#     (linux_amd64/..., linux_arm64/...), as buildx writes it;
#   - kiln sbom of the tag naming the index: every platform's SBOM (the
#     attached one after --sbom), or the one --platform picks, stderr
#     saying which;
#   - --metadata-file: containerimage.digest and .descriptor of the index;
#   - the steps of a $BUILDPLATFORM stage before its ARG TARGETARCH run once;
#   - kiln images / kiln inspect list the index's platforms; the progress
#     names each step's platform.
source "$(dirname "$0")/lib.sh"
kt_begin_registry_test
kt_push_multiarch_busybox
U=kiln-ranged
kt_fresh_root "$U" >/dev/null
chmod 0777 "$KT_WORK"
k() { kt_as "$U" "$KT_KILN" "$@"; }
PLATS=linux/amd64,linux/arm64

ctx=$KT_WORK/ctx
mkdir -p "$ctx"
printf 'hello\n' >"$ctx/hello"
printf 'FROM %s\nCOPY hello /hello\nLABEL t=index-exports\n' "$KT_MULTI_REF" >"$ctx/Dockerfile"
chmod -R a+rX "$ctx"

# ---- the build: tagged, with --metadata-file and --iidfile ----
if k build --lint=off --progress=plain --platform "$PLATS" -t mp-exports:1 --iidfile "$KT_WORK/iid" \
    --metadata-file "$KT_WORK/md.json" "$ctx" >"$KT_WORK/build.log" 2>&1; then
  kt_ok "two-platform build without RUN"
else
  cat "$KT_WORK/build.log"; kt_fail "two-platform build without RUN"; kt_done; exit 1
fi
index=$(cat "$KT_WORK/iid")
kt_check "progress: each step names its platform" grep -q '^#[0-9]* \[linux/arm64 stage-0 2/2\] COPY hello /hello' "$KT_WORK/build.log"
kt_eq "--metadata-file: containerimage.digest is the index's" "$index" "$(jq -r '."containerimage.digest"' "$KT_WORK/md.json")"
kt_eq "--metadata-file: containerimage.descriptor is the index's" "application/vnd.oci.image.index.v1+json $index" \
  "$(jq -r '."containerimage.descriptor" | .mediaType + " " + .digest' "$KT_WORK/md.json")"
kt_eq "--metadata-file: no config digest for an index" "null" "$(jq -r '."containerimage.config.digest"' "$KT_WORK/md.json")"
kt_eq "--metadata-file: image.name" "mp-exports:1" "$(jq -r '."image.name"' "$KT_WORK/md.json")"
kt_eq "kiln images --json: the tag names the index, with its platforms" "$index linux/amd64 linux/arm64" \
  "$(k images --json | jq -r '.[] | select(.name == "mp-exports:1") | [.digest] + .platforms | join(" ")')"
kt_eq "kiln inspect: the index's platforms" "linux/amd64 linux/arm64" "$(k inspect mp-exports:1 | jq -r '.platforms | join(" ")')"

# ---- -o type=tar: a directory per platform ----
# e_machine of an ELF file in the tar: 62 x86-64, 183 aarch64.
machine() { python3 -c "
import sys, tarfile
with tarfile.open(sys.argv[1]) as t:
    print(int.from_bytes(t.extractfile(sys.argv[2]).read(20)[18:20], 'little'))" "$@"; }
if k build --lint=off --progress=plain --platform "$PLATS" -o "type=tar,dest=$KT_WORK/fs.tar" "$ctx" \
    >"$KT_WORK/tar.log" 2>&1; then
  kt_ok "-o type=tar of a two-platform build"
  kt_eq "the tar: the platform directories at its top" "linux_amd64 linux_arm64" \
    "$(tar -tf "$KT_WORK/fs.tar" | sed 's|^\./||' | cut -d/ -f1 | grep . | sort -u | tr '\n' ' ' | sed 's/ $//')"
  kt_eq "the tar: each platform's file" "hello hello" \
    "$(tar -xOf "$KT_WORK/fs.tar" linux_amd64/hello linux_arm64/hello 2>/dev/null | tr '\n' ' ' | sed 's/ $//')"
  kt_eq "the tar: each platform's own busybox (x86-64, aarch64)" "62 183" \
    "$(machine "$KT_WORK/fs.tar" linux_amd64/bin/busybox) $(machine "$KT_WORK/fs.tar" linux_arm64/bin/busybox)"
  kt_eq "the tar: the image's owners kept" "0/0" \
    "$(tar -tvf "$KT_WORK/fs.tar" linux_arm64/hello | awk '{print $2}' | sed 's|root/root|0/0|')"
else
  cat "$KT_WORK/tar.log"; kt_fail "-o type=tar of a two-platform build"
fi

# ---- kiln sbom of the index: each platform's, or the one --platform picks ----
if k sbom mp-exports:1 >"$KT_WORK/sbom.json" 2>"$KT_WORK/sbom.err"; then
  kt_eq "sbom of an index: one SPDX document per platform" "2 SPDX-2.3 SPDX-2.3" \
    "$(jq -s -r '[length] + map(.spdxVersion) | join(" ")' "$KT_WORK/sbom.json")"
  kt_check "sbom of an index: stderr says it is one per platform" grep -q "multi-platform index: one .* per platform (2)" "$KT_WORK/sbom.err"
  kt_check "sbom of an index: stderr names each platform" \
    sh -c "grep -q '\[linux/amd64\]' '$KT_WORK/sbom.err' && grep -q '\[linux/arm64\]' '$KT_WORK/sbom.err'"
else
  cat "$KT_WORK/sbom.err"; kt_fail "kiln sbom of a tag naming an index"
fi
if k sbom --platform linux/arm64 mp-exports:1 >"$KT_WORK/sbom-arm.json" 2>"$KT_WORK/sbom-arm.err"; then
  kt_eq "sbom --platform: one document" "1" "$(jq -s length "$KT_WORK/sbom-arm.json")"
  arm=$(k inspect mp-exports:1 | jq -r '.manifests[] | select(.platform == "linux/arm64") | .digest')
  kt_check "sbom --platform: the arm64 manifest's" grep -qF "[linux/arm64] ($arm)" "$KT_WORK/sbom-arm.err"
else
  cat "$KT_WORK/sbom-arm.err"; kt_fail "kiln sbom --platform linux/arm64 of an index"
fi
if k sbom --platform linux/s390x mp-exports:1 >/dev/null 2>"$KT_WORK/sbom-s390x.err"; then
  kt_fail "sbom --platform of a platform the index lacks fails"
else
  kt_check "sbom --platform linux/s390x: names the platforms there are" grep -q "linux/arm64" "$KT_WORK/sbom-s390x.err"
fi
# ---- a $BUILDPLATFORM stage's steps before ARG TARGETARCH: run once ----
# The stage is one instance per target (it declares TARGETARCH), but the
# steps before that line are the same step in both: one runs it, the other
# waits for its cache entry instead of running it alongside.
cross=$KT_WORK/cross
mkdir -p "$cross"
printf '%s\n' "FROM --platform=\$BUILDPLATFORM $KT_MULTI_REF AS build" 'RUN sleep 1 && echo common >/common' \
  'ARG TARGETARCH' 'RUN echo "$TARGETARCH" >/target' "FROM $KT_MULTI_REF" 'COPY --from=build /common /target /out/' \
  >"$cross/Dockerfile"
chmod -R a+rX "$cross"
if k build --lint=off --progress=plain --platform "$PLATS" -t mp-cross:1 "$cross" >"$KT_WORK/cross.log" 2>&1; then
  kt_check "the shared step ran once, the other instance took its entry (5 run, 1 cached)" \
    grep -q "^built mp-cross:1 .*(5 steps run, 1 cached)" "$KT_WORK/cross.log"
else
  cat "$KT_WORK/cross.log"; kt_fail "two-platform build of a \$BUILDPLATFORM stage with ARG TARGETARCH"
fi

# Built with --sbom: each platform's attached SBOM, not a generated one.
if k build --lint=off -q --sbom --platform "$PLATS" -t mp-exports:sbom "$ctx" >"$KT_WORK/build-sbom.log" 2>&1 &&
   k sbom mp-exports:sbom >"$KT_WORK/sbom-att.json" 2>"$KT_WORK/sbom-att.err"; then
  kt_eq "sbom of an index built with --sbom: each platform's attached one" "2" \
    "$(grep -c 'attached to sha256:[0-9a-f]* \[linux/\(amd64\|arm64\)\] (artifact' "$KT_WORK/sbom-att.err")"
  kt_eq "sbom of an index built with --sbom: two documents" "2" "$(jq -s length "$KT_WORK/sbom-att.json")"
else
  cat "$KT_WORK/build-sbom.log" "$KT_WORK/sbom-att.err"; kt_fail "kiln sbom of an index built with --sbom"
fi

kt_done
