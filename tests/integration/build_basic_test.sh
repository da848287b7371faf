#!/bin/bash
# kiln build end to end: bases from an OCI layout and from a registry, the
# common instructions, ADD of local archives and of an URL with --checksum,
# --output type=oci checked with skopeo and umoci,
# ownership from RUN chown as kiln-ranged and kiln-single, clean failures,
# no-op rebuilds and reproducible digests.
source "$(dirname "$0")/lib.sh"
command -v skopeo >/dev/null || kt_skip "skopeo not installed"
command -v python3 >/dev/null || kt_skip "python3 not installed"
kt_begin_build_test

# A directory USER can write.
udir() { mkdir -p "$2"; chown "$1:" "$2"; echo "$2"; }
# A Python expression over a JSON file (d), printed.
jget() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@"; }

# ---- the context ----
CTX=$KT_WORK/ctx
mkdir -p "$CTX/sub"
echo "hello from kiln" >"$CTX/hello.txt"
printf '#!/bin/sh\necho script\n' >"$CTX/script.sh"
echo "ignored" >"$CTX/secret.log"
echo "*.log" >"$CTX/.dockerignore"
echo "nested" >"$CTX/sub/n.txt"
{
  echo "FROM oci:$BB:latest"
  echo "ENV APP_HOME=/app MODE=test"
  echo "WORKDIR /app"
  echo "COPY hello.txt ./"
  echo "COPY sub/ ./sub/"
  echo "COPY --chmod=0755 script.sh /usr/local/bin/script.sh"
  echo 'RUN echo built-$MODE > /app/built.txt && chmod 0640 /app/built.txt'
  echo "LABEL org.example.title=kiln-test"
  echo "USER 1000:1000"
  echo 'ENTRYPOINT ["/bin/sh"]'
  echo 'CMD ["-c", "cat /app/hello.txt"]'
} >"$CTX/Dockerfile"
chmod -R a+rX "$CTX"

for user in kiln-ranged kiln-single; do
  kt_fresh_root "$user" >/dev/null
  out=$(udir "$user" "$KT_WORK/out-$user")
  if ! kt_as "$user" "$KT_KILN" build --lint=off --progress=plain -t test:1 --output "type=oci,dest=$out/layout" "$CTX" \
      >"$KT_WORK/build-$user.log" 2>&1; then
    cat "$KT_WORK/build-$user.log"
    kt_fail "$user: build from an OCI layout base"
    continue
  fi
  kt_ok "$user: build from an OCI layout base"
  cfg=$KT_WORK/cfg-$user.json
  skopeo inspect --config "oci:$out/layout:1" >"$cfg"
  kt_eq "$user: env" "True" "$(jget "$cfg" '"APP_HOME=/app" in d["config"]["Env"] and "MODE=test" in d["config"]["Env"]')"
  kt_eq "$user: user" "1000:1000" "$(jget "$cfg" 'd["config"]["User"]')"
  kt_eq "$user: workdir" "/app" "$(jget "$cfg" 'd["config"]["WorkingDir"]')"
  kt_eq "$user: entrypoint" "['/bin/sh']" "$(jget "$cfg" 'd["config"]["Entrypoint"]')"
  kt_eq "$user: cmd" "['-c', 'cat /app/hello.txt']" "$(jget "$cfg" 'd["config"]["Cmd"]')"
  kt_eq "$user: label" "kiln-test" "$(jget "$cfg" 'd["config"]["Labels"]["org.example.title"]')"
  kt_eq "$user: RUN history" 'RUN /bin/sh -c echo built-$MODE > /app/built.txt && chmod 0640 /app/built.txt # buildkit' \
    "$(jget "$cfg" '[h["created_by"] for h in d["history"] if h["created_by"].startswith("RUN")][0]')"
  kt_eq "$user: created = SOURCE_DATE_EPOCH default" "1970-01-01T00:00:00Z" "$(jget "$cfg" 'd["created"]')"
  bundle=$KT_WORK/bundle-$user
  if umoci unpack --rootless --image "$out/layout:1" "$bundle" >/dev/null 2>&1; then
    kt_eq "$user: COPY content" "hello from kiln" "$(cat "$bundle/rootfs/app/hello.txt")"
    kt_eq "$user: COPY dir content" "nested" "$(cat "$bundle/rootfs/app/sub/n.txt")"
    kt_eq "$user: RUN content" "built-test" "$(cat "$bundle/rootfs/app/built.txt")"
    kt_eq "$user: RUN mode" "640" "$(stat -c %a "$bundle/rootfs/app/built.txt")"
    kt_eq "$user: --chmod" "755" "$(stat -c %a "$bundle/rootfs/usr/local/bin/script.sh")"
    kt_check "$user: .dockerignore honoured" test ! -e "$bundle/rootfs/app/secret.log"
    kt_check "$user: base files still there" test -e "$bundle/rootfs/bin/busybox"
  else
    kt_fail "$user: umoci unpack"
  fi
  kt_eq "$user: kiln images" "test:1" "$(kt_as "$user" "$KT_KILN" images -q)"

  # No-op rebuild: every step CACHED, nothing run.
  start=$(date +%s.%N)
  kt_as "$user" "$KT_KILN" build --lint=off --progress=plain -t test:1 "$CTX" >"$KT_WORK/rebuild-$user.log" 2>&1 \
    || kt_fail "$user: rebuild"
  end=$(date +%s.%N)
  echo "# no-op rebuild as $user: $(python3 -c "print(round($end-$start,3))")s"
  kt_eq "$user: rebuild CACHED count" "5" "$(grep -c ' CACHED$' "$KT_WORK/rebuild-$user.log")"
  kt_check "$user: rebuild ran no step" grep -q "(0 steps run, 5 cached)" "$KT_WORK/rebuild-$user.log"

  # One file changed: only the steps from its COPY on run again.
  echo "changed" >"$CTX/sub/n.txt"
  kt_as "$user" "$KT_KILN" build --lint=off --progress=plain -t test:1 "$CTX" >"$KT_WORK/change-$user.log" 2>&1 \
    || kt_fail "$user: rebuild after a change"
  kt_check "$user: change reruns dependent steps only" grep -q "(3 steps run, 2 cached)" "$KT_WORK/change-$user.log"
  echo "nested" >"$CTX/sub/n.txt"
