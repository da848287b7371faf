#!/bin/bash
# RUN --mount as docker (BuildKit) gives it: type=cache (persists across
# builds, shared by id, sharing=locked|private, seeded from=stage, never in a
# layer), type=secret
# (from --secret id=X,src=FILE and env=VAR, at /run/secrets/X or target=, as
# an env var with env=; never in any blob of the image, config or history),
# type=bind (the context as .dockerignore leaves it, or from=stage; read-only
# by default, rw writes discarded) and type=tmpfs. As kiln-ranged; secrets and
# the context bind also as kiln-single.
source "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || kt_skip "python3 not installed"
kt_begin_build_test
tree="python3 $KT_SRC/tests/integration/image_tree.py"

SECRET_FILE_VALUE=kiln-file-secret-7f3a9c
SECRET_ENV_VALUE=kiln-env-secret-91b2e4
CTX=$KT_WORK/ctx
mkdir -p "$CTX/dir"
echo ctx-data >"$CTX/data.txt"
echo in-dir >"$CTX/dir/f.txt"
# What .dockerignore excludes is not in the context a bind mount shows.
mkdir -p "$CTX/build/sub"
echo hidden >"$CTX/secret.txt"
echo kept >"$CTX/build/keep"
echo dropped >"$CTX/build/drop"
echo dropped >"$CTX/build/sub/x"
printf 'secret.txt\nbuild/\n!build/keep\n' >"$CTX/.dockerignore"
printf %s "$SECRET_FILE_VALUE" >"$KT_WORK/secret.txt"  # no newline: env= takes the bytes as they are
chmod 0644 "$KT_WORK/secret.txt"
FILE_SUM=$(printf %s "$SECRET_FILE_VALUE" | sha256sum | cut -c1-64)
ENV_SUM=$(printf %s "$SECRET_ENV_VALUE" | sha256sum | cut -c1-64)
sum() { echo "\$(printf %s \"$1\" | sha256sum | cut -c1-64)"; }
# The RUNs compare hashes: the secret values themselves must appear nowhere.
# ARG RUNID comes late so a second build with another RUNID reruns only the
# cache steps (and shows that a changed secret reruns nothing).
cat >"$CTX/Dockerfile" <<EOF
FROM oci:$BB:latest AS tool
RUN mkdir -p /tool && echo from-stage > /tool/t.txt
FROM oci:$BB:latest
RUN --mount=type=cache,target=/c3,sharing=private,uid=1000,mode=0700 stat -c '%u %a' /c3 > /c3-owner.txt
RUN --mount=type=secret,id=tok test "$(sum '$(cat /run/secrets/tok)')" = $FILE_SUM && stat -c '%u %a' /run/secrets/tok > /secret-file.txt
RUN --mount=type=secret,id=tok,target=/etc/tok.txt,mode=0440 test "$(sum '$(cat /etc/tok.txt)')" = $FILE_SUM && stat -c '%a' /etc/tok.txt > /secret-target.txt
RUN --mount=type=secret,id=envtok test "$(sum '$(cat /run/secrets/envtok)')" = $ENV_SUM && echo ok > /secret-fromenv.txt
RUN --mount=type=secret,id=envtok,env=TOKEN test "$(sum '$TOKEN')" = $ENV_SUM && test ! -e /run/secrets/envtok && echo ok > /secret-env.txt
RUN --mount=type=secret,id=tok,env=FILETOK test "$(sum '$FILETOK')" = $FILE_SUM && echo ok > /secret-env-from-file.txt
RUN --mount=type=bind,target=/ctx cat /ctx/data.txt /ctx/dir/f.txt > /bind-ctx.txt && if touch /ctx/new 2>/dev/null; then echo writable; else echo read-only; fi > /bind-ro.txt
RUN --mount=type=bind,source=dir,target=/d,rw echo x > /d/written && cat /d/f.txt /d/written > /bind-rw.txt
RUN --mount=type=bind,from=tool,source=/tool,target=/t cat /t/t.txt > /bind-from.txt
RUN --mount=type=bind,target=/ctx cd /ctx && find . | sort | tr '\\n' ' ' > /bind-view.txt && stat -c %a . build >> /bind-view.txt
RUN --mount=type=bind,target=/ctx,rw cd /ctx && find . | sort | tr '\\n' ' ' > /bind-view-rw.txt
RUN --mount=type=tmpfs,target=/scratch echo t > /scratch/f && grep -c ' /scratch tmpfs ' /proc/mounts > /tmpfs.txt
ARG RUNID=1
RUN --mount=type=cache,target=/cache,id=c1 echo "\$RUNID" >> /cache/runs && cat /cache/runs > /cache-seen.txt
RUN --mount=type=cache,target=/c2,id=c1,sharing=locked cat /c2/runs > /c2-seen.txt
RUN --mount=type=cache,target=/seeded,from=tool,source=/tool echo "\$RUNID" >> /seeded/runs && cat /seeded/t.txt /seeded/runs | tr '\\n' ' ' > /cache-seeded.txt
EOF
chmod -R a+rX "$CTX"
chown -R kiln-ranged: "$CTX"  # a user builds their own context (rw bind writes go through it)

