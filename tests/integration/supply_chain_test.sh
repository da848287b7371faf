#!/bin/bash
# The supply-chain steps of `kiln build` and the CLI around them, as
# kiln-ranged: setuid bits stripped by default (and kept with --strip=off),
# a secret deleted in a later layer still fails the build, a clean image
# passes, `kiln sbom` prints SPDX 2.3, keygen/sign/verify round trip and a
# wrong key fails verification. Then attach and push: a Debian-style base
# (busybox + a hand-written dpkg status) built --sbom --push to docker-registry
# (no referrers API), and the SBOMs, provenance and a signature found again
# from the registry by kiln-single with an empty store.
source "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || kt_skip "python3 not installed"
kt_begin_build_test
U=kiln-ranged
kt_fresh_root "$U" >/dev/null
TREE="python3 $KT_SRC/tests/integration/image_tree.py tree"

udir() { mkdir -p "$2"; chown "$1:" "$2"; echo "$2"; }
# mkctx NAME: a context dir whose Dockerfile is read from stdin.
mkctx() { local d=$KT_WORK/ctx-$1; mkdir -p "$d"; cat >"$d/Dockerfile"; chmod -R a+rX "$d"; echo "$d"; }
OUT=$(udir "$U" "$KT_WORK/out")
fails() { ! "$@" 2>/dev/null; }
build() { kt_as "$U" "$KT_KILN" build --lint=off --progress=plain "$@"; }

# ---- setuid stripped by default ----
SU=$(mkctx su <<DF
FROM oci:$BB:latest
RUN cp /bin/busybox /su && chmod 4755 /su
DF
)
if build -t su:1 --iidfile "$OUT/su.iid" --output "type=oci,dest=$OUT/su" "$SU" >"$KT_WORK/su.log" 2>&1; then
  kt_ok "build with a setuid file"
  kt_check "build output names /su" grep -q "stripped setuid/setgid: /su" "$KT_WORK/su.log"
  kt_eq "/su without the setuid bit" "0755" "$($TREE "$OUT/su" '' | awk '$1 == "/su" {print $3}')"
else
  cat "$KT_WORK/su.log"; kt_fail "build with a setuid file"
fi
# Rebuilt: the strip and secret passes are remembered, not rerun (no layer is
# read again), and say the same; the image is the same. Besides the image's
# two entries, the memo holds one per layer (seen clean, no set bits).
memos=$(kt_as "$U" sh -c 'ls "$KILN_ROOT/cache/finalize" | wc -l')
if build -t su:1 --iidfile "$OUT/su2.iid" "$SU" >"$KT_WORK/su2.log" 2>&1; then
  kt_eq "rebuild: the same image" "$(cat "$OUT/su.iid")" "$(cat "$OUT/su2.iid" 2>/dev/null)"
  kt_check "rebuild: still names /su" grep -q "stripped setuid/setgid: /su" "$KT_WORK/su2.log"
  kt_eq "rebuild: strip and secret scan remembered (no new memo entry)" "$memos" \
    "$(kt_as "$U" sh -c 'ls "$KILN_ROOT/cache/finalize" | wc -l')"
  kt_check "rebuild: the image's two memo entries and the layers' are there" [ "$memos" -ge 3 ]
else
  cat "$KT_WORK/su2.log"; kt_fail "rebuild with a setuid file"
fi

# A new image on that one (its layers: busybox, the RUN that made /su 4755,
# the strip layer): the setuid pass remembered the set-bit state of the base's
# layers and reads only the layers above them. Shown with the blobs of the
# two lower layers overwritten by garbage for the build (restored after).
ROOT=${KT_ROOT_OF[$U]}
lower=$(python3 - "$ROOT" <<'PY'
import json, sys
root = sys.argv[1]
blob = lambda d: f"{root}/blobs/sha256/{d.split(':')[1]}"
idx = json.load(open(f"{root}/index.json"))
m = next(m for m in idx["manifests"] if m.get("annotations", {}).get("org.opencontainers.image.ref.name", "").endswith("su:1"))
layers = json.load(open(blob(m["digest"])))["layers"]
print(" ".join(blob(l["digest"]) for l in layers[:2]))
PY
)
ON_SU=$(mkctx on-su <<DF
FROM su:1
RUN echo more > /more
DF
)
for b in $lower; do cp -p "$b" "$b.saved" && echo garbage >"$b"; done
if build -t su:3 "$ON_SU" >"$KT_WORK/su3.log" 2>&1; then
  kt_ok "an image on a setuid base: the base's layer blobs not read for the strip"