done

# ---- RUN chown: the owner lands in the layer, or a clear failure ----
OWN=$KT_WORK/own
mkdir -p "$OWN"
printf 'FROM oci:%s:latest\nRUN touch /owned && chown 1234:2345 /owned\n' "$BB" >"$OWN/Dockerfile"
chmod -R a+rX "$OWN"
owner_in_layout() {  # layout dir -> "uid/gid" of /owned in the top layer
  python3 -c '
import json, sys, tarfile
d = sys.argv[1]
idx = json.load(open(d + "/index.json"))
m = json.load(open(d + "/blobs/sha256/" + idx["manifests"][0]["digest"].split(":")[1]))
top = m["layers"][-1]["digest"].split(":")[1]
with tarfile.open(d + "/blobs/sha256/" + top) as t:
    for e in t.getmembers():
        if e.name.lstrip("./") == "owned":
            print("%d/%d" % (e.uid, e.gid))
' "$1"
}
for user in kiln-ranged kiln-single; do
  kt_fresh_root "$user" >/dev/null
  out=$(udir "$user" "$KT_WORK/own-$user")
  if kt_as "$user" "$KT_KILN" build --lint=off --progress=plain --output "type=oci,dest=$out/l" "$OWN" \
      >"$KT_WORK/own-$user.log" 2>&1; then
    kt_eq "$user: chown recorded in the layer" "1234/2345" "$(owner_in_layout "$out/l")"
  elif [ "$user" = kiln-single ]; then
    kt_check "kiln-single: chown failure names the line" grep -q "kiln: error: Dockerfile:2: RUN" "$KT_WORK/own-$user.log"
  else
    cat "$KT_WORK/own-$user.log"
    kt_fail "$user: chown build"
  fi
done

# ---- a base layer kiln-single cannot unpack: a file owned by uid 1000 is
# recorded (sandbox/owner_record.h), but a symlink owned by uid 1000 cannot
# carry the record. The error names FROM and the layer, not the RUN that
# needed it ----
own_base() {
  bash "$KT_SRC/scripts/make-busybox-rootfs.sh" "$1" && ln -s bin/busybox "$1/owned-link" &&
    chown -h 1000:1000 "$1/owned-link"
}
kt_make_layout "$KT_WORK/owned-base" latest sh own_base
OB=$KT_WORK/ctx-owned-base
mkdir -p "$OB"
printf 'FROM oci:%s:latest\nRUN true\n' "$KT_WORK/owned-base" >"$OB/Dockerfile"
chmod -R a+rX "$OB"
kt_fresh_root kiln-single >/dev/null
if kt_as kiln-single "$KT_KILN" build --lint=off --progress=plain "$OB" >"$KT_WORK/owned-base.log" 2>&1; then
  kt_fail "kiln-single unpacked a base layer with a symlink owned by uid 1000"
