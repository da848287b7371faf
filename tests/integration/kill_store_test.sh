#!/bin/bash
# kill -9 of builds and pushes at random points, and builds running at once
# on one store. After every kill: no process of the build is left, no mount
# of the store is left, `kiln fsck` is clean (else the test checks the store
# itself: each blob's sha256 is its name, index.json parses, tagged images
# are whole). After the builds that follow the kills: the same image digest
# as an uninterrupted build, and no temp files left (tmp/, and
# WriteFileAtomic's ".NAME.tmp-PID-N" beside index.json, layers/*.done and
# cache files: this test found those; Store::SweepStaleTemp now removes
# them). Pushes killed midway never leave a wrong image under the tag, and
# the next push completes.
# As kiln-ranged and kiln-single. KILL_ROUNDS (default 10) rounds of
# KILLS_PER_ROUND (default 4) build kills, plus two push kills per round and
# a kill during the concurrent builds: 61 kills in all (at least 50 wanted).
#
# Kill points are picked two ways: a third at a random delay within an
# uninterrupted build's duration (measured first), two thirds on seeing a
# phase start in the progress output (pull, COPY, RUN, export) plus a random
# delay of up to 0.1 s. The phase that each kill hit (the last progress
# line) is counted and printed.
source "$(dirname "$0")/lib.sh"
kt_begin_registry_test
chmod 0777 "$KT_WORK"

rounds=${KILL_ROUNDS:-10}
per_round=${KILLS_PER_ROUND:-4}
kills=0
declare -A phase_hits

# The context: a base pulled from the registry, a 3 MiB incompressible file
# (so snapshot, compression and upload take a moment), a RUN that writes
# many small files and one that reads the big one.
ctx=$KT_WORK/ctx
mkdir -p "$ctx"
head -c 3145728 /dev/urandom >"$ctx/blob"
cat >"$ctx/Dockerfile" <<DF
FROM $KT_REGISTRY/busybox:latest
ARG V=0
COPY blob /blob
RUN echo killtest-run-\$V && mkdir /d && i=0 && while [ \$i -lt 300 ]; do echo \$i > /d/f\$i; i=\$((i+1)); done
RUN sha256sum /blob > /sum && echo \$V > /v
DF
chmod -R a+rX "$ctx"

# Times in bash itself: a python3 or date per kill would add its own start-up
# (0.1 s on a busy host) to every delay.
now_ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }
ms() { local i=${1%.*} f=${1#*.}000; [ "$i" = "$1" ] && f=000; echo $((10#$i * 1000 + 10#${f:0:3})); }
secs() { printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)); }
rand_s() { local max; max=$(ms "$1"); secs $(((RANDOM * 32768 + RANDOM) % (max + 1))); }  # 0..$1 seconds

# Runs kiln as USER with its own store (setpriv and env exec, so no parent
# stays between the caller and kiln, unlike runuser).
kiln_as() {  # user root args...
  local user=$1 root=$2 home
  shift 2
  home=$(getent passwd "$user" | cut -d: -f6)
  setpriv --reuid="$user" --regid="$user" --init-groups --reset-env \
    env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$home" USER="$user" KILN_ROOT="$root" \
    ASAN_OPTIONS="$ASAN_OPTIONS" "$KT_KILN" "$@"
}
# The same in the background: the subshell that `&` makes execs too, so $!
# is kiln's own pid (a kill -9 of the subshell would leave kiln running).
kiln_bg() {  # user root log args... -> sets BG_PID
  local user=$1 root=$2 log=$3
  shift 3
  (
    home=$(getent passwd "$user" | cut -d: -f6)
    exec setpriv --reuid="$user" --regid="$user" --init-groups --reset-env \
      env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$home" USER="$user" KILN_ROOT="$root" \
      ASAN_OPTIONS="$ASAN_OPTIONS" "$KT_KILN" "$@"
  ) >"$log" 2>&1 &
  BG_PID=$!
  # Until the exec chain reaches kiln, a kill would hit setpriv or env.
  local i
  for ((i = 0; i < 200; i++)); do
    [ "$(readlink "/proc/$BG_PID/exe" 2>/dev/null)" = "$KT_KILN" ] && return 0
    kill -0 "$BG_PID" 2>/dev/null || return 0
    sleep 0.005
  done
}
fresh_store() {  # user -> path
  local dir
  dir=$(mktemp -d "$KT_WORK/store-$1.XXXXXX")
  chown "$1:" "$dir"
  echo "$dir"
}
build_args() {  # v tag
  echo build --lint=off --progress=plain --build-arg "V=$1" -t "$2" "$ctx"
}
iid_of() { grep -oE '^built .* sha256:[0-9a-f]{64}' "$1" | grep -oE 'sha256:[0-9a-f]{64}' | tail -1; }

