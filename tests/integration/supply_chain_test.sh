#!/bin/bash
# The supply-chain steps of `kiln build` and the CLI around them, as
# kiln-ranged: setuid bits stripped by default (and kept with --strip=off),
# a secret deleted in a later layer still fails the build, a clean image
# passes, `kiln sbom` prints SPDX 2.3, keygen/sign/verify round trip and a
# wrong key fails verification.
source "$(dirname "$0")/lib.sh"
kt_require_root
command -v python3 >/dev/null || kt_skip "python3 not installed"
kt_workdir
kt_setup_users
kt_make_busybox_layout
BB=$KT_BUSYBOX_LAYOUT
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
if build -t su:1 --output "type=oci,dest=$OUT/su" "$SU" >"$KT_WORK/su.log" 2>&1; then
  kt_ok "build with a setuid file"
  kt_check "build output names /su" grep -q "stripped setuid/setgid: /su" "$KT_WORK/su.log"
  kt_eq "/su without the setuid bit" "0755" "$($TREE "$OUT/su" '' | awk '$1 == "/su" {print $3}')"
else
  cat "$KT_WORK/su.log"; kt_fail "build with a setuid file"
fi

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
kt_check "keygen without a password or TTY fails" fails env -u KILN_PASSWORD "$KT_KILN" keygen --output-key-prefix "$KT_WORK/nopw" </dev/null

kt_done
