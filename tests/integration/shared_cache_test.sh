#!/usr/bin/env bash
# Two independent runners (two KILN_ROOTs, no shared disk) share only the
# test registry. The second runner's build of the same commit reuses every
# layer from the registry cache and runs no step; a one-file change reruns
# only the steps that depend on it.
source "$(dirname "$0")/lib.sh"
kt_begin_registry_test
user=kiln-ranged

chmod 0777 "$KT_WORK"  # --iidfile is written by the unprivileged user
make_checkout() {  # a fresh copy of "the commit" in its own directory
  local dir=$KT_WORK/$1
  mkdir -p "$dir"
  cat >"$dir/Dockerfile" <<DF
FROM $KT_REGISTRY/busybox:latest
RUN echo "RAN-\$((1))" && echo one > /one
COPY a.txt /a.txt
RUN echo "RAN-\$((2))" && cat /a.txt > /two
COPY b.txt /b.txt
RUN echo "RAN-\$((3))" && cat /b.txt > /three
USER 1000
DF
  echo a >"$dir/a.txt"
  echo b >"$dir/b.txt"
  chmod -R a+rX "$dir"
  echo "$dir"
}
cache="type=registry,ref=$KT_REGISTRY/cache/app:buildcache"
build() {  # build ROOT DIR -> output in $KT_WORK/log, image id in $KT_WORK/iid
  KT_ROOT_OF[$user]=$1
  rm -f "$KT_WORK/iid"
  kt_as "$user" "$KT_KILN" build --lint=off --progress=plain -t app:ci --iidfile "$KT_WORK/iid" \
    --cache-from "$cache" --cache-to "$cache" "$2" >"$KT_WORK/log" 2>&1
}

runner_a=$(kt_fresh_root "$user")
runner_b=$(kt_fresh_root "$user")
ckout_a=$(make_checkout checkout-a)
ckout_b=$(make_checkout checkout-b)

build "$runner_a" "$ckout_a" || { cat "$KT_WORK/log"; kt_fail "runner A build failed"; kt_done; exit 1; }
kt_eq "runner A ran all three RUN steps" 3 "$(grep -c '^.*RAN-[123]$' "$KT_WORK/log" || true)"
iid_a=$(cat "$KT_WORK/iid")

build "$runner_b" "$ckout_b" || { cat "$KT_WORK/log"; kt_fail "runner B build failed"; kt_done; exit 1; }
kt_eq "runner B (empty store, same commit) ran no step" 0 "$(grep -c 'RAN-[123]$' "$KT_WORK/log" || true)"
kt_check "runner B reports cached steps" grep -q CACHED "$KT_WORK/log"
kt_eq "runner B's image is runner A's image" "$iid_a" "$(cat "$KT_WORK/iid")"

echo "b changed" >"$ckout_b/b.txt"
build "$runner_b" "$ckout_b" || { cat "$KT_WORK/log"; kt_fail "runner B rebuild failed"; }
kt_eq "after changing b.txt only the step after it reran" "RAN-3" "$(grep -o 'RAN-[123]$' "$KT_WORK/log" | tr -d '\n')"
kt_done
