#!/usr/bin/env bash
# Isolation levels chosen by probing: kiln builds a Dockerfile with RUN and
# a COPY-only one under simulated container settings (container_sim.c: Docker's
# default seccomp profile, Docker's capability set or none, no_new_privs,
# podman's masked /proc), as root and as the test users, and each image ID
# must equal the unrestricted host build's, or the build must fail with the
# precise error where RUN cannot run. The level each setting gets is checked
# from the line kiln prints at the start of the build.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
kt_begin_build_test
command -v gcc >/dev/null || { kt_fail "gcc is needed to build container_sim"; kt_done; exit 1; }
SIM=$KT_WORK/bin/container_sim
if ! gcc -O1 -o "$SIM" "$KT_SRC/tests/integration/container_sim.c" -lseccomp -lcap 2>"$KT_WORK/gcc.log"; then
  cat "$KT_WORK/gcc.log" >&2
  kt_fail "compiling container_sim (libseccomp-dev, libcap-dev)"
  kt_done
  exit 1
fi
chmod 0755 "$SIM"
if ! gcc -static -O1 -o "$KT_WORK/set_xattr" "$KT_SRC/tests/integration/set_xattr.c" 2>"$KT_WORK/gcc.log"; then
  cat "$KT_WORK/gcc.log" >&2; kt_fail "compiling set_xattr (static, libc6-dev)"; kt_done; exit 1
fi

mkctx() {  # mkctx DIR DOCKERFILE-LINES...
  local dir=$1; shift
  mkdir -p "$dir"
  echo "payload" >"$dir/a.txt"
  printf '%s\n' "$@" >"$dir/Dockerfile"
  chmod -R a+rX "$dir"
}
# RUN's chown to an id a single-id namespace cannot map is emulated
# (sandbox/chown_emulation.h), also where /proc is the container's, and
# kept for a directory an earlier step made (/c). The
# COPY-only build gives owners kiln records where it cannot chown: 1000,
# and the id of the unprivileged user that builds (its own id means root).
mkctx "$KT_WORK/ctx-run" "FROM oci:$BB:latest" "COPY a.txt /c/a.txt" \
  'RUN echo ran >/ran && mkdir -p /d && echo x >/d/x && rm /bin/true && chown 1000:1000 /ran /d /c && cd /d && chown 1000 x' \
  "WORKDIR /w"
mkctx "$KT_WORK/ctx-copy" "FROM oci:$BB:latest" "COPY a.txt /a.txt" "WORKDIR /w" "COPY a.txt b.txt" \
  "COPY --chown=1000:1000 a.txt /owned/a.txt" "COPY --chown=$(id -u kiln-ranged):$(id -g kiln-ranged) a.txt /mine.txt" \
  "USER 1000" "WORKDIR /home/u/work"
# A RUN that only sets xattrs of a file an earlier step made: setcap's
# security.capability (cap_net_bind_service+ep, v2) and a user xattr. No stat
# field the chroot level's scan compares changes (sandbox/working_root.h).
CAP=0100000200040000000000000000000000000000
mkctx "$KT_WORK/ctx-xattr" "FROM oci:$BB:latest" "COPY a.txt /x/a.txt" "COPY set_xattr /bin/set_xattr" \
  "RUN set_xattr /x/a.txt security.capability $CAP && set_xattr /x/a.txt user.note 6869"
cp "$KT_WORK/set_xattr" "$KT_WORK/ctx-xattr/set_xattr" && chmod 0755 "$KT_WORK/ctx-xattr/set_xattr"

