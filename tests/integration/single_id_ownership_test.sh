#!/bin/bash
# Exact ownership without subordinate ids: kiln-single (only its own id
# mapped) builds FROM a base with files owned by 0:42 and 1000:1000, with
# COPY --chown, USER + WORKDIR and RUN steps, and gets the image ID that
# kiln-ranged gets; the owners in the layers are checked with python's
# tarfile. What needs a range inside RUN (a step as USER 1000) fails naming
# the step and the missing range.
source "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || kt_skip "python3 not installed"
kt_require_root
kt_workdir
kt_setup_users

# ---- the base: busybox plus files owned by others, made by umoci as root ----
fill() {
  local r=$1
  bash "$KT_SRC/scripts/make-busybox-rootfs.sh" "$r"
  echo 'root:*:19000:0:99999:7:::' >"$r/etc/shadow"
  chown 0:42 "$r/etc/shadow" && chmod 0640 "$r/etc/shadow"
  mkdir -p "$r/home/u/sub"
  echo base >"$r/home/u/f"
  echo tool >"$r/home/u/tool" && chmod 04755 "$r/home/u/tool"
  chown -R 1000:1000 "$r/home/u"
}
BASE=$KT_WORK/base
kt_make_layout "$BASE" latest sh fill

# ---- the build ----
CTX=$KT_WORK/ctx
mkdir -p "$CTX/dir/sub"
echo app >"$CTX/app.txt"
echo nested >"$CTX/dir/sub/n.txt"
{
  echo "FROM oci:$BASE:latest"
  echo "COPY --chown=1000:1000 app.txt /app/app.txt"
  echo "COPY --chown=1000:42 dir/ /data/"
  # Appending copies the base file up: it keeps its owner.
  echo "RUN echo made >/made.txt && mkdir /rundir && echo more >>/home/u/f && chmod 0600 /etc/shadow"
  echo "USER 1000"
  echo "WORKDIR /w"
  echo "COPY <<EOF /w/here.txt"
  echo "heredoc"
  echo "EOF"
} >"$CTX/Dockerfile"
chmod -R a+rX "$CTX"

build() {  # build USER NAME CTX: image ID into $KT_WORK/NAME-USER.iid, layout in .../NAME-USER
  local user=$1 name=$2 ctx=$3 out=$KT_WORK/$2-$1
  mkdir -p "$out" && chown "$user:" "$out"
  kt_as "$user" "$KT_KILN" build --lint=off --progress=plain --iidfile "$out/iid" \
    --output "type=oci,dest=$out/layout" -t "$name:1" "$ctx" >"$KT_WORK/$name-$user.log" 2>&1
}
tree() { python3 "$KT_SRC/tests/integration/image_tree.py" tree "$1" 1; }
owner() {  # owner TREE PATH -> "uid:gid"
  awk -v p="$2" '$1 == p { print $4 ":" $5 }' "$1"
}

for user in kiln-ranged kiln-single; do
  kt_fresh_root "$user" >/dev/null
  if build "$user" own "$CTX"; then
    kt_ok "$user: build"
  else
    kt_fail "$user: build"
    cat "$KT_WORK/own-$user.log" >&2
    continue
  fi
  tree "$KT_WORK/own-$user/layout" >"$KT_WORK/own-$user.tree" || kt_fail "$user: image_tree"
done
t=$KT_WORK/own-kiln-single.tree
if [ -s "$t" ]; then
  kt_eq "base /etc/shadow keeps 0:42" "0:42" "$(owner "$t" /etc/shadow)"
  kt_eq "base /home/u keeps 1000:1000" "1000:1000" "$(owner "$t" /home/u)"
  kt_eq "base /home/u/sub keeps 1000:1000" "1000:1000" "$(owner "$t" /home/u/sub)"
  kt_eq "base setuid file keeps its owner" "1000:1000" \
    "$(owner "$t" /home/u/tool)"
  kt_eq "RUN-modified base file keeps its owner" "1000:1000" "$(owner "$t" /home/u/f)"
  kt_eq "COPY --chown file" "1000:1000" "$(owner "$t" /app/app.txt)"
  kt_eq "COPY --chown made the dir" "1000:1000" "$(owner "$t" /app)"
  kt_eq "COPY --chown of a dir tree" "1000:42 1000:42" "$(owner "$t" /data/sub) $(owner "$t" /data/sub/n.txt)"
  kt_eq "RUN-created file is root's" "0:0" "$(owner "$t" /made.txt)"
  kt_eq "WORKDIR after USER 1000" "1000:1000" "$(owner "$t" /w)"
  kt_eq "COPY heredoc as USER leaves root's file (docker)" "0:0" "$(owner "$t" /w/here.txt)"
fi
kt_eq "kiln-single tree equals kiln-ranged tree" "" \
  "$(diff "$KT_WORK/own-kiln-ranged.tree" "$KT_WORK/own-kiln-single.tree" 2>&1 | head -5)"
kt_eq "kiln-single image ID equals kiln-ranged's" "$(cat "$KT_WORK/own-kiln-ranged/iid" 2>/dev/null)" \
  "$(cat "$KT_WORK/own-kiln-single/iid" 2>/dev/null)"