else
  kt_check "base layer chown failure names FROM and the layer" \
    grep -qE "kiln: error: Dockerfile:1: FROM oci:.*: base image layer sha256:[0-9a-f]{64}: " "$KT_WORK/owned-base.log"
  kt_check "...and not the RUN as its cause" test -z "$(grep 'kiln: error: Dockerfile:2' "$KT_WORK/owned-base.log")"
fi

# ---- the lint gate reads the base's real /bin/sh for KL300's advice (busybox
# ash takes `set -o pipefail`); the layout's name gives no hint ----
cp -a "$BB" "$KT_WORK/plainbase"
PB=$KT_WORK/ctx-pipe
mkdir -p "$PB"
printf 'FROM oci:%s:latest\nRUN echo a | cat\nUSER 1000\n' "$KT_WORK/plainbase" >"$PB/Dockerfile"
chmod -R a+rX "$PB" "$KT_WORK/plainbase"
kt_fresh_root kiln-ranged >/dev/null
kt_as kiln-ranged "$KT_KILN" build --lint=warn --progress=plain "$PB" >"$KT_WORK/pipe.log" 2>&1 || cat "$KT_WORK/pipe.log"
kt_check "KL300: advice from the base's /bin/sh (busybox ash)" grep -q "KL300.*/bin/sh is busybox ash here" "$KT_WORK/pipe.log"

# ---- failures: one clear line, exit 1, store unchanged ----
kt_fresh_root kiln-ranged >/dev/null
kt_as kiln-ranged "$KT_KILN" build --lint=off -q -t keep:1 "$CTX" >/dev/null 2>&1 || kt_fail "baseline build"
before=$(kt_as kiln-ranged "$KT_KILN" images -q)
fail_case() {  # name dockerfile-text expected-substring
  local d=$KT_WORK/fail-$1 rc=0
  mkdir -p "$d"
  printf '%b' "$2" >"$d/Dockerfile"
  chmod -R a+rX "$d"
  kt_as kiln-ranged "$KT_KILN" build --lint=off --progress=plain -t broken:1 "$d" >"$d.out" 2>"$d.err" || rc=$?
  kt_eq "$1: exit code" 1 "$rc"
  kt_check "$1: message" grep -qF "$3" "$d.err"
  kt_eq "$1: store unchanged" "$before" "$(kt_as kiln-ranged "$KT_KILN" images -q)"
}
fail_case failing-run "FROM oci:$BB:latest\nRUN echo about to fail; exit 3\n" \
  "kiln: error: Dockerfile:2: RUN echo about to fail; exit 3: exit code 3"
fail_case missing-file "FROM oci:$BB:latest\nENV A=1\nCOPY missing.txt /x\n" \
  "kiln: error: Dockerfile:3: COPY missing.txt: file not found in build context"
fail_case missing-base "FROM oci:$KT_WORK/no-such-layout:latest\nRUN true\n" "kiln: error: Dockerfile:1: FROM"
rc=0
kt_as kiln-ranged "$KT_KILN" build --lint=off -f "$KT_WORK/nope/Dockerfile" "$CTX" >/dev/null 2>"$KT_WORK/nodf.err" || rc=$?
kt_eq "unreadable Dockerfile: exit 1" 1 "$rc"
kt_check "unreadable Dockerfile: message" grep -q "kiln: error: Dockerfile: cannot read" "$KT_WORK/nodf.err"