# Processes of a store: kiln (its environment names the store), helpers
# that inherit it, and RUN steps (their script names killtest-run).
procs_of() {  # root
  local f p out=""
  # One grep over all of /proc (a loop of greps takes seconds on a busy host).
  for f in $({ grep -lzF "KILN_ROOT=$1" /proc/[0-9]*/environ
               grep -laE 'killtest-run-[0-9]' /proc/[0-9]*/cmdline; } 2>/dev/null | sort -u); do
    p=${f%/*}
    [ "$p" = "/proc/$$" ] || [ "$p" = "/proc/$BASHPID" ] && continue
    # Zombies wait for init (lazy on some machines): they hold nothing.
    [ "$(awk '{print $3}' "$p/stat" 2>/dev/null)" = Z ] && continue
    [ -d "$p" ] && out+="${p#/proc/}:$(cat "$p/comm" 2>/dev/null) "
  done
  echo "$out"
}
mounts_of() { cat /proc/[0-9]*/mountinfo 2>/dev/null | grep -cF "$1/" || true; }
wait_no_procs() {  # root -> 0 when none within 5 s
  local i
  for ((i = 0; i < 100; i++)); do [ -z "$(procs_of "$1")" ] && return 0; sleep 0.05; done
  return 1
}

# The store is sound: `kiln fsck` when this kiln has it, else the test's own
# check of blobs and index.json.
have_fsck=0
kiln_as kiln-ranged "$(fresh_store kiln-ranged)" fsck --help >/dev/null 2>&1 && have_fsck=1
store_sound() {  # user root -> prints what is wrong
  local user=$1 root=$2 f
  if [ $have_fsck = 1 ]; then
    kiln_as "$user" "$root" fsck >"$KT_WORK/fsck.log" 2>&1 || { echo "kiln fsck: $(tail -5 "$KT_WORK/fsck.log")"; return 1; }
  fi
  [ -f "$root/index.json" ] || return 0  # killed before the store was made
  jq -e . "$root/index.json" >/dev/null 2>&1 || { echo "index.json does not parse"; return 1; }
  for f in "$root"/blobs/sha256/*; do
    [ -e "$f" ] || continue
    [ "$(sha256sum <"$f" | cut -d' ' -f1)" = "$(basename "$f")" ] || { echo "blob $f: wrong content"; return 1; }
  done
  # Every manifest a tag names is there, with its config and layers.
  for f in $(jq -r '.manifests[].digest' "$root/index.json"); do
    [ -f "$root/blobs/sha256/${f#sha256:}" ] || { echo "tagged manifest $f missing"; return 1; }
    for f in $(jq -r '.config.digest, .layers[].digest' "$root/blobs/sha256/${f#sha256:}"); do
      [ -f "$root/blobs/sha256/${f#sha256:}" ] || { echo "blob $f of a tagged image missing"; return 1; }
    done
  done
}
# Left though no kiln of this store runs: scratch dirs and blobs in tmp/,
# and WriteFileAtomic's ".NAME.tmp-PID-N" files beside what they replace.
stale_temp() {
  { find "$1/tmp" -mindepth 1 -maxdepth 1; find "$1" -name '.*.tmp-*'; } 2>/dev/null | head -3
}

# What the build was doing when killed, from its last progress line. A
# step's time includes its snapshot and compression (no line of their own);
# after the last step's DONE comes the export (config, manifest, tag).
phase_of() {  # log
  local last
  last=$(grep -E '^#[0-9]+ ' "$1" | tail -1 || true)
  case "$last" in
    "") echo "start" ;;
    "#0 pulling"*) echo "pull and extract" ;;
    *"] FROM "*) echo "resolve base" ;;
    *CACHED) echo "cached steps" ;;
    "#4 DONE"*) echo "export" ;;
    *DONE*) echo "between steps" ;;
    *"] COPY"*) echo "COPY (snapshot, compress)" ;;
    "#3 "*) echo "RUN 1 (run, snapshot, compress)" ;;
    "#4 "*) echo "RUN 2 (run, snapshot, compress)" ;;
    *) echo "${last}" | cut -c1-40 ;;
  esac
}
after_kill_checks() {  # what user root
  local what=$1 user=$2 root=$3 why
  kills=$((kills + 1))
  if ! wait_no_procs "$root"; then
    kt_fail "$what: processes left 5 s after kill -9: $(procs_of "$root")"
    ps -eo pid,ppid,user,stat,args --forest | grep -E "kiln|killtest" | grep -v grep | sed 's/^/    /' | head -20
    local p
    for p in $(procs_of "$root"); do kill -9 "${p%%:*}" 2>/dev/null || true; done
  fi
  [ "$(mounts_of "$root")" = 0 ] || kt_fail "$what: $(mounts_of "$root") mounts of the store left"
  why=$(store_sound "$user" "$root") || kt_fail "$what: store not sound: $why"
}

# kill -9 of a build at a random delay or at a phase; returns when it is gone.
kill_build() {  # user root v log span -> sets last_phase
  local user=$1 root=$2 v=$3 log=$4 span=$5 pid i
  kiln_bg "$user" "$root" "$log" $(build_args "$v" "app:v$v")
  pid=$BG_PID
  if ((RANDOM % 3 == 0)); then
    sleep "$(rand_s "$span")"
  else
    # Phases that this build has (a warm store pulls nothing, copies nothing).
    local pats=('killtest-run' '\] RUN sha256sum' '^#3 DONE' '^#4 DONE')
    [ "$v" = 1 ] && pats=('pulling' '\] COPY' '^#1 DONE' 'killtest-run')
    # In turn (rounds and kills), so every run hits every phase.
    local pat=${pats[(r + k) % ${#pats[@]}]}
    for ((i = 0; i < 1000; i++)); do
      grep -qE "$pat" "$log" 2>/dev/null && break
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.01
    done
    sleep "$(rand_s 0.1)"
  fi
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  last_phase=$(phase_of "$log")
  grep -q '^built ' "$log" && last_phase="finished before the kill"
  phase_hits[$last_phase]=$((${phase_hits[$last_phase]:-0} + 1))
}

# ---- reference digests, uninterrupted, per user (kiln-single's files are all root's) ----
# V=1..KILLS_PER_ROUND: each kill of a round builds the next V, so its RUN
# steps (and their snapshot and compression) have work to do in a warm store.
declare -A ref_iid
for user in kiln-ranged kiln-single; do
  root=$(fresh_store "$user")
  for ((v = 1; v <= per_round; v++)); do
    t0=$(now_ms)
    if ! kiln_as "$user" "$root" $(build_args "$v" "app:v$v") >"$KT_WORK/ref-$user-$v.log" 2>&1; then
      cat "$KT_WORK/ref-$user-$v.log"; kt_fail "$user: uninterrupted build of V=$v"; kt_done; exit 1
    fi
    t1=$(now_ms)
    ref_iid[$user/$v]=$(iid_of "$KT_WORK/ref-$user-$v.log")
    if [ "$user" = kiln-ranged ]; then
      [ "$v" = 1 ] && cold_s=$(secs $((t1 - t0)))
      [ "$v" = 2 ] && warm_s=$(secs $((t1 - t0)))
    fi
  done
  kiln_as "$user" "$root" $(build_args 1 app:v1) >"$KT_WORK/ref-again-$user.log" 2>&1
  kt_eq "$user: an uninterrupted rebuild gives the same image" "${ref_iid[$user/1]}" "$(iid_of "$KT_WORK/ref-again-$user.log")"
  if [ "$user" = kiln-ranged ]; then  # how long a push of a new repository takes
    t0=$(now_ms)
    kiln_as "$user" "$root" push --insecure app:v1 "$KT_REGISTRY/killtest/ref:v1" >"$KT_WORK/ref-push.log" 2>&1 ||
      { cat "$KT_WORK/ref-push.log"; kt_fail "uninterrupted push"; }
    push_s=$(secs $(($(now_ms) - t0)))
  fi
  rm -rf "$root"
done
echo "# uninterrupted: a cold build ${cold_s}s, a build with new RUN steps ${warm_s}s, a push ${push_s}s"

# ---- rounds: a fresh store, a kill -9 of builds of V=1..K, then each V built to the end ----
round_fail=0
for ((r = 1; r <= rounds; r++)); do
  user=kiln-ranged
  ((r % 3 == 0)) && user=kiln-single
  root=$(fresh_store "$user")
  for ((k = 1; k <= per_round; k++)); do
    # Most of an uninterrupted build's time: a build after a kill has less to do.
    ((k == 1)) && span=$cold_s || span=$warm_s
    span=$(secs $(($(ms "$span") * 6 / 10)))
    kill_build "$user" "$root" "$k" "$KT_WORK/r$r-k$k.log" "$span"
    after_kill_checks "round $r kill $k ($user, ${last_phase})" "$user" "$root"
  done
  for ((v = 1; v <= per_round; v++)); do
    if kiln_as "$user" "$root" $(build_args "$v" "app:v$v") >"$KT_WORK/r$r-done$v.log" 2>&1; then
      got=$(iid_of "$KT_WORK/r$r-done$v.log")
      [ "$got" = "${ref_iid[$user/$v]}" ] ||
        { kt_fail "round $r: after the kills V=$v builds $got, not ${ref_iid[$user/$v]}"; round_fail=1; }
    else
      tail -20 "$KT_WORK/r$r-done$v.log"; kt_fail "round $r: the build of V=$v after the kills fails"; round_fail=1
    fi
  done
  left=$(stale_temp "$root")
  [ -z "$left" ] || { kt_fail "round $r: temp files left after completed builds: $left"; round_fail=1; }
  why=$(store_sound "$user" "$root") || { kt_fail "round $r: store not sound after completed builds: $why"; round_fail=1; }

  # Pushes of the finished image to a new repository, killed twice at a
  # random point (an uninterrupted push is mostly HTTP round trips: blobs are
  # small and the registry local), then completed.
  dest=$KT_REGISTRY/killtest/r$r:v1
  for pk in 1 2; do
    kiln_bg "$user" "$root" "$KT_WORK/r$r-push$pk.log" push --insecure app:v1 "$dest"
    pid=$BG_PID
    sleep "$(rand_s "$(secs $(($(ms "$push_s") / 2)))")"
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    ph="push: after $(grep -c '^blob ' "$KT_WORK/r$r-push$pk.log" || true) blobs"
    grep -q "pushed as" "$KT_WORK/r$r-push$pk.log" && ph="push: finished before the kill"
    phase_hits[$ph]=$((${phase_hits[$ph]:-0} + 1))
    after_kill_checks "round $r push kill $pk ($ph)" "$user" "$root"
  done
  # Under the tag now: nothing, or the whole right image.
  if skopeo inspect --raw --tls-verify=false "docker://$dest" >/dev/null 2>&1; then
    skopeo copy -q --src-tls-verify=false "docker://$dest" "oci:$KT_WORK/pulled-r$r:x" >/dev/null 2>&1 ||
      kt_fail "round $r: after a killed push the tag names an image whose blobs are not all there"
    rm -rf "$KT_WORK/pulled-r$r"
  fi
  if kiln_as "$user" "$root" push --insecure app:v1 "$dest" >"$KT_WORK/r$r-push-done.log" 2>&1; then
    pushed=$(skopeo inspect --raw --tls-verify=false "docker://$dest" | sha256sum | cut -d' ' -f1)
    [ "sha256:$pushed" = "${ref_iid[$user/1]}" ] ||
      kt_fail "round $r: the registry holds sha256:$pushed, expected ${ref_iid[$user/1]}"
    if ((r % 3 == 1)); then  # skopeo verifies every blob's digest (a second a time: not every round)
      skopeo copy -q --src-tls-verify=false "docker://$dest" "oci:$KT_WORK/pulled-r$r:x" >/dev/null 2>&1 ||
        kt_fail "round $r: the pushed image does not copy back whole"
      rm -rf "$KT_WORK/pulled-r$r"
    fi
  else
    cat "$KT_WORK/r$r-push-done.log"; kt_fail "round $r: the push after the kill fails"
  fi
  rm -rf "$root"
done
[ $round_fail = 0 ] && kt_ok "$rounds rounds: after kills at random points every build completes with the uninterrupted digest"

# ---- builds at once on one store, one of them killed ----
user=kiln-ranged
root=$(fresh_store "$user")
pids=()
for i in 1 2 3 4; do
  v=$((i % 2 + 1))  # two builds of V=2, two of V=1
  kiln_bg "$user" "$root" "$KT_WORK/c$i.log" $(build_args "$v" "app:c$i")
  pids+=("$BG_PID")
done
kiln_bg "$user" "$root" "$KT_WORK/c-victim.log" $(build_args 9 app:victim)
victim=$BG_PID
# Killed once its first RUN runs (the others are then mid-build too).
for ((i = 0; i < 1000; i++)); do
  grep -q "killtest-run-9" "$KT_WORK/c-victim.log" 2>/dev/null && break
  kill -0 "$victim" 2>/dev/null || break
  sleep 0.01
done
sleep "$(rand_s 0.3)"
grep -q '^built ' "$KT_WORK/c-victim.log" && kt_fail "concurrent: the victim finished before the kill"
kill -9 "$victim" 2>/dev/null || true
wait "$victim" 2>/dev/null || true
kills=$((kills + 1))
conc_ok=1
for i in 1 2 3 4; do
  if wait "${pids[$((i - 1))]}"; then
    v=$((i % 2 + 1))
    want=${ref_iid[$user/$v]}
    got=$(iid_of "$KT_WORK/c$i.log")
    [ "$got" = "$want" ] || { kt_fail "concurrent build $i: $got, expected $want"; conc_ok=0; }
  else
    tail -20 "$KT_WORK/c$i.log"; kt_fail "concurrent build $i failed"; conc_ok=0
  fi
done
[ $conc_ok = 1 ] && kt_ok "4 builds at once on one store (one more killed midway) give the uninterrupted digests"
wait_no_procs "$root" || kt_fail "concurrent: processes left: $(procs_of "$root")"
kt_eq "concurrent: no mount of the store left" 0 "$(mounts_of "$root")"
why=$(store_sound "$user" "$root") && kt_ok "concurrent: the store is sound" || kt_fail "concurrent: store not sound: $why"
if kiln_as "$user" "$root" $(build_args 9 app:victim) >"$KT_WORK/c-after.log" 2>&1; then
  kt_ok "concurrent: the killed build completes afterwards"
  kt_eq "concurrent: no temp dirs left" "" "$(stale_temp "$root")"
else
  tail -20 "$KT_WORK/c-after.log"; kt_fail "concurrent: the killed build completes afterwards"
fi

echo "# kills by phase hit:"
for ph in "${!phase_hits[@]}"; do echo "#   ${phase_hits[$ph]} $ph"; done | sort -k2
[ "$kills" -ge 50 ] && kt_ok "$kills kills in all" || kt_fail "only $kills kills (want at least 50)"
kt_done
