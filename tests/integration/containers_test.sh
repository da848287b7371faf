#!/usr/bin/env bash
# kiln inside real containers (issue 22, the table): the kiln image, built
# by kiln (scripts/build-kiln-image.sh), is loaded into rootful podman and
# into a private dockerd, and in each row's container settings it builds a
# COPY-only Dockerfile and one with RUN; each image ID must equal that of the
# same build on the host (by an unprivileged user with a subordinate range),
# or, where the table allows it, the build must fail with a precise error.
# The context and the base layout are bind-mounted read-only at the same
# paths as on the host, so the builds' inputs are the same.
#
# One line per row: setting, the isolation level kiln announced, the result
# of each build and its time. KILN_CONTAINERS_PENDING="ROW..." names rows
# waiting for work not merged yet: their failures are reported as pending and
# not counted (and a pending row that passes says so). Empty by default: in
# the merged suite every row counts.
# KILN_CONTAINERS_SELF=0 leaves out the rows where the kiln image rebuilds
# itself inside a container; KILN_CONTAINERS_APT=0 the Debian apt example.
# KILN_CONTAINERS_ROWS="ID..." runs only those rows (ids as printed, e.g.
# docker-1000 podman-root-self podman-1000-norange-apt), to iterate on one.
source "$(dirname "$0")/lib.sh"
kt_require_root
missing=""
for tool in podman dockerd /usr/bin/docker runc skopeo debootstrap setcap getcap; do
  command -v "$tool" >/dev/null || missing+=" $tool"
done
if [ -n "$missing" ]; then
  kt_fail "missing:$missing (scripts/setup.sh --test installs them)"; kt_done; exit
fi
kt_workdir
W=$KT_WORK
user=kiln-ctr
kt_setup_user "$user" 900000
pending=" ${KILN_CONTAINERS_PENDING:-} "
wanted() { [ -z "${KILN_CONTAINERS_ROWS:-}" ] || [[ " $KILN_CONTAINERS_ROWS " == *" $1 "* ]]; }
t0=$(date +%s)

# ---- the kiln image, built by kiln (as root, as `make image` does) ----
start=$(date +%s)
if ! KILN_ROOT=$W/image-store KILN_IMAGE_KEEP_CONTEXT=$W/image-ctx \
    "$KT_SRC/scripts/build-kiln-image.sh" "$KT_KILN" "$W/kiln-image" kiln:test >"$W/image.iid" 2>"$W/image.err"; then
  cat "$W/image.err"; kt_fail "the kiln image builds"; kt_done; exit
fi
image_id=$(cat "$W/image.iid")
kt_ok "the kiln image builds with kiln ($(($(date +%s) - start)) s, $image_id)"

# ---- podman (rootful, private storage) and dockerd (private socket and data root) ----
P=(podman --root "$W/podman/root" --runroot "$W/podman/run" --storage-driver overlay
  --runtime runc --cgroup-manager cgroupfs --events-backend file)
kt_on_exit "${P[*]} rm -a -f >/dev/null 2>&1; ${P[*]} rmi -a -f >/dev/null 2>&1"
start=$(date +%s)
skopeo copy -q "oci:$W/kiln-image:test" \
  "containers-storage:[overlay@$W/podman/root+$W/podman/run]localhost/kiln:test" >"$W/load.log" 2>&1 ||
  { cat "$W/load.log"; kt_fail "skopeo copy into podman's storage"; kt_done; exit; }
kt_ok "loaded into podman ($(($(date +%s) - start)) s)"

D=$W/docker
mkdir -p "$D"
start=$(date +%s)
docker_ok=0
if [ -n "${KILN_CONTAINERS_ROWS:-}" ] && [[ "$KILN_CONTAINERS_ROWS" != *docker* ]]; then
  :  # no docker row asked for
elif kt_start_dockerd "$D" &&
   skopeo copy -q "oci:$W/kiln-image:test" "docker-archive:$W/kiln.tar:kiln:test" >"$W/load.log" 2>&1 &&
   /usr/bin/docker load -i "$W/kiln.tar" >>"$W/load.log" 2>&1; then
  kt_ok "loaded into dockerd ($(($(date +%s) - start)) s)"
  docker_ok=1
else
  cat "$W/load.log"; tail -n 20 "$D/log"; kt_fail "dockerd starts and loads the kiln image"
  docker_ok=0
fi
rm -f "$W/kiln.tar"