# ---- ADD: a local tar in each compression docker knows (and zstd) is
# extracted, a file only named .gz is copied as is; ADD of an URL with
# --checksum, 0600 as docker writes it, and a clear failure on a mismatch ----
ADD_CTX=$KT_WORK/add-ctx
mkdir -p "$ADD_CTX" "$KT_WORK/add-src/top/nested" "$KT_WORK/srv"
echo top-file >"$KT_WORK/add-src/top/f.txt"
echo nested-file >"$KT_WORK/add-src/top/nested/n.txt"
tar -C "$KT_WORK/add-src" -cf "$ADD_CTX/a.tar" top
tar -C "$KT_WORK/add-src" -czf "$ADD_CTX/a.tar.gz" top
tar -C "$KT_WORK/add-src" -cjf "$ADD_CTX/a.tar.bz2" top
tar -C "$KT_WORK/add-src" -cJf "$ADD_CTX/a.tar.xz" top
tar -C "$KT_WORK/add-src" --zstd -cf "$ADD_CTX/a.tar.zst" top
echo "plain text, not gzip" >"$ADD_CTX/named.gz"
echo "gzip, but of no tar" | gzip -n >"$ADD_CTX/notar.gz"
echo "served over http" >"$KT_WORK/srv/f.txt"
url_sum=$(sha256sum "$KT_WORK/srv/f.txt" | cut -c1-64)
port=$(kt_free_port)
python3 -m http.server --bind 127.0.0.1 --directory "$KT_WORK/srv" "$port" >"$KT_WORK/http.log" 2>&1 &
http_pid=$!
kt_on_exit "kill $http_pid 2>/dev/null; wait $http_pid 2>/dev/null"
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/f.txt" -o /dev/null && break; sleep 0.1; done
URL=http://127.0.0.1:$port/f.txt
{
  echo "FROM oci:$BB:latest"
  for kind in "plain a.tar" "gz a.tar.gz" "bz2 a.tar.bz2" "xz a.tar.xz" "zst a.tar.zst"; do
    set -- $kind
    echo "ADD $2 /t/$1/"
  done
  echo "ADD named.gz notar.gz /t/raw/"
  echo "ADD --checksum=sha256:$url_sum $URL /f"
} >"$ADD_CTX/Dockerfile"
chmod -R a+rX "$ADD_CTX"
out=$(udir kiln-ranged "$KT_WORK/add-out")
if kt_as kiln-ranged "$KT_KILN" build --lint=off --progress=plain --output "type=oci,dest=$out/l" "$ADD_CTX" \
    >"$KT_WORK/add.log" 2>&1; then
  python3 "$KT_SRC/tests/integration/image_tree.py" tree "$out/l" "" >"$KT_WORK/add.tree"
  h16() { sha256sum "$1" | cut -c1-16; }
  for kind in plain gz bz2 xz zst; do
    kt_eq "ADD a.tar ($kind) extracted" \
      "/t/$kind/top/f.txt file $(h16 "$KT_WORK/add-src/top/f.txt") /t/$kind/top/nested/n.txt file $(h16 "$KT_WORK/add-src/top/nested/n.txt")" \
      "$(awk -v d="/t/$kind/top/" 'index($1, d) == 1 && $2 == "file" { printf "%s%s %s %s", sep, $1, $2, $6; sep = " " }' "$KT_WORK/add.tree")"
  done
  kt_eq "ADD of a non-tar .gz copies it as is" \
    "/t/raw/named.gz $(h16 "$ADD_CTX/named.gz") /t/raw/notar.gz $(h16 "$ADD_CTX/notar.gz")" \
    "$(awk 'index($1, "/t/raw/") == 1 { printf "%s%s %s", sep, $1, $6; sep = " " }' "$KT_WORK/add.tree")"
  kt_eq "ADD --checksum URL: content, root 0600" "/f file 0600 0 0 $(h16 "$KT_WORK/srv/f.txt")" \
    "$(grep '^/f ' "$KT_WORK/add.tree")"
else
  cat "$KT_WORK/add.log"
  kt_fail "ADD of archives and of an URL"
fi
bad_sum=$(printf 'other' | sha256sum | cut -c1-64)
mkdir -p "$KT_WORK/add-bad"
printf 'FROM oci:%s:latest\nADD --checksum=sha256:%s %s /f\n' "$BB" "$bad_sum" "$URL" >"$KT_WORK/add-bad/Dockerfile"
chmod -R a+rX "$KT_WORK/add-bad"
rc=0
kt_as kiln-ranged "$KT_KILN" build --lint=off --progress=plain "$KT_WORK/add-bad" >"$KT_WORK/add-bad.log" 2>&1 || rc=$?
kt_eq "ADD --checksum mismatch: exit 1" 1 "$rc"
kt_check "ADD --checksum mismatch: names the URL and both digests" grep -qF \
  "kiln: error: Dockerfile:2: ADD: $URL: checksum mismatch: expected sha256:$bad_sum, got sha256:$url_sum" \
  "$KT_WORK/add-bad.log"