else
  cat "$KT_WORK/su3.log"; kt_fail "an image on a setuid base: the base's layer blobs not read for the strip"
fi
for b in $lower; do mv -f "$b.saved" "$b"; done

# ---- --strip=off keeps it ----
if build --strip=off -t su:2 --output "type=oci,dest=$OUT/su-off" "$SU" >"$KT_WORK/su-off.log" 2>&1; then
  kt_eq "--strip=off keeps setuid" "4755" "$($TREE "$OUT/su-off" '' | awk '$1 == "/su" {print $3}')"
else
  cat "$KT_WORK/su-off.log"; kt_fail "build --strip=off"
fi

# ---- a secret written in one layer and deleted in the next ----
SECRET=$(mkctx secret <<DF
FROM oci:$BB:latest
RUN printf 'aws_access_key_id = AKIA%s\n' Q3EGUMJXHZ4TW7NB > /f
RUN rm /f
DF
)
if build -t secret:1 "$SECRET" >"$KT_WORK/secret.log" 2>&1; then
  cat "$KT_WORK/secret.log"; kt_fail "deleted secret fails the build"
else
  kt_ok "deleted secret fails the build"
  kt_check "failure names /f" grep -q "kiln: secret: .*: /f:1: aws-access-key-id" "$KT_WORK/secret.log"
fi
kt_check "--secret-scan=off builds it" build --secret-scan=off -t secret:2 "$SECRET" >/dev/null 2>&1
kt_check "--allow-secret /f builds it" build --allow-secret /f -t secret:3 "$SECRET" >/dev/null 2>&1

# ---- a clean image passes, with SBOM + provenance attached ----
CLEAN=$(mkctx clean <<DF
FROM oci:$BB:latest
RUN echo hello > /hello.txt
DF
)
if build --sbom -t clean:1 "$CLEAN" >"$KT_WORK/clean.log" 2>&1; then
  kt_ok "clean image builds"
  kt_check "--sbom attaches SPDX" grep -q "attached application/spdx+json" "$KT_WORK/clean.log"
  kt_check "--sbom attaches provenance" grep -q "attached application/vnd.in-toto+json" "$KT_WORK/clean.log"
else
  cat "$KT_WORK/clean.log"; kt_fail "clean image builds"
fi

# ---- kiln sbom ----
if kt_as "$U" "$KT_KILN" sbom clean:1 >"$KT_WORK/sbom.json" 2>"$KT_WORK/sbom.err"; then
  kt_eq "sbom is SPDX-2.3 JSON" "SPDX-2.3" \
    "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["spdxVersion"])' "$KT_WORK/sbom.json")"
else
  cat "$KT_WORK/sbom.err"; kt_fail "kiln sbom"
fi
if kt_as "$U" "$KT_KILN" sbom --format cyclonedx-json clean:1 >"$KT_WORK/cdx.json" 2>/dev/null; then
  kt_eq "cyclonedx bomFormat" "CycloneDX" \
    "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["bomFormat"])' "$KT_WORK/cdx.json")"
else
  kt_fail "kiln sbom --format cyclonedx-json"
fi