user=kiln-ranged
kt_fresh_root "$user" >/dev/null
out=$KT_WORK/out
mkdir -p "$out"; chown "$user:" "$out"
build() {  # RUNID log [extra kiln flags]
  local id=$1 log=$2; shift 2
  KT_EXTRA_ENV="ENVSECRET=$SECRET_ENV_VALUE" kt_as "$user" "$KT_KILN" build --lint=off --progress=plain \
    --secret "id=tok,src=$KT_WORK/secret.txt" --secret id=envtok,env=ENVSECRET \
    --build-arg "RUNID=$id" "$@" "$CTX" >"$log" 2>&1
}
if ! build 1 "$KT_WORK/b1.log" --output "type=oci,dest=$out/l1"; then
  cat "$KT_WORK/b1.log"; kt_fail "build with every mount type"; kt_done; exit 1
fi
kt_ok "build with every mount type"
$tree tree "$out/l1" "" >"$KT_WORK/t1"
file() {  # path in the image -> content
  python3 - "$out/$1" "$2" <<'PY'
import io, json, sys, tarfile, gzip
layout, want = sys.argv[1], sys.argv[2].lstrip("/")
idx = json.load(open(layout + "/index.json"))
blob = lambda d: open(layout + "/blobs/sha256/" + d.split(":")[1], "rb").read()
m = json.loads(blob(idx["manifests"][0]["digest"]))
found = None
for l in m["layers"]:
    with tarfile.open(fileobj=io.BytesIO(blob(l["digest"]))) as t:
        for e in t.getmembers():
            if e.name.lstrip("./") == want and e.isfile():
                found = t.extractfile(e).read().decode()
print((found or "<missing>").strip())
PY
}
kt_eq "cache: written" "1" "$(file l1 /cache-seen.txt)"
kt_eq "cache: same id, other target, sharing=locked sees it" "1" "$(file l1 /c2-seen.txt)"
kt_eq "cache: uid/mode applied to a new cache dir" "1000 700" "$(file l1 /c3-owner.txt)"
kt_eq "cache: from=stage,source= seeds a new cache" "from-stage 1" "$(file l1 /cache-seeded.txt)"
kt_check "cache: mount point and content not in the image" bash -c "! grep -qE '^/(cache|c2|c3)( |/)' '$KT_WORK/t1'"
kt_eq "secret: /run/secrets/ID, root 0400 (BuildKit's default)" "0 400" "$(file l1 /secret-file.txt)"
kt_eq "secret: target= and mode=" "440" "$(file l1 /secret-target.txt)"
kt_eq "secret: --secret env=VAR as a file" "ok" "$(file l1 /secret-fromenv.txt)"
kt_eq "secret: mount env= (no file)" "ok" "$(file l1 /secret-env.txt)"
kt_eq "secret: mount env= from a src= secret" "ok" "$(file l1 /secret-env-from-file.txt)"
kt_check "secret: no mount point left in the image" bash -c "! grep -qE '^/(run/secrets|etc/tok.txt)( |/)' '$KT_WORK/t1'"
kt_eq "bind: the context, read-only by default" "ctx-data in-dir read-only" "$(file l1 /bind-ctx.txt | tr '\n' ' ')$(file l1 /bind-ro.txt)"
kt_eq "bind: rw is writable" "in-dir x" "$(file l1 /bind-rw.txt | tr '\n' ' ' | sed 's/ $//')"
kt_check "bind: rw writes discarded (context untouched)" test ! -e "$CTX/dir/written"
kt_check "bind: rw writes not in the image" bash -c "! grep -qE '^/(d|ctx)( |/)' '$KT_WORK/t1'"
kt_eq "bind: from=stage" "from-stage" "$(file l1 /bind-from.txt)"
view=". ./.dockerignore ./Dockerfile ./build ./build/keep ./data.txt ./dir ./dir/f.txt "
kt_eq "bind: the context after .dockerignore (modes kept)" "$view$(stat -c %a "$CTX" "$CTX/build" | tr '\n' ' ')" \
  "$(file l1 /bind-view.txt | tr '\n' ' ')"
