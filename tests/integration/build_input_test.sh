#!/usr/bin/env bash
# `kiln build` refuses bad input at once with a located, clear error: binary
# data as the Dockerfile on stdin (no std::bad_alloc after seconds), an input
# too large to be a Dockerfile, a negative --jobs, a --build-arg without a
# name and a --secret whose src does not exist.
source "$(dirname "$0")/lib.sh"
kt_require_root
kt_workdir
kt_setup_users
user=kiln-single
kt_fresh_root "$user" >/dev/null
ctx=$KT_WORK/ctx
mkdir -p "$ctx"
printf 'FROM scratch\nLABEL a=b\n' >"$ctx/Dockerfile"
chmod -R a+rX "$ctx"

out=$KT_WORK/out
# refused DESCRIPTION EXPECTED-TEXT kiln-args... (stdin from $input)
input=/dev/null
refused() {
  local what=$1 want=$2 start rc=0
  shift 2
  start=$(date +%s)
  kt_as "$user" timeout 60 "$KT_KILN" "$@" <"$input" >"$out" 2>&1 || rc=$?
  local took=$(($(date +%s) - start))
  if [ "$rc" -eq 0 ]; then kt_fail "$what: accepted"; return; fi
  if [ "$rc" -eq 124 ]; then kt_fail "$what: still running after 60 s"; return; fi
  if grep -q "bad_alloc\|terminate called" "$out"; then kt_fail "$what: crashed: $(head -c 300 "$out")"; return; fi
  if ! grep -qF -- "$want" "$out"; then kt_fail "$what: no \"$want\" in: $(head -c 300 "$out")"; return; fi
  if [ "$took" -gt 5 ]; then kt_fail "$what: took ${took} s"; return; fi
  kt_ok "$what"
}

# Binary garbage: a NUL on line 3, after two lines of text-looking bytes.
input=$KT_WORK/garbage
{ printf 'FROM scratch\nRUN x\nab\0'; head -c 4000000 /dev/urandom; } >"$input"
chmod a+r "$input"
refused "binary data on stdin (-f -) is refused at its first NUL" "-:3:3: NUL byte" build -f - "$ctx"
input=$KT_WORK/random
head -c 3000000 /dev/urandom >"$input"
chmod a+r "$input"
refused "random bytes on stdin are refused" "NUL byte" build -f - "$ctx"
input=$KT_WORK/huge
head -c 20000000 /dev/zero | tr '\0' '#' >"$input"
chmod a+r "$input"
refused "a 20 MB input on stdin is refused" "larger than 16 MiB" build -f - "$ctx"
input=/dev/null

refused "negative --jobs" "--jobs" build --jobs -1 "$ctx"
refused "--jobs 0" "--jobs" build --jobs 0 "$ctx"
refused "--build-arg with an empty name" "--build-arg" build --build-arg = "$ctx"
refused "--build-arg =value" "has no name" build --build-arg =value "$ctx"
refused "--secret with a missing src" "/missing/secret" build --secret id=x,src=/missing/secret "$ctx"

# And the valid forms still pass that stage (the build of FROM scratch runs).
kt_check "valid flags are accepted" kt_as "$user" "$KT_KILN" build --lint=off --progress=plain --jobs 2 \
  --build-arg A=1 --secret "id=x,src=$ctx/Dockerfile" "$ctx"
kt_done
