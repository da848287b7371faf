#!/usr/bin/env bash
# Pushes, pulls and builds FROM an image through a fault-injecting proxy
# (fault_proxy.py) in front of Debian's docker-registry, for each fault mode
# at about a third of requests. For every operation: completed with the right
# digest, failed cleanly (an error, nothing wrong left behind) or wrong (a
# wrong manifest under the tag, a half-pushed image, a corrupt blob in the
# store, a different build result). Wanted: no wrong result ever, no unclean
# failure, at least 95% completed in every mode but flip, where a flipped
# byte must fail naming the damaged blob or manifest.
#
# KT_FAULT_N (default 20) operations of each kind per mode, KT_FAULT_MODES to
# pick modes, KT_FAULT_JOBS (default 10) operations at a time (most of them
# wait: back-off, Retry-After, stall timeouts).
source "$(dirname "$0")/lib.sh"
kt_require_root
command -v python3 >/dev/null || { kt_fail "python3 not installed (scripts/setup.sh --test installs it)"; kt_done; }
kt_workdir
# Its own user (no subordinate ids: pulls, pushes and a COPY-only build need
# none), so that no other test's clean-up of kiln-ranged reaches it.
kt_setup_user kiln-faults
kt_start_registry
user=kiln-faults
home=$(getent passwd "$user" | cut -d: -f6)
N=${KT_FAULT_N:-20}
JOBS=${KT_FAULT_JOBS:-10}
MODES=${KT_FAULT_MODES:-5xx 429 reset stall trunc-full trunc-short flip}
W=$KT_WORK
chmod 0777 "$W"

# The image: one layer of 200 KB that does not compress (uploaded in two
# 128 KiB PATCH chunks below) and a small file; no shell needed, the build
# only COPYs.
fill_base() {
  mkdir -p "$1/data"
  head -c 200000 /dev/urandom >"$1/data/noise"
  echo "base file" >"$1/data/hello"
}
kt_make_layout "$W/base" latest /data/hello fill_base
skopeo copy -q --dest-tls-verify=false "oci:$W/base:latest" "docker://$KT_REGISTRY/faults/base:latest" >/dev/null
accept="application/vnd.oci.image.manifest.v1+json"
manifest_digest() {  # REPO TAG -> digest of what the registry holds under the tag ("" when none)
  { curl -sfI -H "Accept: $accept" "http://$KT_REGISTRY/v2/$1/manifests/$2" || true; } |
    tr -d '\r' | awk -F': ' 'tolower($1)=="docker-content-digest"{print $2}'
}
EXPECT=$(manifest_digest faults/base latest)
[ -n "$EXPECT" ] || { kt_fail "base image not in the registry"; kt_done; }
# The config and layer digests, to check that a pushed image is whole.
BLOBS=$(curl -sf -H "Accept: $accept" "http://$KT_REGISTRY/v2/faults/base/manifests/latest" |
  python3 -c 'import json,sys; m=json.load(sys.stdin); print(" ".join([m["config"]["digest"]]+[l["digest"] for l in m["layers"]]))')

# The proxy, one process for all modes (switched through /__fault), so that
# the image name and hence the build result are the same in every mode.
python3 "$KT_SRC/tests/integration/fault_proxy.py" --upstream "$KT_REGISTRY" --stall 3 \
  --log "$W/proxy.log" >"$W/proxy.out" 2>&1 &
proxy_pid=$!
kt_on_exit "kill $proxy_pid 2>/dev/null; wait $proxy_pid 2>/dev/null"
for _ in $(seq 100); do grep -q "listening on" "$W/proxy.out" 2>/dev/null && break; sleep 0.1; done
PROXY=127.0.0.1:$(awk '/listening on/{print $3}' "$W/proxy.out")
[ "$PROXY" != "127.0.0.1:" ] || { kt_fail "fault proxy did not start: $(cat "$W/proxy.out")"; kt_done; }
set_mode() { curl -sf -X POST "http://$PROXY/__fault?mode=$1&seed=$2" >/dev/null; }
IMAGE=$PROXY/faults/base:latest