# The image carries newuidmap/newgidmap's file capabilities (kiln kept the
# security.capability xattrs that RUN setcap wrote) and no setuid bit.
kt_eq "podman: newuidmap and newgidmap have file capabilities, not setuid" \
  "/usr/bin/newuidmap cap_setuid=ep 755|/usr/bin/newgidmap cap_setgid=ep 755" \
  "$("${P[@]}" run --rm --network none --ulimit nofile=20000:20000 --ulimit nproc=8192:8192 kiln:test sh -c \
    'for b in newuidmap newgidmap; do echo "$(getcap /usr/bin/$b) $(stat -c %a /usr/bin/$b)"; done' 2>&1 | paste -sd'|')"
if [ "$docker_ok" = 1 ]; then
  kt_eq "dockerd: newuidmap keeps its file capability" "/usr/bin/newuidmap cap_setuid=ep" \
    "$(/usr/bin/docker run --rm --network none kiln:test getcap /usr/bin/newuidmap 2>&1)"
fi

# ---- the two builds, and their host references ----
CTX=$W/ctx
mkdir -p "$CTX/files"
echo payload >"$CTX/files/data.txt"
kt_make_busybox_layout "$W/busybox"
cat >"$CTX/copy.Dockerfile" <<DF
FROM oci:$W/busybox:latest
COPY --chown=1000:1000 files /app/files
COPY files/data.txt /etc/data.txt
USER 1000
WORKDIR /home/app/work
DF
# RUN as root, including a chown to an id a single-id namespace cannot map
# (recorded by the chown emulation, issue 22 item 2).
cat >"$CTX/run.Dockerfile" <<DF
FROM oci:$W/busybox:latest
COPY files /src
RUN cat /src/data.txt /src/data.txt > /built && chmod 0640 /built && mkdir -p /var/app && rm /src/data.txt
RUN chown 1000:1000 /built /var/app
DF
# RUN as another user: a process under an id the namespace cannot map.
# Item 2 allows a precise error naming the step and the missing range there.
cat >"$CTX/user.Dockerfile" <<DF
FROM oci:$W/busybox:latest
USER 1000
WORKDIR /home/app/work
RUN echo "\$(id -u):\$(id -g)" > /home/app/work/ids
DF
chmod -R a+rX "$CTX"
kt_fresh_root "$user" >/dev/null
host_out=$W/out-host
mkdir -p "$host_out"; chown "$user:" "$host_out"
declare -A host_id
for b in copy run user; do
  if kt_as "$user" "$KT_KILN" build --lint=off -q -f "$CTX/$b.Dockerfile" --iidfile "$host_out/$b.iid" "$CTX" \
      >"$host_out/$b.log" 2>&1; then
    host_id[$b]=$(cat "$host_out/$b.iid")
  else
    cat "$host_out/$b.log"; kt_fail "host: the $b build"
    host_id[$b]=none
  fi
done
kt_check "host: the three builds give image IDs" test "${host_id[copy]}" != none -a "${host_id[run]}" != none -a "${host_id[user]}" != none

# What runs in each container: both builds, COPY-only first (it must need
# no namespace), each into the row's writable out dir.
cat >"$W/in-container.sh" <<'SH'
#!/bin/bash
ctx=$1 out=$2
for b in copy run user; do
  start=$(date +%s%N)
  kiln build --lint=off --progress=plain -f "$ctx/$b.Dockerfile" --iidfile "$out/$b.iid" "$ctx" >"$out/$b.log" 2>&1
  echo "$? $(( ($(date +%s%N) - start) / 1000000 ))" >"$out/$b.status"
done
SH
chmod 0755 "$W/in-container.sh"
: >"$W/empty"
chmod 0644 "$W/empty"

# A failure counts as "a precise error" when kiln names the setting that
# stands in the way (a seccomp profile, no_new_privs, a capability); an
# unexplained EPERM, or advice to install what is installed, does not.
precise_error() {
  grep -qiE 'kiln: error:.*(no_new_privs|no-new-privileges|allowPrivilegeEscalation|seccomp|securityContext|--security-opt|unconfined|CAP_[A-Z]+)' "$1"
}

# A step that needs an id the namespace cannot map must name the step and
# the subordinate range that would give it.
range_error() { grep -qE 'kiln: error: user.Dockerfile:[0-9]+: RUN.*(subordinate|/etc/sub[ug]id)' "$1"; }