# ---- keygen, sign, verify ----
KEYS=$(udir "$U" "$KT_WORK/keys")
KT_EXTRA_ENV=KILN_PASSWORD=pw
kt_check "keygen" kt_as "$U" "$KT_KILN" keygen --output-key-prefix "$KEYS/good"
kt_check "keygen (other key)" kt_as "$U" "$KT_KILN" keygen --output-key-prefix "$KEYS/bad"
kt_check "sign" kt_as "$U" "$KT_KILN" sign clean:1 --key "$KEYS/good.key"
kt_check "verify with the right key" kt_as "$U" "$KT_KILN" verify clean:1 --key "$KEYS/good.pub"
kt_check "verify with the wrong key fails" fails kt_as "$U" "$KT_KILN" verify clean:1 --key "$KEYS/bad.pub"
KT_EXTRA_ENV=
# `kiln images` lists images; the SBOM/provenance referrers and the signature
# of clean:1 show under it, and as entries of their own only with --all.
images=$(kt_as "$U" "$KT_KILN" images -q)
kt_check "kiln images -q: no artifact tags" test -z "$(grep -E ':sha256-[0-9a-f]{64}' <<<"$images")"
kt_check "kiln images -q: clean:1 listed" grep -qx "clean:1" <<<"$images"
images=$(kt_as "$U" "$KT_KILN" images)
kt_check "kiln images: the signature under clean:1" grep -qx "  + signature" <<<"$images"
kt_check "kiln images: the SBOM referrers under clean:1" grep -q "^  + referrers: .*application/spdx+json" <<<"$images"
kt_eq "kiln images --all: artifact tags too" 2 "$(kt_as "$U" "$KT_KILN" images -q --all | grep -cE ':sha256-[0-9a-f]{64}(\.sig)?$')"
kt_check "keygen without a password or TTY fails" fails env -u KILN_PASSWORD "$KT_KILN" keygen --output-key-prefix "$KT_WORK/nopw" </dev/null

# ---- attach and push: SBOM + provenance referrers through the registry ----
if ! command -v docker-registry >/dev/null || ! command -v skopeo >/dev/null; then
  echo "# docker-registry or skopeo not installed: attach and push not tested"
  kt_done; exit
fi
kt_start_registry
REG=$KT_REGISTRY
# A Debian-style base: busybox plus a dpkg database of 4 packages (one only
# "config-files": not installed), DEP-5 copyright files and os-release.
DEB=$KT_WORK/ctx-debian
mkdir -p "$DEB/root/var/lib/dpkg" "$DEB/root/etc" "$DEB/root/usr/share/doc/zlib1g" "$DEB/root/usr/share/doc/tzdata"
cat >"$DEB/root/var/lib/dpkg/status" <<'ST'
Package: base-files
Status: install ok installed
Priority: required
Architecture: amd64
Version: 12.4+deb12u5
Maintainer: Santiago Vila <sanvila@debian.org>
Description: Debian base system miscellaneous files

Package: zlib1g
Status: install ok installed
Architecture: amd64
Source: zlib
Version: 1:1.2.13.dfsg-1
Maintainer: Mark Brown <broonie@debian.org>
Description: compression library - runtime

Package: tzdata
Status: install ok installed
Architecture: all
Version: 2024a-0+deb12u1
Maintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>
Description: time zone and daylight-saving time data

Package: oldpkg
Status: deinstall ok config-files
Architecture: amd64
Version: 0.9-1
Description: removed, conffiles left
ST
printf 'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\nUpstream-Name: zlib\n\nFiles: *\nCopyright: 1995-2022 Jean-loup Gailly and Mark Adler\nLicense: Zlib\n' \
  >"$DEB/root/usr/share/doc/zlib1g/copyright"
printf 'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\nFiles: *\nCopyright: none\nLicense: public-domain\n' \
  >"$DEB/root/usr/share/doc/tzdata/copyright"
printf 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n' >"$DEB/root/etc/os-release"
printf 'FROM oci:%s:latest\nCOPY root/ /\n' "$BB" >"$DEB/Dockerfile"
chmod -R a+rX "$DEB"
APP=$(mkctx app <<DF
FROM $REG/debian-style:12
COPY app.txt /opt/app.txt
DF
)
echo app >"$APP/app.txt"; echo never-read >"$APP/unused.txt"; echo 'ignored.txt' >"$APP/.dockerignore"; echo x >"$APP/ignored.txt"
chmod -R a+rX "$APP"
S=kiln-single
kt_fresh_root "$S" >/dev/null
SOUT=$(udir "$S" "$KT_WORK/single")
kis() { kt_as "$S" "$KT_KILN" "$@"; }
PKGS=(base-files=12.4+deb12u5=amd64 zlib1g=1:1.2.13.dfsg-1=amd64=Zlib tzdata=2024a-0+deb12u1=all)

if build -o "type=registry,name=$REG/debian-style:12" "$DEB" >"$KT_WORK/deb.log" 2>&1 &&
   build --sbom --push -t "$REG/app:1" "$APP" >"$KT_WORK/app.log" 2>&1; then
  kt_ok "Debian-style base pushed, app built --sbom --push"
  kt_check "push names the 3 referrers and the fallback tag" \
    grep -q "pushed 3 referrer(s) of sha256:.* (fallback index sha256-" "$KT_WORK/app.log"