# ---- the same diff in several layers (each RUN true leaves an identical
# one): overlayfs refuses a lower dir given twice ----
mkdir -p "$KT_WORK/dup"
printf 'FROM oci:%s:latest\nRUN true\nRUN true\nRUN true\nRUN echo ok > /ok\n' "$BB" >"$KT_WORK/dup/Dockerfile"
chmod -R a+rX "$KT_WORK/dup"
kt_check "identical layers (RUN true x3) stack" kt_as kiln-ranged "$KT_KILN" build --lint=off -q --no-cache "$KT_WORK/dup"

# ---- context from stdin (docker build -), as kiln-single: the tar's owners
# (root, 1234) mean nothing here and must not be needed ----
SC=$KT_WORK/stdin-ctx
mkdir -p "$SC"
printf 'FROM oci:%s:latest\nCOPY a.txt /a.txt\n' "$BB" >"$SC/Dockerfile"
echo from-stdin >"$SC/a.txt"
chown 1234:1234 "$SC/a.txt"
chmod -R a+rX "$SC"
tar -C "$SC" -czf "$KT_WORK/ctx.tgz" .
chmod a+r "$KT_WORK/ctx.tgz"
d_dir=$(kt_as kiln-single "$KT_KILN" build --lint=off -q "$SC" 2>"$KT_WORK/sc-dir.err") || cat "$KT_WORK/sc-dir.err"
d_tar=$(kt_as kiln-single "$KT_KILN" build --lint=off -q - <"$KT_WORK/ctx.tgz" 2>"$KT_WORK/sc-tar.err") || cat "$KT_WORK/sc-tar.err"
kt_check "stdin tar context: built" test -n "$d_tar"
kt_eq "stdin tar context: same image as the directory" "$d_dir" "$d_tar"
d_df=$(printf 'FROM oci:%s:latest\nLABEL from=stdin\n' "$BB" | kt_as kiln-single "$KT_KILN" build --lint=off -q - 2>"$KT_WORK/sc-df.err") ||
  cat "$KT_WORK/sc-df.err"
kt_check "Dockerfile on stdin (empty context): built" test "${d_df#sha256:}" != "$d_df"
python3 - "$KT_WORK/evil.tar" <<'PY'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w") as t:
    data = b"FROM scratch\n"
    i = tarfile.TarInfo("Dockerfile"); i.size = len(data); t.addfile(i, io.BytesIO(data))
    i = tarfile.TarInfo("../../escaped.txt"); i.size = 1; t.addfile(i, io.BytesIO(b"x"))
PY
chmod a+r "$KT_WORK/evil.tar"
rc=0
kt_as kiln-single "$KT_KILN" build --lint=off -q - <"$KT_WORK/evil.tar" >/dev/null 2>"$KT_WORK/evil.err" || rc=$?
kt_eq "stdin tar with ../ entries: refused" 1 "$rc"
kt_check "...naming the entry" grep -q "escaped.txt" "$KT_WORK/evil.err"

# ---- registry base, as root ----
if command -v docker-registry >/dev/null; then
  kt_start_registry
  kt_push_busybox
  REG=$KT_WORK/reg
  mkdir -p "$REG"
  printf 'FROM %s/busybox\nRUN echo from-registry > /r.txt\n' "$KT_REGISTRY" >"$REG/Dockerfile"
  if KILN_ROOT=$KT_WORK/root-root "$KT_KILN" build --lint=off --progress=plain -t regtest:1 \
      --output "type=oci,dest=$KT_WORK/reg-out" "$REG" >"$KT_WORK/reg.log" 2>&1; then
    kt_ok "root: build from a registry base"
    umoci unpack --image "$KT_WORK/reg-out:1" "$KT_WORK/reg-bundle" >/dev/null 2>&1 || true
    kt_eq "root: RUN on a pulled base" "from-registry" "$(cat "$KT_WORK/reg-bundle/rootfs/r.txt" 2>/dev/null)"
    kt_check "root: pulled base is in the store" \
      grep -q busybox <(KILN_ROOT=$KT_WORK/root-root "$KT_KILN" images -q)
  else
    cat "$KT_WORK/reg.log"
    kt_fail "root: build from a registry base"
  fi
  # --format docker: Docker schema 2 media types, same config (image ID), and
  # readable by skopeo and by kiln's own pull.
  if KILN_ROOT=$KT_WORK/root-root "$KT_KILN" build --lint=off -q --format docker --insecure \
      -t "$KT_REGISTRY/fmt/docker:1" --push "$REG" >"$KT_WORK/fmt.log" 2>&1; then
    raw=$(skopeo inspect --tls-verify=false --raw "docker://$KT_REGISTRY/fmt/docker:1")
    kt_eq "--format docker: manifest media type" "application/vnd.docker.distribution.manifest.v2+json" \
      "$(jq -r .mediaType <<<"$raw")"
    kt_eq "--format docker: config and layer media types" \
      "application/vnd.docker.container.image.v1+json application/vnd.docker.image.rootfs.diff.tar.gzip" \
      "$(jq -r '[.config.mediaType, (.layers | map(.mediaType) | unique | .[])] | join(" ")' <<<"$raw")"
    kt_check "--format docker: kiln pulls it back" \
      env KILN_ROOT="$KT_WORK/root-pull" "$KT_KILN" pull --insecure "$KT_REGISTRY/fmt/docker:1"
  else
    cat "$KT_WORK/fmt.log"
    kt_fail "--format docker: build and push"
  fi
  rc=0
  "$KT_KILN" build --lint=off --format docker --compression zstd "$REG" >/dev/null 2>&1 || rc=$?
  kt_eq "--format docker with zstd layers is a usage error" 2 "$rc"