# The flags that give a row's settings (tests/integration/container_rows.txt).
# Sets ENGINE_CMD (the engine's run command) and ROW_FLAGS.
row_settings() {
  local id=$1 f_id engine user seccomp apparmor proc caps nnp idmap rest
  while read -r f_id engine user seccomp apparmor proc caps nnp idmap rest; do
    [ "$f_id" = "$id" ] && break
  done < <(grep -v '^#' "$KT_SRC/tests/integration/container_rows.txt")
  [ "$f_id" = "$id" ] || { echo "no row $id in container_rows.txt" >&2; return 1; }
  if [ "$engine" = podman ]; then
    ENGINE_CMD=("${P[@]}" run --rm --network "${ROW_NET:-none}" --ulimit nofile=20000:20000 --ulimit nproc=8192:8192)
  else
    ENGINE_CMD=(/usr/bin/docker run --rm --network "${ROW_NET:-none}")
  fi
  ROW_FLAGS=(--user "$user")
  [ "$seccomp" = unconfined ] && ROW_FLAGS+=(--security-opt seccomp=unconfined)
  [ "$apparmor" = unconfined ] && ROW_FLAGS+=(--security-opt apparmor=unconfined)
  if [ "$proc" = unmasked ]; then
    if [ "$engine" = podman ]; then ROW_FLAGS+=(--security-opt 'unmask=/proc/*')
    else ROW_FLAGS+=(--security-opt systempaths=unconfined); fi
  fi
  [ "$caps" = drop-all ] && ROW_FLAGS+=(--cap-drop=all)
  [ "$nnp" = yes ] && ROW_FLAGS+=(--security-opt no-new-privileges)
  case $idmap in
    fcaps) ;;
    # Debian's own, from this host: the same package, setuid root.
    setuid) ROW_FLAGS+=(-v /usr/bin/newuidmap:/usr/bin/newuidmap:ro -v /usr/bin/newgidmap:/usr/bin/newgidmap:ro) ;;
    norange) ROW_FLAGS+=(-v "$W/empty:/etc/subuid:ro" -v "$W/empty:/etc/subgid:ro") ;;
    *) echo "row $id: unknown idmap $idmap" >&2; return 1 ;;
  esac
  ROW_ENGINE=$engine
}

# The level kiln announces on its first lines (issue 22 item 1), loosely.
announced_level() {
  local line lvl ids
  line=$(head -n 5 "$@" 2>/dev/null | grep -i -m1 'isolation' || true)
  lvl=$(grep -oiE -m1 'isolation [a-z]+' <<<"$line" | head -n1 || true)
  ids=$(grep -oE -m1 'single id|subordinate id range' <<<"$line" | head -n1 || true)
  echo "$lvl${ids:+, $ids}"
}

# One build's result, against the host's ID: prints the result; returns 1
# when it does not hold. build_result ALLOWS STATUS_FILE IID_FILE LOG HOST_ID
build_result() {
  local allows=$1 status=none ms="" id=""
  [ -f "$2" ] && read -r status ms <"$2"
  [ -f "$3" ] && id=$(cat "$3")
  if [ "$status" = 0 ] && [ "$id" = "$5" ]; then
    echo "same ID (${ms} ms)"
  elif [ "$status" = 0 ]; then
    echo "DIFFERENT ID ($id, host $5)"; return 1
  elif [ "$status" = none ]; then
    echo "NOT RUN"; return 1
  elif [ "$allows" = "same|range" ] && range_error "$4"; then
    echo "precise error (${ms} ms): $(grep -m1 'kiln: error:' "$4" | cut -c1-160)"
  elif [ "$allows" = "same|error" ] && { precise_error "$4" || range_error "$4"; }; then
    echo "precise error (${ms} ms): $(grep -m1 'kiln: error:' "$4" | cut -c1-160)"
  else
    echo "FAILED (${ms} ms): $(grep -m1 -i 'error' "$4" | cut -c1-160)"; return 1
  fi
}

# Counts a row's outcome; a pending row's failure is reported, not counted.
row_outcome() {  # row_outcome ID FAILED LOG...
  local id=$1 failed=$2; shift 2
  RESULT_OF[$id]=$([ "$failed" = 0 ] && echo holds || echo FAILS)
  if [ "$failed" = 0 ]; then
    kt_ok "row $id"
    if [[ "$pending" == *" $id "* ]]; then echo "# row $id passes now: take it out of KILN_CONTAINERS_PENDING"; fi
  elif [[ "$pending" == *" $id "* ]]; then
    echo "# row $id: PENDING (waits for issue 22 items 1-2)"
    tail -n 4 "$@" 2>/dev/null | sed 's/^/#   /'
  else
    kt_fail "row $id"
    tail -n 15 "$@" 2>/dev/null | sed 's/^/    /'
  fi
}