kt_eq "bind: rw, the context after .dockerignore" "$view" "$(file l1 /bind-view-rw.txt) "
kt_eq "tmpfs: mounted" "1" "$(file l1 /tmpfs.txt)"
kt_check "tmpfs: content not in the image" bash -c "! grep -qE '^/scratch( |/)' '$KT_WORK/t1'"

# Secrets in no blob at all: every blob of the layout, decompressed, and the
# whole store (config, history, cache records) as bytes.
nosecret() {  # dir...
  python3 - "$SECRET_FILE_VALUE" "$SECRET_ENV_VALUE" "$@" <<'PY'
import gzip, os, subprocess, sys
needles = [s.encode() for s in sys.argv[1:3]]
hits = []
for root in sys.argv[3:]:
    for d, _, files in os.walk(root):
        for f in files:
            p = os.path.join(d, f)
            if os.path.islink(p) or not os.path.isfile(p):
                continue
            data = open(p, "rb").read()
            if data[:2] == b"\x1f\x8b":
                data = gzip.decompress(data)
            elif data[:4] == b"\x28\xb5\x2f\xfd":
                data = subprocess.run(["zstd", "-dc"], input=data, stdout=subprocess.PIPE).stdout
            if any(n in data for n in needles):
                hits.append(p)
print(" ".join(hits) or "none")
PY
}
kt_eq "secret: in no blob of the image (layers, config, history)" "none" "$(nosecret "$out/l1/blobs")"
kt_eq "secret: nowhere in the store" "none" "$(nosecret "${KT_ROOT_OF[$user]}")"

# Cache content persists; a changed secret value reruns nothing (only the
# two cache steps after ARG RUNID run again).
printf %s "rotated-$SECRET_FILE_VALUE" >"$KT_WORK/secret2.txt"; chmod 0644 "$KT_WORK/secret2.txt"
if build 2 "$KT_WORK/b2.log" --output "type=oci,dest=$out/l2" --secret "id=tok,src=$KT_WORK/secret2.txt"; then
  kt_eq "cache: persists across builds" "1 2" "$(file l2 /cache-seen.txt | tr '\n' ' ' | sed 's/ $//')"
  kt_eq "cache: a seeded cache persists too" "from-stage 1 2" "$(file l2 /cache-seeded.txt)"
  kt_check "secret: a changed secret value reruns nothing" grep -q "(3 steps run, 13 cached)" "$KT_WORK/b2.log"
else
  cat "$KT_WORK/b2.log"; kt_fail "second build"
fi

# A required secret that was not given: a clear failure.
mkdir -p "$KT_WORK/req"
printf 'FROM oci:%s:latest\nRUN --mount=type=secret,id=absent,required true\n' "$BB" >"$KT_WORK/req/Dockerfile"
chmod -R a+rX "$KT_WORK/req"
rc=0
kt_as "$user" "$KT_KILN" build --lint=off --progress=plain "$KT_WORK/req" >"$KT_WORK/req.log" 2>&1 || rc=$?
kt_eq "secret: required and missing fails" 1 "$rc"
kt_check "secret: required and missing names the secret" grep -q "secret absent is required" "$KT_WORK/req.log"

# kiln-single (one id mapped): secrets work the same, and so does the
# .dockerignore'd view of the context (its whiteouts are made there too).
kt_fresh_root kiln-single >/dev/null
mkdir -p "$KT_WORK/single"
printf 'FROM oci:%s:latest\nRUN --mount=type=secret,id=tok test "%s" = %s && echo ok > /s.txt\n' \
  "$BB" "$(sum '$(cat /run/secrets/tok)')" "$FILE_SUM" >"$KT_WORK/single/Dockerfile"
echo 'RUN --mount=type=bind,target=/ctx test -e /ctx/Dockerfile && test ! -e /ctx/ignored.txt' >>"$KT_WORK/single/Dockerfile"
echo ignored.txt >"$KT_WORK/single/.dockerignore"
echo x >"$KT_WORK/single/ignored.txt"
chmod -R a+rX "$KT_WORK/single"
kt_as kiln-single "$KT_KILN" build --lint=off --progress=plain --secret "id=tok,src=$KT_WORK/secret.txt" \
  "$KT_WORK/single" >"$KT_WORK/single.log" 2>&1 && kt_ok "kiln-single: secret mount, bind mount without ignored files" ||
  { cat "$KT_WORK/single.log"; kt_fail "kiln-single: secret mount, bind mount without ignored files"; }
kt_eq "kiln-single: secret nowhere in the store" "none" "$(nosecret "${KT_ROOT_OF[kiln-single]}")"

kt_done