else
  echo "# docker-registry not installed: registry base not tested"
fi

# ---- reproducibility: two dirs, two times, empty caches, same digest ----
REPRO=$KT_WORK/repro-a
mkdir -p "$REPRO"
echo "payload" >"$REPRO/data.txt"
# Incompressible data: gzip layers store it in level-0 members (oci/layer_writer.cc).
python3 -c 'import random,sys; sys.stdout.buffer.write(random.Random(7).randbytes(65536))' >"$REPRO/random.bin"
{
  echo "FROM oci:$BB:latest AS build"
  echo "COPY data.txt random.bin /src/"
  echo "RUN cat /src/data.txt > /src/out.txt && date +%s > /src/when && rm /src/when"
  echo "FROM oci:$BB:latest"
  echo "COPY --from=build /src/out.txt /src/random.bin /"
  echo "RUN mkdir -p /srv && echo done > /srv/done"
} >"$REPRO/Dockerfile"
chmod -R a+rX "$REPRO"
kt_fresh_root kiln-ranged >/dev/null
d1=$(kt_as kiln-ranged "$KT_KILN" build --lint=off -q "$REPRO" 2>"$KT_WORK/repro-a.err") || cat "$KT_WORK/repro-a.err"
sleep 1.1
cp -a "$REPRO" "$KT_WORK/repro-b"
touch "$KT_WORK/repro-b/data.txt"
kt_fresh_root kiln-ranged >/dev/null
d2=$(kt_as kiln-ranged "$KT_KILN" build --lint=off -q "$KT_WORK/repro-b" 2>"$KT_WORK/repro-b.err") || cat "$KT_WORK/repro-b.err"
kt_check "reproducible: a digest was printed" test "${d1#sha256:}" != "$d1"
kt_eq "reproducible: same manifest digest" "$d1" "$d2"
# The random file sits in a stored gzip member (first deflate block of type
# 00 right after kiln's fixed 10-byte member header), and Python's tarfile
# (multi-member gzip as Go reads it) gives it back whole from every layer.
# (The build stage's own layer is an uncompressed snapshot: nothing exports it.)
kt_check "reproducible: incompressible data in stored gzip members, read back whole" python3 -c '
import glob, io, sys, tarfile
want = open(sys.argv[2], "rb").read()
head = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03"
stored = copies = 0
for blob in glob.glob(sys.argv[1] + "/blobs/sha256/*"):
    d = open(blob, "rb").read()
    if not d.startswith(head):
        continue
    i = d.find(head)
    while i >= 0:
        stored += i + 10 < len(d) and d[i + 10] & 6 == 0 and want[:64] in d[i:i + 70000]
        i = d.find(head, i + 1)
    with tarfile.open(fileobj=io.BytesIO(d)) as t:
        for m in t.getmembers():
            if m.name.endswith("random.bin"):
                assert t.extractfile(m).read() == want, blob
                copies += 1
sys.exit(0 if stored >= 1 and copies >= 1 else 1)' "${KT_ROOT_OF[kiln-ranged]}" "$REPRO/random.bin"

kt_done
