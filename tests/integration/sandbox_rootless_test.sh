#!/usr/bin/env bash
# Runs the sandbox gtest binary (isolation, ownership, overlay, cleanup
# tests) as root, as kiln-ranged (subuid range) and as kiln-single (none):
# the binary enters the build namespace itself, as kiln does.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
kt_require_root
bin=${KILN_TEST_BIN_DIR:?KILN_TEST_BIN_DIR must point to the test binaries}/sandbox_tests
[ -x "$bin" ] || kt_skip "sandbox_tests not built"
# kt_workdir installs the kiln binary; the sandbox tests do not need it.
KILN=${KILN:-$bin}
[ -x "$KILN" ] || KILN=$bin
kt_workdir
kt_setup_users
install -m 0755 "$bin" "$KT_WORK/bin/sandbox_tests"
# What the binary reads from the checkout, copied where the test users can
# read it: the checkout may be under a mode-700 home (/root).
src=$KT_WORK/src
mkdir -p "$src/scripts" "$src/tests/sandbox"
cp "$KT_SRC/scripts/make-busybox-rootfs.sh" "$src/scripts/"
cp "$KT_SRC/tests/sandbox/probe.c" "$src/tests/sandbox/"
chmod -R a+rX "$src"
# Emulated RUN (tests/sandbox/emulation_test.cc): Debian's arm64 busybox, and
# a binfmt_misc handler without flag F that only KILN-marked arm64 binaries
# match (registered here as root: the users cannot; parallel-safe, as it
# takes no binary from Debian's qemu-aarch64 entry).
arm64_bb=$(kt_arm64_busybox) || { kt_fail "no arm64 busybox for the emulation tests"; arm64_bb=/nonexistent; }
[ -r "$arm64_bb" ] && install -m 0755 "$arm64_bb" "$src/busybox-arm64"
binfmt_handler=kiln-test-$$
printf '%s' ":$binfmt_handler:M::\\x7fELF\\x02\\x01\\x01\\x00\\x00KILN\\x00\\x00\\x00\\x02\\x00\\xb7\\x00:\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\x00\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xfe\\xff\\xff\\xff:/usr/libexec/qemu-binfmt/aarch64-binfmt-P:P" \
  >/proc/sys/fs/binfmt_misc/register || kt_fail "registering the test binfmt_misc handler $binfmt_handler"
kt_on_exit "echo -1 >/proc/sys/fs/binfmt_misc/$binfmt_handler"
export KILN_ARM64_BUSYBOX=$src/busybox-arm64 KILN_TEST_BINFMT_HANDLER=$binfmt_handler
export KT_EXTRA_ENV="KILN_SOURCE_DIR=$src KILN_ARM64_BUSYBOX=$src/busybox-arm64 KILN_TEST_BINFMT_HANDLER=$binfmt_handler"

run_as() {  # run_as WHO cmd...
  local who=$1; shift
  local log=$KT_WORK/sandbox-$who.log
  if [ "$who" = root ]; then
    env KILN_SOURCE_DIR="$src" "$@" >"$log" 2>&1  # with the emulation variables exported above
  else
    kt_as "$who" "$@" >"$log" 2>&1
  fi
  local rc=$?
  grep -E '^\[ +(FAILED|SKIPPED|PASSED) +\]|METRIC|^kiln:' "$log" | sed "s/^/[$who] /" || true
  return $rc
}

for who in root kiln-ranged kiln-single; do
  if run_as "$who" "$KT_WORK/bin/sandbox_tests"; then
    kt_ok "sandbox_tests as $who"
  else
    kt_fail "sandbox_tests as $who (log: $KT_WORK/sandbox-$who.log)"
    tail -n 50 "$KT_WORK/sandbox-$who.log" >&2
  fi
done

# A test that cannot make its base rootfs fails (it used to skip, and the
# suite passed without having run anything as the test users).
if KT_EXTRA_ENV="KILN_SOURCE_DIR=$KT_WORK/missing" kt_as kiln-single "$KT_WORK/bin/sandbox_tests" \
    --gtest_filter=RunTest.ExitCodeAndMergedOutputInOrder >"$KT_WORK/sandbox-nobase.log" 2>&1; then
  kt_fail "sandbox_tests without a base rootfs passed"
else
  kt_check "sandbox_tests without a base rootfs fail, saying why" grep -q "could not make the busybox rootfs" \
    "$KT_WORK/sandbox-nobase.log"
fi

# SIGTERM to the outer process (the one that made the user namespace) is
# forwarded: the tests in the namespace die of it, the outer process re-raises
# it, and no sandbox process survives.
log=$KT_WORK/sandbox-signal.log
kt_as kiln-ranged "$KT_WORK/bin/sandbox_tests" --gtest_also_run_disabled_tests \
  --gtest_filter=RunTest.DISABLED_LongRunForSignalForwarding >"$log" 2>&1 &
for _ in $(seq 200); do grep -q LONG-RUN-STARTED "$log" && break; sleep 0.1; done
sleep 0.5
outer=$(pgrep -u kiln-ranged -o -f "$KT_WORK/bin/sandbox_tests" || true)
if [ -n "$outer" ]; then
  kill -TERM "$outer"
  rc=0; wait $! || rc=$?
  kt_eq "outer process dies of the forwarded SIGTERM" 143 "$rc"
  sleep 0.5
  kt_eq "no process of kiln-ranged left" "" "$(pgrep -u kiln-ranged -f 'sleep 60|sandbox_tests' || true)"
  # The killed test binary could not remove its own scratch rootfs.
  find /tmp -maxdepth 1 -name 'kiln-sbx-*' -user kiln-ranged -exec rm -rf {} +
else
  kt_fail "the long run did not start: $(cat "$log")"
fi

# The single-mapping warning is said once, naming the fix.
if grep -q 'usermod --add-subuids' "$KT_WORK/sandbox-kiln-single.log"; then
  kt_ok "kiln-single is told how to add a subuid range"
else
  kt_fail "kiln-single got no subuid advice"
fi
kt_eq "advice said once" 1 "$(grep -c 'usermod --add-subuids' "$KT_WORK/sandbox-kiln-single.log")"
kt_eq "kiln-ranged gets no advice" 0 "$(grep -c 'usermod --add-subuids' "$KT_WORK/sandbox-kiln-ranged.log" || true)"
kt_done
