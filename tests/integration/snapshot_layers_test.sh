#!/usr/bin/env bash
# Layers of a stage nothing exports are uncompressed snapshots (no gzip for
# what only COPY --from reads); when a later build exports that stage from the
# cache, its layers are compressed then, once, to the bytes a cold build of it
# writes (the same manifest digest).
source "$(dirname "$0")/lib.sh"
kt_require_root
kt_workdir
kt_setup_user kiln-single
ctx=$KT_WORK/ctx
mkdir -p "$ctx/data"
python3 -c '
import random, sys
r = random.Random(27)
with open(sys.argv[1], "w") as f:
    for i in range(60000):
        f.write("line %d %s\n" % (i, " ".join(r.choice(["kiln", "layer", "snapshot", "stage"]) for _ in range(6))))
' "$ctx/data/big.txt"
printf 'one\n' >"$ctx/data/one"
printf 'FROM scratch AS build\nCOPY data/ /data/\nFROM scratch\nCOPY --from=build /data/one /one\n' >"$ctx/Dockerfile"
chmod -R a+rX "$KT_WORK"

# blob_kinds ROOT: "tar N" / "gzip N" / "other N": blobs of 1 MB or more by format.
blob_kinds() {
  python3 - "$1" <<'PY'
import os, sys, collections
kinds = collections.Counter()
d = os.path.join(sys.argv[1], "blobs", "sha256")
for n in os.listdir(d):
    p = os.path.join(d, n)
    if os.path.getsize(p) < 1 << 20:
        continue
    head = open(p, "rb").read(265)
    kinds["gzip" if head[:2] == b"\x1f\x8b" else "tar" if head[257:262] == b"ustar" else "other"] += 1
print(" ".join(f"{k} {v}" for k, v in sorted(kinds.items())) or "none")
PY
}
# layer_types ROOT DIGEST: the media types of the manifest's layers.
layer_types() {
  python3 -c 'import json, sys; print(" ".join(l["mediaType"].rsplit(".", 1)[-1] for l in json.load(open(sys.argv[1]))["layers"]))' \
    "$1/blobs/sha256/${2#sha256:}"
}

kt_fresh_root kiln-single >/dev/null
a=${KT_ROOT_OF[kiln-single]}
kt_check "multi-stage build" kt_as kiln-single "$KT_KILN" build -q --lint=off "$ctx" >/dev/null
kt_eq "the intermediate stage's 3 MB layer is an uncompressed snapshot" "tar 1" "$(blob_kinds "$a")"

exported=$(kt_as kiln-single "$KT_KILN" build -q --lint=off --target build "$ctx" 2>/dev/null) || kt_fail "--target build from the cache"
kt_eq "exported from the cache, the stage's layer is gzip" "tar+gzip" "$(layer_types "$a" "$exported")"
blobs=$(ls "$a/blobs/sha256" | wc -l)
again=$(kt_as kiln-single "$KT_KILN" build -q --lint=off --target build "$ctx" 2>/dev/null) || kt_fail "--target build again"
kt_eq "a second export gives the same image" "$exported" "$again"
kt_eq "and writes no blob: the compressed layer is remembered" "$blobs" "$(ls "$a/blobs/sha256" | wc -l)"

kt_fresh_root kiln-single >/dev/null
cold=$(kt_as kiln-single "$KT_KILN" build -q --lint=off --target build "$ctx" 2>/dev/null) || kt_fail "cold --target build"
kt_eq "the same digest as a cold build of that stage" "$cold" "$exported"
kt_done