# build WHO NAME CTX [SIM-ARGS...] : builds CTX as WHO (root or a test user)
# inside container_sim with SIM-ARGS; the log is $KT_WORK/NAME.log, the ID
# $KT_WORK/out/NAME.iid. Extra environment: $BUILD_ENV; extra build
# arguments: $BUILD_ARGS.
build() {
  local who=$1 name=$2 ctx=$3; shift 3
  local root home uidgid
  if [ "$who" = root ]; then
    root=$KT_WORK/root-root-$name; mkdir -p "$root"; home=/root; uidgid=0:0
  else
    root=$(kt_fresh_root "$who"); home=$(getent passwd "$who" | cut -d: -f6)
    uidgid=$(id -u "$who"):$(id -g "$who")
  fi
  mkdir -p "$KT_WORK/out"; chmod 1777 "$KT_WORK/out"
  # ASAN_OPTIONS: a sanitized kiln must not run LeakSanitizer, which needs
  # ptrace, under the simulated Docker profile that refuses it.
  "$SIM" "$@" --user "$uidgid" -- env -i PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin HOME="$home" \
    ASAN_OPTIONS="${ASAN_OPTIONS:-}" \
    KILN_ROOT="$root" ${BUILD_ENV:-} "$KT_KILN" build ${BUILD_ARGS:-} --lint=off --progress=plain --iidfile "$KT_WORK/out/$name.iid" "$ctx" \
    >"$KT_WORK/$name.log" 2>&1
}
level_of() { sed -n 's/^kiln: isolation \([a-z]*\):.*/\1/p' "$KT_WORK/$1.log" | head -1; }

# expect_same NAME WANT-LEVEL REF : the build NAME succeeded at level WANT-LEVEL with REF's image ID.
expect_same() {
  local name=$1 want=$2 ref=$3 rc=$4
  if [ "$rc" -ne 0 ]; then
    kt_fail "$name: build failed (exit $rc)"; tail -n 15 "$KT_WORK/$name.log" >&2; return
  fi
  kt_eq "$name: isolation level" "$want" "$(level_of "$name")"
  kt_eq "$name: image ID equals the host build's" "$(cat "$KT_WORK/out/$ref.iid")" "$(cat "$KT_WORK/out/$name.iid")"
}
# expect_error NAME WANT-LEVEL TEXT : the build NAME failed at level WANT-LEVEL saying TEXT.
expect_error() {
  local name=$1 want=$2 text=$3 rc=$4
  if [ "$rc" -eq 0 ]; then kt_fail "$name: built, but should have failed with: $text"; return; fi
  [ -n "$want" ] && kt_eq "$name: isolation level" "$want" "$(level_of "$name")"
  if grep -qF -- "$text" "$KT_WORK/$name.log"; then kt_ok "$name: fails with \"$text\""
  else kt_fail "$name: the error lacks \"$text\""; tail -n 8 "$KT_WORK/$name.log" >&2; fi
  if grep -qF '] FROM' "$KT_WORK/$name.log"; then kt_fail "$name: steps began before the error"; fi
}

# ---- the references: root on the host, nothing restricted ----
for c in run copy; do
  rc=0; build root host-$c "$KT_WORK/ctx-$c" || rc=$?
  [ "$rc" -eq 0 ] || { kt_fail "host-$c: the reference build failed"; tail -n 20 "$KT_WORK/host-$c.log" >&2; kt_done; exit 1; }
  kt_eq "host-$c: isolation level" full "$(level_of host-$c)"
done

# Each row: NAME WHO LEVEL-WITH-RUN SIM-ARGS (RUN builds; COPY-only builds are checked for every row).
rows=(
  "docker-root|root|chroot|--seccomp docker --caps docker"
  "podman-root|root|full|--caps docker"
  "masked-proc-ranged|kiln-ranged|relaxed|--mask-proc"
  "single|kiln-single|full|"
  "masked-proc-single|kiln-single|relaxed|--mask-proc"
  "restricted-nnp|kiln-ranged|full|--caps none --nnp"
  "docker-root-nocaps|root|none|--seccomp docker --caps none"
  # Docker's profile with CAP_SYS_ADMIN added, /proc masked: a user namespace
  # but no process_vm_readv (no CAP_SYS_PTRACE), so the chown emulation
  # reads the command's memory through /proc/PID/mem; pidfd_open is allowed.
  "docker-sysadmin-single|kiln-single|relaxed|--seccomp docker-sys-admin --mask-proc"
)
for row in "${rows[@]}"; do
  IFS='|' read -r name who level args <<<"$row"
  # shellcheck disable=SC2086
  rc=0; build "$who" "$name-run" "$KT_WORK/ctx-run" $args || rc=$?
  if [ "$level" = none ]; then
    expect_error "$name-run" none "RUN needs a mount namespace" "$rc"
  else
    expect_same "$name-run" "$level" host-run "$rc"
  fi
  # shellcheck disable=SC2086
  rc=0; build "$who" "$name-copy" "$KT_WORK/ctx-copy" $args || rc=$?
  expect_same "$name-copy" "$level" host-copy "$rc"
