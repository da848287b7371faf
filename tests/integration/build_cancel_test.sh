#!/bin/bash
# Interrupting kiln build: SIGINT during a long RUN makes kiln exit promptly
# (< 5 s) with 130, leaving no process, no mount and a store that passes
# `kiln fsck`, and a rebuild works; kill -9 of kiln mid-build leaves nothing
# running either and the next build succeeds. Also the TTY progress view
# under a pty (script(1)): step names, CACHED on a rebuild. As kiln-ranged.
source "$(dirname "$0")/lib.sh"
command -v script >/dev/null || kt_skip "script (util-linux) not installed"
kt_begin_build_test
user=kiln-ranged

CTX=$KT_WORK/ctx
mkdir -p "$CTX"
printf 'FROM oci:%s:latest\nARG T=317\nRUN echo long-step-started && sleep $T && echo finished > /f\n' "$BB" >"$CTX/Dockerfile"
chmod -R a+rX "$CTX"
kt_fresh_root "$user" >/dev/null
root=${KT_ROOT_OF[$user]}

now() { date +%s.%N; }
elapsed() { python3 -c "print(round($2-$1,2))"; }
# Processes of this build: kiln (its environment names this store) and the
# RUN's sleep (by its unusual duration; other tests may run as the same user).
build_procs() {
  local p out=""
  for p in /proc/[0-9]*; do
    if grep -qzF "KILN_ROOT=$root" "$p/environ" 2>/dev/null ||
       { tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null | grep -q "sleep 31[7]"; then
      out+="${p#/proc/}:$(cat "$p/comm" 2>/dev/null) "
    fi
  done
  echo "$out"
}
# Starts the long build in the background; waits until its RUN printed.
# The step's output line ("#2 0.012 long-step-started"), not its header
# ("#2 [1/1] RUN echo long-step-started ..."), which comes before the step's
# root is mounted: matching that made the fuse-overlayfs check below race
# the daemon's start under load.
start_long_build() {  # log
  kt_as "$user" "$KT_KILN" build --lint=off --progress=plain "$CTX" >"$1" 2>&1 &
  BUILD_PID=$!
  for _ in $(seq 200); do grep -qE '^#[0-9]+ [0-9.]+ long-step-started' "$1" && return 0; sleep 0.1; done
  cat "$1"; return 1
}
outer_kiln() { pgrep -u "$user" -o -x kiln; }
mounts_of_store() { cat /proc/[0-9]*/mountinfo 2>/dev/null | grep -cF "$root" || true; }
wait_gone() {  # pid seconds -> 0 if it exited in time
  local i
  for ((i = 0; i < $2 * 20; i++)); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.05; done
  return 1
}

# ---- SIGINT ----
if start_long_build "$KT_WORK/int.log"; then
  kpid=$(outer_kiln)
  t0=$(now)
  kill -INT "$kpid"
  rc=0
  if wait_gone "$BUILD_PID" 5; then
    wait "$BUILD_PID" || rc=$?
    t=$(elapsed "$t0" "$(now)")
    echo "# kiln exited ${t}s after SIGINT"
    kt_ok "SIGINT: kiln exits within 5 s"
    kt_eq "SIGINT: exit code 130" 130 "$rc"
    kt_check "SIGINT: says it was cancelled" grep -q "build cancelled (SIGINT)" "$KT_WORK/int.log"
  else
    kt_fail "SIGINT: kiln still running 5 s after SIGINT"
    ps -eo pid,ppid,user,stat,wchan:30,args --forest | grep -E "kiln|sleep" | grep -v grep | sed 's/^/    /'
    tail -5 "$KT_WORK/int.log" | sed 's/^/    /'
    kill -9 "$kpid" 2>/dev/null || true
  fi
  sleep 0.2
  kt_eq "SIGINT: no process of the build remains" "" "$(build_procs)"
  kt_eq "SIGINT: no mount of the store remains" 0 "$(mounts_of_store)"
  kt_check "SIGINT: kiln fsck passes" kt_as "$user" "$KT_KILN" fsck
  t0=$(now)
  if kt_as "$user" "$KT_KILN" build --lint=off --progress=plain --build-arg T=0 "$CTX" >"$KT_WORK/after-int.log" 2>&1; then
    kt_ok "SIGINT: a rebuild works ($(elapsed "$t0" "$(now)")s)"
  else
    cat "$KT_WORK/after-int.log"; kt_fail "SIGINT: a rebuild works"
  fi
else
  kt_fail "SIGINT: the long build did not start"
fi

# ---- kill -9 of kiln ----
if start_long_build "$KT_WORK/kill.log"; then
  kpid=$(outer_kiln)
  kill -9 "$kpid"
  wait "$BUILD_PID" 2>/dev/null || true
  gone=1
  for _ in $(seq 100); do [ -z "$(build_procs)" ] && { gone=0; break; }; sleep 0.05; done
  kt_eq "kill -9: no process of the build remains after 5 s" "" "$(build_procs)"
  kt_eq "kill -9: no mount of the store remains" 0 "$(mounts_of_store)"
  [ $gone -eq 0 ] || pkill -9 -u "$user" 2>/dev/null || true
  if kt_as "$user" "$KT_KILN" build --lint=off --progress=plain --build-arg T=0 "$CTX" >"$KT_WORK/after-kill.log" 2>&1; then
    kt_ok "kill -9: the next build succeeds"
  else
    cat "$KT_WORK/after-kill.log"; kt_fail "kill -9: the next build succeeds"
  fi
  kt_check "kill -9: kiln fsck passes" kt_as "$user" "$KT_KILN" fsck
else
  kt_fail "kill -9: the long build did not start"
fi

# ---- kill -9 of kiln while fuse-overlayfs serves the step ----
# Its daemon is kiln's child with PR_SET_PDEATHSIG: it must not outlive kiln
# (it would keep the mount namespace and the store's dirs busy).
if command -v fuse-overlayfs >/dev/null && [ -c /dev/fuse ] && [ "$(id -u)" = 0 ]; then
  fuse_mode=$(stat -c %a /dev/fuse)
  chmod 0666 /dev/fuse
  kt_on_exit "chmod $fuse_mode /dev/fuse"
  export KT_EXTRA_ENV=KILN_SNAPSHOTTER=fuse-overlayfs
  if start_long_build "$KT_WORK/kill-fuse.log"; then
    kt_check "fuse-overlayfs: a daemon serves the running step" pgrep -u "$user" -x fuse-overlayfs
    kill -9 "$(outer_kiln)"
    wait "$BUILD_PID" 2>/dev/null || true
    for _ in $(seq 100); do [ -z "$(build_procs)" ] && break; sleep 0.05; done
    kt_eq "fuse-overlayfs: kill -9 of kiln leaves no process after 5 s" "" "$(build_procs)"
    # Running daemons only: a dead one stays a zombie until init reaps it,
    # which some machines' init does lazily (seconds later).
    live_daemons() { pgrep -u "$user" -x fuse-overlayfs -r R,S,D,T,t,I || true; }
    for _ in $(seq 100); do [ -z "$(live_daemons)" ] && break; sleep 0.05; done
    kt_eq "fuse-overlayfs: no daemon is left" "" "$(live_daemons)"
    kt_eq "fuse-overlayfs: no mount of the store remains" 0 "$(mounts_of_store)"
    pkill -9 -u "$user" -x fuse-overlayfs 2>/dev/null || true
    kt_check "fuse-overlayfs: kiln fsck passes" kt_as "$user" "$KT_KILN" fsck
  else
    kt_fail "fuse-overlayfs: the long build did not start"
  fi
  unset KT_EXTRA_ENV
fi

# ---- the TTY view ----
printf 'FROM oci:%s:latest\nRUN echo tty-line-1 && echo tty-line-2 > /t\nCOPY Dockerfile /Dockerfile\n' "$BB" >"$CTX/Dockerfile"
tty_build() {  # log
  kt_as "$user" script -qec "$KT_KILN build --lint=off $CTX" /dev/null >"$1" 2>&1
}
if tty_build "$KT_WORK/tty1.log"; then
  v=$(sed 's/\x1b\[[0-9;]*[A-Za-z]//g; s/\r$//' "$KT_WORK/tty1.log")
  kt_check "tty: steps are redrawn in place (ANSI cursor moves)" grep -qP '\x1b\[\d+A' "$KT_WORK/tty1.log"
  kt_check "tty: finished RUN step with its duration" grep -qE '^=> #[0-9]+ \[stage-0 2/3\] RUN echo tty-line-1.* [0-9.]+s' <<<"$v"
  kt_check "tty: finished COPY step" grep -qE '^=> #[0-9]+ \[stage-0 3/3\] COPY Dockerfile /Dockerfile [0-9.]+s' <<<"$v"
  kt_check "tty: RUN output tail shown" grep -q "tty-line-1" <<<"$v"
  kt_check "tty: no plain-mode lines" bash -c "! grep -qE '^#[0-9]+ (DONE|CACHED)' <<<\"\$1\"" _ "$v"
else
  cat "$KT_WORK/tty1.log"; kt_fail "tty: build under a pty"
fi
if tty_build "$KT_WORK/tty2.log"; then
  v=$(sed 's/\x1b\[[0-9;]*[A-Za-z]//g; s/\r$//' "$KT_WORK/tty2.log")
  kt_check "tty: CACHED steps on a rebuild" grep -qE '^=> CACHED #[0-9]+ \[stage-0 2/3\] RUN echo tty-line-1' <<<"$v"
  kt_check "tty: result line" grep -qE '^built <untagged> sha256:[0-9a-f]{64} .*\(0 steps run, 2 cached\)' <<<"$v"
else
  cat "$KT_WORK/tty2.log"; kt_fail "tty: rebuild under a pty"
fi

kt_done