ROWS=()
declare -A LEVEL_OF RESULT_OF APT_OF
row() {
  local id=$1 engine caps idmap allows_run allows_copy what
  wanted "$id" || return 0
  read -r _ engine _ _ _ _ caps _ idmap allows_run allows_copy _ < <(grep "^$id " "$KT_SRC/tests/integration/container_rows.txt")
  what=$(grep "^$id " "$KT_SRC/tests/integration/container_rows.txt" | sed 's/.*| //')
  ROWS+=("$id")
  row_settings "$id" || { kt_fail "row $id: settings"; return; }
  if [ "$ROW_ENGINE" = docker ] && [ "$docker_ok" != 1 ]; then kt_fail "row $id: dockerd is not running"; return; fi
  local out=$W/out-$id
  mkdir -p "$out"; chmod 0777 "$out"
  local start
  start=$(date +%s)
  "${ENGINE_CMD[@]}" -e ASAN_OPTIONS=detect_leaks=0 "${ROW_FLAGS[@]}" \
    -v "$CTX:$CTX:ro" -v "$W/busybox:$W/busybox:ro" -v "$W/in-container.sh:/kt/in-container.sh:ro" -v "$out:/kt/out" \
    kiln:test /kt/in-container.sh "$CTX" /kt/out >"$out/container.log" 2>&1
  local secs=$(($(date +%s) - start)) level failed=0 res line=""
  level=$(announced_level "$out/copy.log" "$out/run.log")
  res=$(build_result "$allows_copy" "$out/copy.status" "$out/copy.iid" "$out/copy.log" "${host_id[copy]}") || failed=1
  line+=" | COPY-only: $res"
  res=$(build_result "$allows_run" "$out/run.status" "$out/run.iid" "$out/run.log" "${host_id[run]}") || failed=1
  line+=" | RUN: $res"
  # Single-id rows may refuse a step that runs as another user, naming the range.
  local allows_user=$allows_run
  if [ "$allows_run" = same ] && { [ "$idmap" = norange ] || [ "$idmap" = setuid ] || [ "$caps" = drop-all ]; }; then
    allows_user="same|range"
  fi
  res=$(build_result "$allows_user" "$out/user.status" "$out/user.iid" "$out/user.log" "${host_id[user]}") || failed=1
  line+=" | RUN as USER 1000: $res"
  echo "row $id | $what | level: ${level:-not announced}$line | ${secs} s"
  LEVEL_OF[$id]=${level:-not announced}
  row_outcome "$id" "$failed" "$out/copy.log" "$out/run.log" "$out/user.log" "$out/container.log"
}

# The kiln image rebuilds itself inside a container (issue 22: "the kiln
# image builds itself again inside a default rootful podman container and
# as uid 1000"): the same context, at the same path, read-only.
self_row() {
  local base=$1 id=$1-self
  wanted "$id" || return 0
  ROWS+=("$id")
  row_settings "$base" || { kt_fail "row $id: settings"; return; }
  local out=$W/out-$id
  mkdir -p "$out"; chmod 0777 "$out"
  local start
  start=$(date +%s)
  "${ENGINE_CMD[@]}" -e ASAN_OPTIONS=detect_leaks=0 "${ROW_FLAGS[@]}" -v "$W/image-ctx:$W/image-ctx:ro" -v "$out:/kt/out" \
    kiln:test bash -c 'start=$(date +%s%N)
      kiln build --lint=off --progress=plain --iidfile /kt/out/self.iid "$1" >/kt/out/self.log 2>&1
      echo "$? $(( ($(date +%s%N) - start) / 1000000 ))" >/kt/out/self.status' _ "$W/image-ctx" >"$out/container.log" 2>&1
  local secs=$(($(date +%s) - start)) failed=0 res level
  level=$(announced_level "$out/self.log")
  res=$(build_result same "$out/self.status" "$out/self.iid" "$out/self.log" "$image_id") || failed=1
  echo "row $id | the kiln image rebuilds itself, settings of $base | level: ${level:-not announced} | $res | ${secs} s"
  LEVEL_OF[$id]=${level:-not announced}
  row_outcome "$id" "$failed" "$out/self.log" "$out/container.log"
}

for id in $(grep -v '^#' "$KT_SRC/tests/integration/container_rows.txt" | awk 'NF {print $1}'); do
  row "$id"
done
if [ "${KILN_CONTAINERS_SELF:-1}" != 0 ]; then
  self_row podman-root
  self_row podman-1000-fcaps
fi