done

# The masked /proc row names its relaxation; no_new_privs maps a single id.
grep -qF "/proc is the container's, read-only" "$KT_WORK/masked-proc-ranged-run.log" &&
  kt_ok "masked /proc: the relaxation is named" || kt_fail "masked /proc: the relaxation is not named"
grep -qF "single id mapped" "$KT_WORK/restricted-nnp-run.log" &&
  kt_ok "no_new_privs: a single id is mapped, and said" || kt_fail "no_new_privs: no single-id note"

# uid 1000 under Docker's default profile: no user namespace, no RUN.
rc=0; build kiln-ranged docker-user-run "$KT_WORK/ctx-run" --seccomp docker || rc=$?
expect_error docker-user-run none "RUN needs a user namespace, and this machine refuses one" "$rc"
grep -qF "seccompProfile: Unconfined" "$KT_WORK/docker-user-run.log" &&
  kt_ok "docker-user-run: the error names the pod setting" || kt_fail "docker-user-run: no setting named"
# ...and a COPY-only build there gives the host's image ID: kiln's own ids
# stand for root on disk, other owners are recorded (sandbox/owner_record.h).
rc=0; build kiln-ranged docker-user-copy "$KT_WORK/ctx-copy" --seccomp docker || rc=$?
expect_same docker-user-copy none host-copy "$rc"

# The xattr-only RUN in the chroot level (Docker's root row) gives the host's
# image, and its layer holds the capability and the user xattr.
for n in host-xattr docker-root-xattr; do
  args=(); [ "$n" = docker-root-xattr ] && args=(--seccomp docker --caps docker)
  rc=0; BUILD_ARGS="--output type=oci,dest=$KT_WORK/out/$n" build root "$n" "$KT_WORK/ctx-xattr" "${args[@]}" || rc=$?
  [ "$n" = host-xattr ] && [ "$rc" -ne 0 ] && { kt_fail "host-xattr: the reference build failed"; tail -n 15 "$KT_WORK/$n.log" >&2; }
done
expect_same docker-root-xattr chroot host-xattr "$rc"
kt_eq "docker-root-xattr: the RUN layer holds x/a.txt's xattrs" \
  "x/a.txt security.capability=$CAP user.note=6869" "$(python3 - "$KT_WORK/out/docker-root-xattr" <<'PY' 2>&1
import json, sys, tarfile
d = sys.argv[1]
blob = lambda dg: d + "/blobs/sha256/" + dg.split(":")[1]
m = json.load(open(blob(json.load(open(d + "/index.json"))["manifests"][0]["digest"])))
with tarfile.open(blob(m["layers"][-1]["digest"])) as t:
    for e in t.getmembers():
        if e.isfile():
            x = sorted((k[len("SCHILY.xattr."):], v.encode("utf-8", "surrogateescape").hex())
                       for k, v in e.pax_headers.items() if k.startswith("SCHILY.xattr."))
            print(e.name, " ".join(k + "=" + v for k, v in x))
PY
)"

# A forced level the machine cannot give is an error; one it can give is used.
rc=0; BUILD_ENV="KILN_ISOLATION=full" build root forced-full "$KT_WORK/ctx-run" --seccomp docker --caps docker || rc=$?
expect_error forced-full "" "isolation full is not possible here" "$rc"
rc=0; BUILD_ENV="KILN_ISOLATION=chroot" build root forced-chroot "$KT_WORK/ctx-run" || rc=$?
expect_same forced-chroot chroot host-run "$rc"
rc=0; BUILD_ENV="KILN_ISOLATION=bogus" build root forced-bogus "$KT_WORK/ctx-copy" || rc=$?
expect_error forced-bogus "" "KILN_ISOLATION bogus: expected auto, full, relaxed, chroot or none" "$rc"

kt_done