else
  cat "$KT_WORK/deb.log" "$KT_WORK/app.log"; kt_fail "Debian-style base and --sbom --push"
fi
DIGEST=$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$REG/app:1" 2>/dev/null || true)
BASE_DIGEST=$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$REG/debian-style:12" 2>/dev/null || true)
skopeo inspect --tls-verify=false --raw "docker://$REG/app:${DIGEST/:/-}" >"$KT_WORK/fallback.json" 2>&1 || true
kt_eq "skopeo reads the fallback index tag" "application/vnd.oci.image.index.v1+json" \
  "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["mediaType"])' "$KT_WORK/fallback.json" 2>&1)"
kt_eq "fallback index lists 3 artifacts" "3" \
  "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["manifests"]))' "$KT_WORK/fallback.json" 2>&1)"

# `kiln push IMAGE DEST` carries the referrers along; pushing again sends nothing.
if kt_as "$U" "$KT_KILN" push "$REG/app:1" "$REG/copy:1" >"$KT_WORK/push-copy.log" 2>&1; then
  kt_check "kiln push IMAGE DEST: 3 referrers pushed with the image" \
    grep -q "pushed 3 referrer(s) of $DIGEST to $REG/copy (fallback index" "$KT_WORK/push-copy.log"
  kt_eq "the copy's fallback index lists 3 artifacts" "3" \
    "$(skopeo inspect --tls-verify=false --raw "docker://$REG/copy:${DIGEST/:/-}" |
       python3 -c 'import json,sys; print(len(json.load(sys.stdin)["manifests"]))' 2>&1)"
else
  cat "$KT_WORK/push-copy.log"; kt_fail "kiln push IMAGE DEST with referrers"
fi
puts_before=$(grep -c '"PUT ' "$KT_REGISTRY_LOG" || true)
if kt_as "$U" "$KT_KILN" push "$REG/app:1" "$REG/copy:1" >"$KT_WORK/repush.log" 2>&1; then
  kt_check "re-push: manifest and referrers already there" \
    grep -q "already listed by $REG/copy" "$KT_WORK/repush.log"
  kt_eq "re-push: no PUT reached the registry" "$puts_before" "$(grep -c '"PUT ' "$KT_REGISTRY_LOG" || true)"
else
  cat "$KT_WORK/repush.log"; kt_fail "kiln push again"
fi

# Found again by another user with an empty store: from the registry only.
if kis sbom "$REG/app:1" >"$KT_WORK/r-spdx.json" 2>"$KT_WORK/r-spdx.err"; then
  kt_check "kiln sbom REF takes the attached SPDX from the registry" grep -q "registry)" "$KT_WORK/r-spdx.err"
  kt_check "SPDX 2.3 structure, packages, versions, purls, licence" \
    python3 "$KT_SRC/tests/integration/sbom_check.py" spdx "$KT_WORK/r-spdx.json" "${PKGS[@]}"
  kt_check "config-files-only package not listed" fails grep -q '"oldpkg"' "$KT_WORK/r-spdx.json"
else
  cat "$KT_WORK/r-spdx.err"; kt_fail "kiln sbom REF from the registry"
fi
if kis sbom --format cyclonedx-json "$REG/app:1" >"$KT_WORK/r-cdx.json" 2>"$KT_WORK/r-cdx.err"; then
  kt_check "CycloneDX 1.5 structure, packages, versions, purls, licence" \
    python3 "$KT_SRC/tests/integration/sbom_check.py" cyclonedx "$KT_WORK/r-cdx.json" "${PKGS[@]}"
else
  cat "$KT_WORK/r-cdx.err"; kt_fail "kiln sbom --format cyclonedx-json REF from the registry"
fi
if kis inspect --referrers "$REG/app:1" >"$KT_WORK/refs.json" 2>"$KT_WORK/refs.err"; then
  kt_eq "inspect --referrers: the 3 artifact types, from the registry" \
    "application/spdx+json application/vnd.cyclonedx+json application/vnd.in-toto+json registry $DIGEST" \
    "$(python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(" ".join(sorted(r["artifactType"] for r in j["referrers"])), j["source"].split()[0], j["digest"])' "$KT_WORK/refs.json")"
else
  cat "$KT_WORK/refs.err"; kt_fail "kiln inspect --referrers REF"