# ---- the Debian apt example (examples/python-app: apt-get install, useradd
# -u 10001) in the uid-1000 podman rows with file capabilities and with no
# range, timed next to the host. apt's logs hold the time, so the IDs differ
# from run to run: the build must succeed, and the time is reported.
# KILN_CONTAINERS_APT=0 leaves it out (it downloads from the Debian mirror).
if [ "${KILN_CONTAINERS_APT:-1}" != 0 ] && { [ -z "${KILN_CONTAINERS_ROWS:-}" ] || [[ "$KILN_CONTAINERS_ROWS" == *-apt* ]]; }; then
  mirror=$("$KT_SRC/scripts/debian-mirror.sh")
  if ! curl -fsI --max-time 20 "$mirror/dists/bookworm/Release" >/dev/null; then
    kt_fail "apt example: the Debian mirror $mirror does not answer"
  else
    # The Debian base: the kiln image's own debootstrap root, as an image.
    debctx=$W/debian-ctx
    mkdir -p "$debctx"
    ln "$W/image-ctx/bookworm.tar" "$debctx/bookworm.tar" 2>/dev/null || cp "$W/image-ctx/bookworm.tar" "$debctx/"
    printf 'FROM scratch\nADD bookworm.tar /\n' >"$debctx/Dockerfile"
    KILN_ROOT=$W/image-store "$KT_KILN" build --lint=off -q -t debian:bookworm --output "type=oci,dest=$W/debian" \
      "$debctx" >"$W/debian.log" 2>&1 || { cat "$W/debian.log"; kt_fail "apt example: the Debian base"; }
    chmod -R a+rX "$W/debian"
    cp -a "$KT_SRC/examples/python-app" "$W/python-app"
    chmod -R a+rX "$W/python-app"
    apt_args=(--lint=off --progress=plain --build-arg "DEBIAN=oci:$W/debian:bookworm" "$W/python-app")
    kt_fresh_root "$user" >/dev/null
    start=$(date +%s)
    if kt_as "$user" "$KT_KILN" build "${apt_args[@]}" >"$host_out/apt.log" 2>&1; then
      apt_host="$(($(date +%s) - start)) s"
      echo "apt example | host, $user with a range | $apt_host"
      kt_ok "apt example builds on the host"
    else
      tail -n 15 "$host_out/apt.log"; kt_fail "apt example: host build"
    fi
    for id in podman-1000-fcaps podman-1000-norange; do
      wanted "$id-apt" || continue
      ROWS+=("$id-apt")
      ROW_NET=host row_settings "$id" || { kt_fail "row $id-apt: settings"; continue; }
      out=$W/out-$id-apt
      mkdir -p "$out"; chmod 0777 "$out"
      start=$(date +%s)
      "${ENGINE_CMD[@]}" -e ASAN_OPTIONS=detect_leaks=0 "${ROW_FLAGS[@]}" \
        -v "$W/debian:$W/debian:ro" -v "$W/python-app:$W/python-app:ro" -v "$out:/kt/out" \
        kiln:test bash -c 'kiln build "$@" >/kt/out/apt.log 2>&1; echo $? >/kt/out/apt.status' _ "${apt_args[@]}" \
        >"$out/container.log" 2>&1
      secs=$(($(date +%s) - start))
      status=$(cat "$out/apt.status" 2>/dev/null || echo "not run")
      echo "apt example | row $id | level: $(announced_level "$out/apt.log") | exit $status | ${secs} s"
      APT_OF[$id]="${secs} s (exit $status)"
      # Without a range apt's switch to _apt may be refused, naming the step
      # and the range (issue 22 item 2); the build with one must succeed.
      if [ "$status" = 0 ]; then
        failed=0
      elif [ "$id" = podman-1000-norange ] &&
        grep -qE 'kiln: error: Dockerfile:[0-9]+: RUN .*subordinate id range' "$out/apt.log"; then
        failed=0
        echo "# row $id-apt: a precise error naming the step and the missing range"
      else
        failed=1
      fi
      row_outcome "$id-apt" "$failed" "$out/apt.log" "$out/container.log"
    done
  fi
fi
# The table for issue 22's closing note: each row, the level kiln chose,
# whether the row holds, and the apt example's time next to the host's.
echo "# row | level chosen | holds | apt example (host: ${apt_host:-not run})"
for id in "${ROWS[@]}"; do
  [[ "$id" == *-apt ]] && continue
  echo "# $id | ${LEVEL_OF[$id]:-} | ${RESULT_OF[$id]:-} | ${APT_OF[$id]:-}${RESULT_OF[$id-apt]:+, ${RESULT_OF[$id-apt]}}"
done
echo "# rows: ${ROWS[*]}"
echo "# total $(($(date +%s) - t0)) s"
kt_done
