#!/usr/bin/env bash
# Multi-platform indexes through everything that takes an image (issue 23),
# without a multi-platform build: a two-platform busybox index (made by
# lib.sh with umoci, skopeo and curl) pulled whole with
# `kiln pull --all-platforms`, then
#   - listed with its platforms (kiln images, kiln inspect, inspect --remote),
#   - used as a base by its tag (the host's manifest),
#   - exported to an OCI layout dir and tar (read back by skopeo and umoci),
#   - refused as a docker archive, naming the way out,
#   - pushed to the test registry (every manifest, then the index; read back
#     by skopeo; a re-push uploads nothing; pulled back to the same digest),
#   - signed and verified, index and each manifest, locally and in the registry.
# As kiln-ranged.
source "$(dirname "$0")/lib.sh"

kt_require_root
kt_workdir
kt_setup_users
kt_start_registry
kt_push_multiarch_busybox
command -v skopeo >/dev/null || kt_fail "skopeo is not installed (scripts/setup.sh --test)"
command -v umoci >/dev/null || kt_fail "umoci is not installed (scripts/setup.sh --test)"

U=kiln-ranged
kt_fresh_root "$U" >/dev/null
OUT=$KT_WORK/out
mkdir -p "$OUT"
chown "$U:" "$OUT"
k() { kt_as "$U" "$KT_KILN" "$@"; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

REF=$KT_MULTI_REF
RAW=$(skopeo inspect --raw --tls-verify=false "docker://$REF")
INDEX=sha256:$(printf '%s' "$RAW" | sha256sum | cut -d' ' -f1)
ARM=$(printf '%s' "$RAW" | json '[m["digest"] for m in d["manifests"] if m["platform"]["architecture"]=="arm64"][0]')
AMD=$(printf '%s' "$RAW" | json '[m["digest"] for m in d["manifests"] if m["platform"]["architecture"]=="amd64"][0]')
NAME=${REF#*/}   # kiln names it as pulled: 127.0.0.1:PORT/busybox-multi:latest
NAME=$KT_REGISTRY/$NAME

# ---- pull --all-platforms: the tag names the index ----
if k pull --insecure --all-platforms "$REF" >"$KT_WORK/pull.log" 2>&1; then kt_ok "pull --all-platforms"
else cat "$KT_WORK/pull.log"; kt_fail "pull --all-platforms"; fi
kt_eq "kiln images: the tag names the index" "$INDEX" \
  "$(k images --json | json "[i['digest'] for i in d if i['name']=='$NAME'][0]")"
kt_eq "kiln images --json: its platforms" "linux/amd64 linux/arm64/v8" \
  "$(k images --json | json "' '.join([i for i in d if i['name']=='$NAME'][0]['platforms'])")"
k images >"$KT_WORK/images.txt"
kt_check "kiln images: a platforms line under the index" grep -q "platforms: linux/amd64, linux/arm64/v8" "$KT_WORK/images.txt"
kt_eq "kiln inspect: platforms, both manifests in the store" "linux/amd64 linux/arm64/v8 True True" \
  "$(k inspect "$NAME" | json "' '.join(d['platforms'] + [str(m['inStore']) for m in d['manifests']])")"
kt_eq "kiln inspect --remote: the registry's index and platforms" "$INDEX linux/amd64 linux/arm64/v8" \
  "$(k inspect --remote --insecure "$REF" | json "' '.join([d['digest']] + d['platforms'])")"
kt_eq "kiln inspect DIGEST of a platform's manifest: its config" "arm64" \
  "$(k inspect "$ARM" | json "d['config']['architecture']")"

# ---- a tag naming an index serves as a base: the host's manifest ----
printf 'FROM %s\nLABEL from=index\nUSER 65532\n' "$NAME" >"$OUT/Dockerfile"
chown "$U:" "$OUT/Dockerfile"
if k build -q -t from-index:1 -f "$OUT/Dockerfile" "$OUT" >"$KT_WORK/build.log" 2>&1; then
  kt_eq "FROM an index tag: built on the host platform's manifest" "amd64" \
    "$(k inspect from-index:1 | json "d['config']['architecture']")"
else cat "$KT_WORK/build.log"; kt_fail "FROM an index tag builds"; fi

# ---- OCI layout dir and tar: the index with every manifest ----
k push "$NAME" "oci:$OUT/layout:multi" >"$KT_WORK/layout.log" 2>&1 || { cat "$KT_WORK/layout.log"; kt_fail "export to oci:DIR"; }
kt_eq "layout: skopeo reads the index raw" "$RAW" "$(skopeo inspect --raw "oci:$OUT/layout:multi")"
kt_eq "layout: index.json names the index, annotated with the tag" "$INDEX multi" \
  "$(json "d['manifests'][0]['digest'] + ' ' + d['manifests'][0]['annotations']['org.opencontainers.image.ref.name']" <"$OUT/layout/index.json")"
kt_eq "layout: skopeo resolves arm64 in it" "arm64" \
  "$(skopeo --override-arch arm64 inspect "oci:$OUT/layout:multi" | json "d['Architecture']")"
kt_check "layout: both platforms' manifests are blobs of it" \
  test -s "$OUT/layout/blobs/sha256/${ARM#sha256:}" -a -s "$OUT/layout/blobs/sha256/${AMD#sha256:}"
kt_check "layout: umoci lists the tag" sh -c "umoci ls --layout '$OUT/layout' | grep -qx multi"
kt_check "layout: skopeo copies every platform out" \
  skopeo copy -q --all "oci:$OUT/layout:multi" "oci:$KT_WORK/copied:multi"
k push "$NAME" "oci-archive:$OUT/multi.tar:multi" >"$KT_WORK/tar.log" 2>&1 || { cat "$KT_WORK/tar.log"; kt_fail "export to oci-archive:"; }
kt_eq "oci archive: skopeo reads the index raw" "$RAW" "$(skopeo inspect --raw "oci-archive:$OUT/multi.tar:multi")"
kt_eq "oci archive: the arm64 image inside" "arm64" \
  "$(skopeo --override-arch arm64 inspect "oci-archive:$OUT/multi.tar:multi" | json "d['Architecture']")"

# ---- docker archive: refused, naming the way out ----
if k push "$NAME" "docker-archive:$OUT/docker.tar" >"$KT_WORK/docker.log" 2>&1; then
  kt_fail "docker archive of an index is refused"
else
  kt_check "docker archive refused: names the platforms, -o type=oci and --platform" \
    grep -q "multi-platform index (linux/amd64, linux/arm64/v8).*-o type=oci.*--platform" "$KT_WORK/docker.log"
  kt_check "docker archive refused: no file left" test ! -e "$OUT/docker.tar"
fi

# ---- push: every manifest, then the index under the tag ----
DEST=$KT_REGISTRY/pushed/multi:1
if k push --insecure "$NAME" "$DEST" >"$KT_WORK/push.log" 2>&1; then kt_ok "push of an index"
else cat "$KT_WORK/push.log"; kt_fail "push of an index"; fi
kt_eq "push: skopeo reads the same index under the tag" "$RAW" \
  "$(skopeo inspect --raw --tls-verify=false "docker://$DEST")"
kt_eq "push: the arm64 manifest is there by digest" "$ARM" \
  "sha256:$(skopeo inspect --raw --tls-verify=false "docker://${DEST%:1}@$ARM" | sha256sum | cut -d' ' -f1)"
kt_eq "push: skopeo resolves the arm64 image" "arm64" \
  "$(skopeo --override-arch arm64 inspect --tls-verify=false "docker://$DEST" | json "d['Architecture']")"
k push --insecure "$NAME" "$DEST" >"$KT_WORK/repush.log" 2>&1 || { cat "$KT_WORK/repush.log"; kt_fail "re-push"; }
kt_check "re-push: nothing uploaded" grep -q "(0 uploaded" "$KT_WORK/repush.log"
kt_fresh_root "$U" >/dev/null
k pull --insecure --all-platforms "$DEST" >"$KT_WORK/pull2.log" 2>&1 || { cat "$KT_WORK/pull2.log"; kt_fail "pull back"; }
kt_eq "pull of the kiln-pushed index: same digest" "$INDEX" \
  "$(k images --json | json "[i['digest'] for i in d if i['name']=='$DEST'][0]")"

# ---- sign and verify: the index and each manifest ----
KEYS=$KT_WORK/keys
mkdir -p "$KEYS"; chown "$U:" "$KEYS"
ks() { kt_as "$U" env KILN_PASSWORD=pw "$KT_KILN" "$@"; }
ks keygen --output-key-prefix "$KEYS/k" >/dev/null 2>&1 || kt_fail "keygen"
ks sign --key "$KEYS/k.key" "$DEST" >"$KT_WORK/sign.out" 2>"$KT_WORK/sign.err" || { cat "$KT_WORK/sign.err"; kt_fail "sign"; }
kt_eq "sign: the index and both manifests" "3" "$(wc -l <"$KT_WORK/sign.out")"
if k verify --key "$KEYS/k.pub" "$DEST" >"$KT_WORK/verify.out" 2>&1; then
  kt_eq "verify: index and both manifests verified" "3" "$(grep -c "Verified OK" "$KT_WORK/verify.out")"
else cat "$KT_WORK/verify.out"; kt_fail "verify of a signed index"; fi
# One platform's signature gone: verify fails naming that manifest.
k rmi "$KT_REGISTRY/pushed/multi:sha256-${ARM#sha256:}.sig" >/dev/null 2>&1 || kt_fail "rmi the arm64 signature"
if k verify --key "$KEYS/k.pub" "$DEST" >"$KT_WORK/verify2.out" 2>&1; then
  kt_fail "verify fails when one manifest is unsigned"
else
  kt_check "verify names the unsigned manifest and its platform" \
    grep -q "manifest $ARM (linux/arm64/v8): .*no signature" "$KT_WORK/verify2.out"
fi
# In the registry: signatures pushed next to the index, verified from there.
ks sign --key "$KEYS/k.key" --push "$KT_REGISTRY/pushed/multi" "$DEST" >/dev/null 2>"$KT_WORK/sign-push.err" ||
  { cat "$KT_WORK/sign-push.err"; kt_fail "sign --push"; }
if k verify --remote --insecure --key "$KEYS/k.pub" "$DEST" >"$KT_WORK/verify3.out" 2>&1; then
  kt_eq "verify --remote: index and both manifests verified from the registry" "3" \
    "$(grep -c "Verified OK.*(registry)" "$KT_WORK/verify3.out")"
else cat "$KT_WORK/verify3.out"; kt_fail "verify --remote of a signed index"; fi

kt_done