# The record is kiln's bookkeeping, never image content.
kt_eq "no user.rootlesscontainers in the layers" "0" "$(python3 - "$KT_WORK/own-kiln-single/layout" <<'PY'
import json, sys, tarfile
d = sys.argv[1]
idx = json.load(open(d + "/index.json"))
m = json.load(open(d + "/blobs/sha256/" + idx["manifests"][0]["digest"].split(":")[1]))
n = 0
for l in m["layers"]:
    with tarfile.open(d + "/blobs/sha256/" + l["digest"].split(":")[1]) as t:
        n += sum(1 for e in t.getmembers() if any("rootlesscontainers" in k for k in e.pax_headers))
print(n)
PY
)"

# ---- chown inside RUN: emulated (seccomp notification), same image ID ----
C=$KT_WORK/run-chown
mkdir -p "$C"
python3 - "$C/owned.tar" <<'PY'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT) as t:
    for name, uid, gid, data in (("x", 7, 8, None), ("x/f", 7, 8, b"f\n"), ("x/g", 0, 9, b"g\n")):
        i = tarfile.TarInfo(name)
        i.uid, i.gid, i.mtime = uid, gid, 1
        if data is None:
            i.type, i.mode = tarfile.DIRTYPE, 0o755
            t.addfile(i)
        else:
            i.size, i.mode = len(data), 0o644
            t.addfile(i, io.BytesIO(data))
PY
{
  echo "FROM oci:$BASE:latest"
  echo "COPY owned.tar /owned.tar"
  # chgrp and cp -p read the owner with stat first (busybox passes it back).
  echo "RUN touch /f && chown 5:5 /f && mkdir /d && chown 1000:42 /d && chgrp 7 /d && cp -p /home/u/tool /copied \\"
  echo " && test \"\$(stat -c %u:%g /home/u)\" = 1000:1000 && chown 0:0 /home/u/f \\"
  echo " && mkdir /t && tar -xf /owned.tar -C /t && rm /owned.tar"
} >"$C/Dockerfile"
chmod -R a+rX "$C"
for user in kiln-ranged kiln-single; do
  kt_fresh_root "$user" >/dev/null
  if build "$user" chown "$C"; then
    kt_ok "$user: RUN chown build"
    tree "$KT_WORK/chown-$user/layout" >"$KT_WORK/chown-$user.tree" || kt_fail "$user: image_tree"
  else
    kt_fail "$user: RUN chown build"
    cat "$KT_WORK/chown-$user.log" >&2
  fi
done
t=$KT_WORK/chown-kiln-single.tree
if [ -s "$t" ]; then
  kt_eq "RUN chown 5:5" "5:5" "$(owner "$t" /f)"
  kt_eq "RUN chown then chgrp of a dir" "1000:7" "$(owner "$t" /d)"
  kt_eq "RUN cp -p keeps the recorded owner" "1000:1000" "$(owner "$t" /copied)"
  kt_eq "RUN chown back to root" "0:0" "$(owner "$t" /home/u/f)"
  kt_eq "RUN tar -x keeps the archive's owners" "7:8 7:8 0:9" \
    "$(owner "$t" /t/x) $(owner "$t" /t/x/f) $(owner "$t" /t/x/g)"
fi
kt_eq "RUN chown: kiln-single tree equals kiln-ranged tree" "" \
  "$(diff "$KT_WORK/chown-kiln-ranged.tree" "$KT_WORK/chown-kiln-single.tree" 2>&1 | head -5)"
kt_eq "RUN chown: kiln-single image ID equals kiln-ranged's" "$(cat "$KT_WORK/chown-kiln-ranged/iid" 2>/dev/null)" \
  "$(cat "$KT_WORK/chown-kiln-single/iid" 2>/dev/null)"

# ---- RUN as another user needs a range: a precise error ----
U=$KT_WORK/as-user
mkdir -p "$U"
printf 'FROM oci:%s:latest\nUSER 1000\nRUN id -u\n' "$BASE" >"$U/Dockerfile"
chmod -R a+rX "$U"
if build kiln-single asuser "$U"; then
  kt_fail "kiln-single: RUN as USER 1000 should need a range"
else
  log=$KT_WORK/asuser-kiln-single.log
  kt_check "RUN as another user: names the step" grep -q "kiln: error: Dockerfile:3: RUN" "$log"
  kt_check "RUN as another user: names the missing range" grep -Eq "subordinate [ug]id range in /etc/sub[ug]id" "$log"
fi
# Switching user inside RUN (su, apt's _apt) is watched, not emulated: the
# step fails, and its error names the ids it tried and the missing range.
S=$KT_WORK/su
mkdir -p "$S"
printf 'FROM oci:%s:latest\nRUN su -s /bin/sh app -c "id -u"\n' "$BASE" >"$S/Dockerfile"
chmod -R a+rX "$S"
if build kiln-single su "$S"; then
  kt_fail "kiln-single: su inside RUN should need a range"
else
  log=$KT_WORK/su-kiln-single.log
  kt_check "su inside RUN: the error names the step" grep -q 'kiln: error: Dockerfile:2: RUN su' "$log"
  kt_check "su inside RUN: the error names the id and the range" \
    grep -Eq 'tried to switch to .*gid 1000.*subordinate id range in /etc/subuid' "$log"
fi
kt_done