# kiln as the unprivileged user, with a given store, the default retry time
# (60 s without progress), a 2 s stall timeout (the proxy stalls for 3 s) and
# 128 KiB upload chunks.
kiln_as() {  # ROOT ARGS...
  local root=$1; shift
  runuser -u "$user" -- env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$home" USER="$user" KILN_ROOT="$root" \
    ASAN_OPTIONS="$ASAN_OPTIONS" KILN_REGISTRY_RETRY_TIME=60s KILN_REGISTRY_TIMEOUT=2 \
    KILN_REGISTRY_CHUNK_SIZE=131072 "$KT_KILN" "$@"
}
fresh_root() { local d=$W/op/$1; rm -rf "$d"; mkdir -p "$d"; chown "$user:" "$d"; echo "$d"; }

# Every blob in the store hashes to its name.
store_ok() {
  local f
  for f in "$1"/blobs/sha256/*; do
    [ -e "$f" ] || continue
    [ "$(sha256sum "$f" | cut -d' ' -f1)" = "$(basename "$f")" ] || { echo "corrupt blob $f"; return 1; }
  done
}

set_mode none 1
SRC=$(fresh_root src)
kiln_as "$SRC" pull -q "$IMAGE" >"$W/src.out" 2>&1 || { kt_fail "pull without faults: $(cat "$W/src.out")"; kt_done; }
kt_eq "pull without faults gives the registry's digest" "$EXPECT" "$(tail -1 "$W/src.out")"
mkdir -p "$W/ctx"
printf 'FROM %s\nCOPY copied.txt /copied.txt\nENV FAULTS=1\n' "$IMAGE" >"$W/ctx/Dockerfile"
echo "copied" >"$W/ctx/copied.txt"
chmod -R a+rX "$W/ctx"
ref_root=$(fresh_root ref-build)
if kiln_as "$ref_root" build --lint=off --progress=plain -t faults/out:ref --iidfile "$ref_root/iid" "$W/ctx" \
  >"$W/ref-build.log" 2>&1; then
  REF_IID=$(cat "$ref_root/iid")
  kt_ok "build without faults"
else
  kt_fail "build without faults: $(tail -5 "$W/ref-build.log")"
  kt_done
fi

# One operation; prints "RESULT detail" with RESULT one of done, clean,
# unclean (failed without a clear error, or a crash) and wrong.
op_push() {  # MODE I
  local root repo=faults/$1-push-$2 rc=0 got b
  root=$W/op/$1-push-$2
  rm -rf "$root"; cp -a "$SRC" "$root"
  rm -rf "$root/registry/sources"  # upload every blob rather than mount it from the source repository
  kiln_as "$root" push "$IMAGE" "$PROXY/$repo:t" >"$root.log" 2>&1 || rc=$?
  got=$(manifest_digest "$repo" t)
  if [ "$rc" -eq 0 ]; then
    [ "$got" = "$EXPECT" ] || { echo "wrong pushed, but the tag names [$got]"; return; }
    for b in $BLOBS; do
      curl -sfI "http://$KT_REGISTRY/v2/$repo/blobs/$b" >/dev/null || { echo "wrong blob $b missing"; return; }
    done
    echo "done"
  elif [ -n "$got" ] && [ "$got" != "$EXPECT" ]; then
    echo "wrong failed, and the tag names [$got]"
  elif [ "$rc" -ge 128 ] || ! grep -q "^kiln: .*push" "$root.log"; then
    echo "unclean rc=$rc $(tail -1 "$root.log")"
  else
    echo "clean $(tail -1 "$root.log")"
  fi
}

op_pull() {  # MODE I
  local root rc=0 why
  root=$(fresh_root "$1-pull-$2")
  kiln_as "$root" pull -q "$IMAGE" >"$root.log" 2>&1 || rc=$?
  if ! why=$(store_ok "$root"); then echo "wrong $why"; return; fi
  if [ "$rc" -eq 0 ]; then
    [ "$(tail -1 "$root.log")" = "$EXPECT" ] && echo "done" || echo "wrong digest $(tail -1 "$root.log")"
  else
    failed_cleanly "$1" "$rc" "$root.log"
  fi
}

op_build() {  # MODE I
  local root rc=0 why
  root=$(fresh_root "$1-build-$2")
  kiln_as "$root" build --lint=off --progress=plain -t faults/out:x --iidfile "$root/iid" "$W/ctx" \
    >"$root.log" 2>&1 || rc=$?
  if ! why=$(store_ok "$root"); then echo "wrong $why"; return; fi
  if [ "$rc" -eq 0 ]; then
    [ "$(cat "$root/iid" 2>/dev/null)" = "$REF_IID" ] && echo "done" || echo "wrong image id $(cat "$root/iid" 2>/dev/null)"
  else
    failed_cleanly "$1" "$rc" "$root.log"
  fi
}

# A failed pull or build: an error line from kiln, no crash; with a flipped
# byte, the error names the damaged blob or manifest by digest.
failed_cleanly() {  # MODE RC LOG
  local last
  last=$(grep -m1 "^kiln: \|^error" "$3" || tail -1 "$3")
  if [ "$2" -ge 128 ] || ! grep -q "^kiln: \|^error" "$3"; then
    echo "unclean rc=$2 $last"
  elif [ "$1" = flip ] && ! grep -Eq "(blob|manifest).*sha256:[0-9a-f]{64}" "$3"; then
    echo "unclean (names no blob) $last"
  else
    echo "clean $last"
  fi
}

running() {  # PID... -> how many still run
  local p n=0
  for p in "$@"; do kill -0 "$p" 2>/dev/null && n=$((n + 1)); done
  echo "$n"
}

run_mode() {  # MODE SEED
  local mode=$1 i kind pids=() jobs=$JOBS
  # Stalled operations only wait (2 s stall timeout each): twice as many at a time.
  [ "$mode" = stall ] && jobs=$((JOBS * 2))
  set_mode "$mode" "$2"
  mkdir -p "$W/results/$mode"
  for i in $(seq "$N"); do
    for kind in push pull build; do
      while [ "$(running "${pids[@]}")" -ge "$jobs" ]; do sleep 0.1; done
      ( set +e; "op_$kind" "$mode" "$i" >"$W/results/$mode/$kind.$i" 2>&1 ) &
      pids+=($!)
    done
  done
  wait "${pids[@]}" || true
  curl -sf "http://$PROXY/__fault/stats" >"$W/results/$mode/stats"
}

count() { { grep -l "^$3" "$W/results/$1"/"$2".* 2>/dev/null || true; } | wc -l; }

seed=26
start_all=$(date +%s)
for mode in $MODES; do
  t0=$(date +%s)
  run_mode "$mode" $((seed++))
  echo "# mode $mode: $(($(date +%s) - t0)) s, proxy $(cat "$W/results/$mode/stats")"
done
echo "# all modes: $(($(date +%s) - start_all)) s"

printf '\n%-12s %-26s %-26s %-26s\n' "mode" "push done/clean/unclean/wrong" "pull done/clean/unclean/wrong" \
  "build done/clean/unclean/wrong"
for mode in $MODES; do
  line=$(printf '%-12s' "$mode")
  for kind in push pull build; do
    d=$(count "$mode" "$kind" done); c=$(count "$mode" "$kind" clean)
    u=$(count "$mode" "$kind" unclean); w=$(count "$mode" "$kind" wrong)
    line+=$(printf ' %-26s' "$d/$c/$u/$w")
    kt_eq "$mode $kind: no wrong result" 0 "$w"
    kt_eq "$mode $kind: no unclean failure" 0 "$u"
    if [ "$mode" != flip ]; then
      if [ $((d * 100)) -ge $((N * 95)) ]; then kt_ok "$mode $kind: $d of $N completed"
      else kt_fail "$mode $kind: only $d of $N completed"; fi
    fi
    [ $((d + c + u + w)) -eq "$N" ] || kt_fail "$mode $kind: $((d + c + u + w)) results for $N operations"
  done
  echo "$line"
done
echo
# The first reason of every operation that did not complete, for the log.
grep -H -v "^done" "$W"/results/*/{push,pull,build}.* 2>/dev/null | sed "s|$W/results/||" | sort | head -60 || true
kt_done