fi
# The provenance, straight from the registry: base by digest, context, Dockerfile.
cat >"$KT_WORK/prov.py" <<'PY'
import json, sys, urllib.request
reg, digest, base = sys.argv[1:4]
def get(path, accept="application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json"):
    return urllib.request.urlopen(urllib.request.Request("http://%s/v2/app/%s" % (reg, path), headers={"Accept": accept})).read()
idx = json.loads(get("manifests/" + digest.replace(":", "-")))
art = [m for m in idx["manifests"] if m["artifactType"] == "application/vnd.in-toto+json"][0]
man = json.loads(get("manifests/" + art["digest"]))
assert man["subject"]["digest"] == digest, man["subject"]
st = json.loads(get("blobs/" + man["layers"][0]["digest"], "*/*"))
deps = {d.get("name"): d for d in st["predicate"]["buildDefinition"]["resolvedDependencies"]}
md = st["predicate"]["runDetails"]["metadata"]
print(deps[reg + "/debian-style:12"]["digest"]["sha256"] == base.split(":")[1],
      deps["context"]["annotations"]["files"], "dockerfile" in deps,
      md["startedOn"], md["finishedOn"], st["subject"][0]["digest"]["sha256"] == digest.split(":")[1])
PY
kt_eq "provenance: base by digest, 1 context file read, Dockerfile, SOURCE_DATE_EPOCH times" \
  "True 1 True 1970-01-01T00:00:00Z 1970-01-01T00:00:00Z True" \
  "$(python3 "$KT_WORK/prov.py" "$REG" "$DIGEST" "$BASE_DIGEST" 2>&1)"

# Signatures through the registry; tampering is caught.
KT_EXTRA_ENV=KILN_PASSWORD=pw
kt_check "sign REF --remote pushes the signature" kt_as "$U" "$KT_KILN" sign --remote "$REG/app:1" --key "$KEYS/good.key"
KT_EXTRA_ENV=
kt_check "verify REF from the registry" kis verify "$REG/app:1" --key "$KEYS/good.pub"
kt_check "verify REF with the wrong key fails" fails kis verify "$REG/app:1" --key "$KEYS/bad.pub"
cat >"$KT_WORK/tamper.py" <<'PY'
import json, sys, urllib.request
reg, what, src, dst = sys.argv[1:5]
T = "application/vnd.oci.image.manifest.v1+json"
def get(ref):
    return json.loads(urllib.request.urlopen(urllib.request.Request("http://%s/v2/app/manifests/%s" % (reg, ref), headers={"Accept": T})).read())
def put(ref, m):
    urllib.request.urlopen(urllib.request.Request("http://%s/v2/app/manifests/%s" % (reg, ref), data=json.dumps(m).encode(), method="PUT", headers={"Content-Type": T}))
m = get(src)
if what == "signature":
    a = m["layers"][0]["annotations"]
    sig = a["dev.cosignproject.cosign/signature"]
    a["dev.cosignproject.cosign/signature"] = sig[:20] + ("A" if sig[20] != "A" else "B") + sig[21:]
elif what == "manifest":
    m.setdefault("annotations", {})["tampered"] = "yes"
put(dst, m)
PY
SIGTAG=${DIGEST/:/-}.sig
kt_check "save the good signature" python3 "$KT_WORK/tamper.py" "$REG" copy "$SIGTAG" good-sig
python3 "$KT_WORK/tamper.py" "$REG" signature "$SIGTAG" "$SIGTAG"
kt_check "a tampered signature fails" fails kis verify "$REG/app:1" --key "$KEYS/good.pub"
python3 "$KT_WORK/tamper.py" "$REG" manifest 1 1
NEW=$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$REG/app:1")
kt_check "a tampered manifest has no signature" fails kis verify "$REG/app:1" --key "$KEYS/good.pub"
python3 "$KT_WORK/tamper.py" "$REG" copy good-sig "${NEW/:/-}.sig"
if kis verify "$REG/app:1" --key "$KEYS/good.pub" >"$KT_WORK/v.out" 2>&1; then
  kt_fail "another digest's signature verifies a tampered manifest"
else
  kt_check "another digest's signature is refused, saying why" grep -q "signs manifest $DIGEST, not $NEW" "$KT_WORK/v.out"
fi

kt_done
