#!/usr/bin/env bash
# kiln build as a drop-in for `docker buildx build` / `buildah build`
# (docs/docker-compat.md): the -o forms buildx takes (OCI/docker archives,
# stdout into Debian's dockerd's `docker load`, the final filesystem as a tar
# or a directory, type=image push),
# --label/--annotation, --add-host/--ulimit/--shm-size inside RUN,
# --build-context, --ssh (an agent's socket and key files), --check, --sbom/--attest, --squash, --sign-by and
# -q printing only the digest, --metadata-file, --provenance, --pull=, and
# --no-cache-filter. Outputs are checked with skopeo, jq, tar and
# python's tarfile, not with kiln. As kiln-ranged (the RUN-level flags also
# as kiln-single).
source "$(dirname "$0")/lib.sh"
kt_begin_build_test
command -v skopeo >/dev/null || kt_fail "skopeo is not installed"
kt_start_registry

CTX=$KT_WORK/ctx
mkdir -p "$CTX" "$KT_WORK/extra"
echo payload >"$CTX/data.txt"
echo from-named-context >"$KT_WORK/extra/named.txt"
cat >"$CTX/Dockerfile" <<DF
FROM base
COPY data.txt /data.txt
COPY --from=extra named.txt /named.txt
RUN grep -w kiln-test-host /etc/hosts >/hosts.txt; ulimit -n >/nofile.txt; \
    grep ' /dev/shm ' /proc/mounts >/shm.txt; cp /bin/busybox /bin/suidtool && chmod u+s /bin/suidtool
DF
chmod -R a+rX "$CTX" "$KT_WORK/extra"

user=kiln-ranged
kt_fresh_root "$user" >/dev/null
out=$KT_WORK/out
mkdir -p "$out"; chown "$user:" "$out"
common=(--lint=off --progress=plain --build-context "base=oci-layout://$BB:latest" --build-context "extra=$KT_WORK/extra"
        --add-host kiln-test-host:10.1.2.3 --ulimit nofile=512:1024 --shm-size 16m)

# 1. An OCI archive (dest *.tar), labels, manifest and index annotations.
if kt_as "$user" "$KT_KILN" build "${common[@]}" -t parity:1 --label org.example.team=kiln \
    --annotation org.example.m=manifest-value --annotation index:org.example.i=index-value \
    -o "type=oci,dest=$out/app.tar" "$CTX" >"$KT_WORK/b1.log" 2>&1; then
  kt_check "type=oci,dest=x.tar writes a tar file, not a directory" test -f "$out/app.tar"
  kt_eq "the archive's image has the --label" kiln \
    "$(skopeo inspect --config oci-archive:"$out/app.tar" | jq -r '.config.Labels["org.example.team"]')"
  kt_eq "the manifest has the --annotation" manifest-value \
    "$(skopeo inspect --raw oci-archive:"$out/app.tar" | jq -r '.annotations["org.example.m"]')"
  kt_eq "index.json has the index: annotation" index-value \
    "$(tar -xOf "$out/app.tar" index.json | jq -r '.annotations["org.example.i"]')"
  kt_eq "ref.name is the -t tag" 1 "$(tar -xOf "$out/app.tar" index.json | jq -r '.manifests[0].annotations["org.opencontainers.image.ref.name"]')"
else
  cat "$KT_WORK/b1.log"; kt_fail "build with -o type=oci,dest=app.tar"
fi

# 2. The same image everywhere else -o sends it (all cached now).
if kt_as "$user" "$KT_KILN" build "${common[@]}" -t parity:1 -o "type=oci,dest=$out/layout" \
    -o "type=oci,dest=$out/forced,tar=true" -o "type=local,dest=$out/rootfs" -o "type=tar,dest=$out/fs.tar" \
    -o "type=docker,dest=$out/docker-file.tar" \
    -o "type=image,name=$KT_REGISTRY/parity:pushed,push=true" "$CTX" >"$KT_WORK/b2.log" 2>&1; then
  kt_check "a dest not ending in .tar stays a layout directory" test -f "$out/layout/index.json"
  kt_eq "type=docker,dest=FILE: a docker-archive with the tag" parity:1 \
    "$(tar -xOf "$out/docker-file.tar" manifest.json 2>&1 | jq -r '.[0].RepoTags[0]' 2>&1)"
  kt_check "...that skopeo reads" skopeo inspect docker-archive:"$out/docker-file.tar" --format '{{.Digest}}'
  kt_check "tar=true forces an archive" python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).getmember("index.json")' "$out/forced"
  kt_eq "type=local: the image's files" payload "$(cat "$out/rootfs/data.txt" 2>&1)"
  kt_eq "type=local: owned by the caller" "$user" "$(stat -c %U "$out/rootfs/bin/busybox" 2>&1)"
  kt_eq "--build-context DIR serves COPY --from" from-named-context "$(cat "$out/rootfs/named.txt" 2>&1)"
  kt_eq "--add-host is in RUN's /etc/hosts" "10.1.2.3	kiln-test-host" "$(cat "$out/rootfs/hosts.txt" 2>&1)"
  kt_eq "--ulimit sets RUN's limit" 512 "$(cat "$out/rootfs/nofile.txt" 2>&1)"
  kt_check "--shm-size sizes RUN's /dev/shm" grep -q 'size=16384k' "$out/rootfs/shm.txt"
  kt_check "type=tar: the final filesystem as a tar" python3 - "$out/fs.tar" <<'PY'
import sys, tarfile
t = tarfile.open(sys.argv[1])
names = {m.name.rstrip("/") for m in t.getmembers()}
assert {"bin/busybox", "data.txt", "named.txt"} <= names, sorted(names)[:20]
assert t.extractfile("data.txt").read() == b"payload\n"
PY
  kt_check "type=image,push=true pushed to the registry" \
    skopeo inspect -n --tls-verify=false "docker://$KT_REGISTRY/parity:pushed" --format '{{.Digest}}'
else
  cat "$KT_WORK/b2.log"; kt_fail "build with six outputs"
fi

# Another --add-host is another RUN (part of its cache key, as in BuildKit).
if kt_as "$user" "$KT_KILN" build "${common[@]}" --add-host kiln-test-host:10.9.9.9 -o "type=local,dest=$out/rootfs2" \
    "$CTX" >"$KT_WORK/b2b.log" 2>&1; then
  kt_check "a changed --add-host reruns RUN" grep -q '10.9.9.9	kiln-test-host' "$out/rootfs2/hosts.txt"
else
  cat "$KT_WORK/b2b.log"; kt_fail "build with another --add-host"
fi

# 3. Stdout: the docker archive for `| docker load`, and `-o -` (type=tar).
if kt_as "$user" "$KT_KILN" build "${common[@]}" -t parity:1 -o type=docker,dest=- "$CTX" \
    >"$out/docker.tar" 2>"$KT_WORK/b3.log"; then
  kt_check "type=docker,dest=- streams a docker-load archive" \
    skopeo inspect docker-archive:"$out/docker.tar" --format '{{.Digest}}'
  kt_eq "with its RepoTags" '["parity:1"]' "$(tar -xOf "$out/docker.tar" manifest.json | jq -c '.[0].RepoTags')"
  kt_check "the result line went to stderr" grep -q '^built parity:1' "$KT_WORK/b3.log"
else
  cat "$KT_WORK/b3.log"; kt_fail "build -o type=docker,dest=-"
fi
# The pipe itself into Debian's dockerd (a private one): the image loads under
# its tag with kiln's image ID, and docker runs it.
docker_cli=/usr/bin/docker
dd=$(mktemp -d /tmp/kiln-parity-dockerd.XXXXXX)  # short: the socket path has a length limit
kt_on_exit "rm -rf '$dd'"
if ! command -v dockerd >/dev/null; then
  kt_fail "dockerd is not installed (docker.io: scripts/setup.sh --test)"
elif ! kt_start_dockerd "$dd"; then
  kt_fail "the private dockerd did not start"
else
  set +e
  kt_as "$user" "$KT_KILN" build "${common[@]}" -q -t parity:loaded --iidfile "$out/iid" -o type=docker,dest=- "$CTX" |
    "$docker_cli" load >"$KT_WORK/load.log" 2>&1
  rc=("${PIPESTATUS[@]}")
  set -e
  kt_eq "kiln build -o type=docker,dest=- . | docker load: both succeed" "0 0" "${rc[*]}"
  kt_check "docker load names the tag" grep -q 'Loaded image: parity:loaded' "$KT_WORK/load.log"
  kt_eq "docker's image ID is kiln's --iidfile" "$(cat "$out/iid" 2>&1)" \
    "$("$docker_cli" image inspect --format '{{.Id}}' parity:loaded 2>&1)"
  kt_eq "docker runs the loaded image" payload \
    "$("$docker_cli" run --rm --network=none parity:loaded cat /data.txt 2>&1)"
fi
if kt_as "$user" "$KT_KILN" build "${common[@]}" -o - "$CTX" >"$out/stdout-fs.tar" 2>"$KT_WORK/b4.log"; then
  kt_check "-o - is the filesystem tar on stdout" python3 -c \
    'import sys, tarfile; tarfile.open(sys.argv[1]).getmember("data.txt")' "$out/stdout-fs.tar"
else
  cat "$KT_WORK/b4.log"; kt_fail "build -o -"
fi

# 4. -q: only the digest on stdout, nothing on stderr (the setuid strip of
# /bin/suidtool has a notice that must not print).
if kt_as "$user" "$KT_KILN" build "${common[@]}" -q "$CTX" >"$KT_WORK/q.out" 2>"$KT_WORK/q.err"; then
  kt_check "-q prints a digest" grep -qxE 'sha256:[0-9a-f]{64}' "$KT_WORK/q.out"
  kt_eq "-q prints one line" 1 "$(wc -l <"$KT_WORK/q.out")"
  kt_eq "-q prints nothing on stderr" "" "$(cat "$KT_WORK/q.err")"
else
  cat "$KT_WORK/q.out" "$KT_WORK/q.err"; kt_fail "build -q"
fi

# 5. --squash (one layer), --sbom=true via --attest, --sign-by.
KT_EXTRA_ENV="KILN_PASSWORD=pw" kt_as "$user" "$KT_KILN" keygen --output-key-prefix "$out/cosign" >"$KT_WORK/keygen.log" 2>&1 ||
  { cat "$KT_WORK/keygen.log"; kt_fail "keygen"; }
if KT_EXTRA_ENV="KILN_PASSWORD=pw" kt_as "$user" "$KT_KILN" build "${common[@]}" -t parity:squashed --squash \
    --attest type=sbom --sign-by "$out/cosign.key" -o "type=oci,dest=$out/squashed" "$CTX" >"$KT_WORK/b5.log" 2>&1; then
  m=$(jq -r '.manifests[0].digest' "$out/squashed/index.json" | cut -d: -f2)
  kt_eq "--squash: one layer" 1 "$(jq '.layers | length' "$out/squashed/blobs/sha256/$m")"
  kt_as "$user" "$KT_KILN" inspect --referrers parity:squashed >"$KT_WORK/referrers.txt" 2>&1
  kt_check "--attest type=sbom attached SBOMs" grep -q spdx "$KT_WORK/referrers.txt"
  kt_check "--sign-by signed it (kiln verify)" kt_as "$user" "$KT_KILN" verify --key "$out/cosign.pub" parity:squashed
else
  cat "$KT_WORK/b5.log"; kt_fail "build --squash --attest --sign-by"
fi

# 6. --ssh: the agent socket is bound into RUN --mount=type=ssh, with
# SSH_AUTH_SOCK pointing at it; a key file (--ssh ID=KEY) is served by an
# agent of kiln's own, which agent_list (a static agent-protocol client)
# asks for its keys from inside the step.
SSHCTX=$KT_WORK/sshctx
mkdir -p "$SSHCTX"
gcc -static -O1 -o "$SSHCTX/agent_list" "$KT_SRC/tests/integration/agent_list.c" 2>"$KT_WORK/gcc.log" ||
  { cat "$KT_WORK/gcc.log"; kt_fail "compiling agent_list (gcc, libc6-dev)"; }
cat >"$SSHCTX/Dockerfile" <<'DF'
FROM base
ARG FROMFILE
RUN --mount=type=ssh test -S "$SSH_AUTH_SOCK" && echo "$SSH_AUTH_SOCK" >/sock.txt
COPY agent_list /agent_list
RUN --mount=type=ssh,id=deploy,required=true /agent_list >/keys.txt
RUN --mount=type=secret,id=tok cp /run/secrets/tok /tok.txt && echo "$FROMFILE" >/arg.txt
DF
printf '# build args\nFROMFILE=from-arg-file\n' >"$SSHCTX/args.conf"
chmod -R a+rX "$SSHCTX"
agent_dir=$(runuser -u "$user" -- mktemp -d /tmp/kiln-agent.XXXXXX)
kt_on_exit "rm -rf '$agent_dir'"
if command -v ssh-agent >/dev/null; then
  agent_pid=$(runuser -u "$user" -- ssh-agent -a "$agent_dir/agent.sock" | sed -n 's/^SSH_AGENT_PID=\([0-9]*\);.*/\1/p')
  kt_on_exit "kill $agent_pid 2>/dev/null"
else
  kt_fail "ssh-agent is not installed (openssh-client: scripts/setup.sh --test)"
fi
runuser -u "$user" -- ssh-keygen -q -t ed25519 -N '' -C kiln-parity-key -f "$agent_dir/deploy_key"
runuser -u "$user" -- ssh-keygen -q -t ed25519 -N secret -C locked -f "$agent_dir/locked_key"
if KT_EXTRA_ENV="PARITY_TOKEN=tok-value" kt_as "$user" "$KT_KILN" build --lint=off --progress=plain \
    --build-context "base=oci-layout://$BB:latest" --ssh "default=$agent_dir/agent.sock" --ssh "deploy=$agent_dir/deploy_key" \
    --secret type=env,id=tok,src=PARITY_TOKEN --build-arg-file "$SSHCTX/args.conf" --timestamp 86400 \
    -o "type=local,dest=$out/ssh" -o "type=oci,dest=$out/ssh.tar" "$SSHCTX" >"$KT_WORK/b6.log" 2>&1; then
  kt_eq "--ssh: the agent socket is in the step at SSH_AUTH_SOCK" /run/buildkit/ssh_agent.0 "$(cat "$out/ssh/sock.txt" 2>&1)"
  kt_eq "--ssh ID=KEYFILE: the step's agent holds that key" kiln-parity-key "$(cat "$out/ssh/keys.txt" 2>&1)"
  kt_eq "kiln's agent is gone after the build" 1 "$(pgrep -u "$user" -x ssh-agent | wc -l)"
  kt_eq "...and its socket directory" "" "$(find /tmp -maxdepth 1 -name 'kiln-ssh-*' -user "$user")"
  kt_eq "--secret type=env,src=VAR reads the variable" tok-value "$(cat "$out/ssh/tok.txt" 2>&1)"
  kt_eq "--build-arg-file" from-arg-file "$(cat "$out/ssh/arg.txt" 2>&1)"
  kt_eq "--timestamp SECONDS (buildah) sets created" 1970-01-02T00:00:00Z \
    "$(skopeo inspect --config oci-archive:"$out/ssh.tar" | jq -r .created)"
else
  cat "$KT_WORK/b6.log"; kt_fail "build --ssh"
fi

rc=0; kt_as "$user" "$KT_KILN" build --lint=off --progress=plain --build-context "base=oci-layout://$BB:latest" \
  --ssh "deploy=$agent_dir/locked_key" -o "type=local,dest=$out/locked" "$SSHCTX" >"$KT_WORK/b6-locked.log" 2>&1 || rc=$?
kt_check "--ssh with a passphrase-protected key fails (no prompt)" test "$rc" -ne 0
kt_check "...saying to load it into an agent" grep -q 'ssh-add could not load the key.*load it into your agent' "$KT_WORK/b6-locked.log"
kt_eq "...leaving no agent or socket directory behind" "1 " \
  "$(pgrep -u "$user" -x ssh-agent | wc -l) $(find /tmp -maxdepth 1 -name 'kiln-ssh-*' -user "$user")"

# docker-image:// names another image (here parity:1 in the store); flags
# kiln takes without doing anything say so.
ALIAS=$KT_WORK/alias
mkdir -p "$ALIAS"
printf 'FROM app-base\nRUN cat /data.txt >/seen.txt\n' >"$ALIAS/Dockerfile"
chmod -R a+rX "$ALIAS"
if kt_as "$user" "$KT_KILN" build --lint=off --progress=plain --build-context app-base=docker-image://parity:1 \
    --cgroup-parent /kiln.slice --load --userns=container --isolation=default -o "type=local,dest=$out/alias" "$ALIAS" \
    >"$KT_WORK/b6b.log" 2>&1; then
  kt_eq "--build-context NAME=docker-image://REF serves FROM" payload "$(cat "$out/alias/seen.txt" 2>&1)"
  kt_check "--cgroup-parent says it has no effect" grep -q 'cgroup-parent /kiln.slice has no effect' "$KT_WORK/b6b.log"
  kt_check "--load says where the image is" grep -q 'note: --load' "$KT_WORK/b6b.log"
  kt_check "--isolation=default (docker's word) is auto" grep -q '^kiln: isolation' "$KT_WORK/b6b.log"
else
  cat "$KT_WORK/b6b.log"; kt_fail "build --build-context docker-image://"
fi

# buildah's --isolation rootless (and oci) is kiln's full: built, or refused
# as `full` is where this machine cannot give it; never an unknown name.
kt_as "$user" "$KT_KILN" build --lint=off --progress=plain --build-context app-base=docker-image://parity:1 \
  --isolation rootless -o "type=local,dest=$out/iso" "$ALIAS" >"$KT_WORK/b6c.log" 2>&1 || true
kt_check "--isolation rootless (buildah's) is kiln's full" \
  grep -qE '^kiln: isolation full|isolation full is not possible here' "$KT_WORK/b6c.log"

# 7. --check: the checks only, exit 1 on findings, nothing built.
CHK=$KT_WORK/chk
mkdir -p "$CHK"
printf 'FROM busybox\nRUN cd /tmp && echo hi\n' >"$CHK/Dockerfile"
chmod -R a+rX "$CHK"
rc=0; kt_as "$user" "$KT_KILN" build --check "$CHK" >"$KT_WORK/chk.log" 2>&1 || rc=$?
kt_eq "--check exits 1 on findings" 1 "$rc"
kt_check "--check prints the findings" grep -qE 'Check complete, [0-9]+ problems? found' "$KT_WORK/chk.log"
rc=0; kt_as "$user" "$KT_KILN" build --call=check "$CHK" >/dev/null 2>&1 || rc=$?
kt_eq "--call=check is the same" 1 "$rc"
kt_check "--check built nothing" bash -c "! grep -q '^#' '$KT_WORK/chk.log'"

# 8. Flags CI templates pass: --metadata-file, --provenance (buildx's
# syntax), --sbom=false, --pull=always|missing, --no-cache-filter STAGE.
MS=$KT_WORK/multistage
mkdir -p "$MS"
printf 'FROM %s AS one\nRUN echo one >/one\nFROM %s\nCOPY --from=one /one /one\n' \
  "$KT_REGISTRY/parity:pushed" "$KT_REGISTRY/parity:pushed" >"$MS/Dockerfile"
chmod -R a+rX "$MS"
ms() { kt_as "$user" "$KT_KILN" build --lint=off --progress=plain "$@" "$MS"; }
has_provenance() { kt_as "$user" "$KT_KILN" inspect --referrers "$1" | grep -q in-toto; }
if ms --pull=always --sbom=false -t parity:nosbom >"$KT_WORK/b9a.log" 2>&1; then
  kt_check "--pull=always pulls the base" grep -q "pulling $KT_REGISTRY/parity:pushed" "$KT_WORK/b9a.log"
  kt_check "--sbom=false: nothing attached" eval '! has_provenance parity:nosbom'
else
  cat "$KT_WORK/b9a.log"; kt_fail "build --pull=always --sbom=false"
fi
if ms --pull=missing -t parity:meta --provenance=mode=max --metadata-file "$out/meta.json" --iidfile "$out/meta.iid" \
    >"$KT_WORK/b9b.log" 2>&1; then
  kt_check "--pull=missing: the stored base, no pull" eval "! grep -q pulling '$KT_WORK/b9b.log'"
  kt_check "everything else cached" grep -q '(0 steps run' "$KT_WORK/b9b.log"
  kt_eq "--metadata-file: containerimage.config.digest is the image ID" "$(cat "$out/meta.iid" 2>&1)" \
    "$(jq -r '."containerimage.config.digest"' "$out/meta.json" 2>&1)"
  kt_check "--metadata-file: containerimage.digest" grep -qE '"containerimage.digest": "sha256:[0-9a-f]{64}"' "$out/meta.json"
  kt_check "--provenance=mode=max attached provenance" has_provenance parity:meta
else
  cat "$KT_WORK/b9b.log"; kt_fail "build --pull=missing --provenance --metadata-file"
fi
if ms --no-cache-filter one >"$KT_WORK/b9c.log" 2>&1; then
  kt_check "--no-cache-filter one: that stage's RUN runs again" grep -qE '\(([1-9][0-9]*) steps run' "$KT_WORK/b9c.log"
else
  cat "$KT_WORK/b9c.log"; kt_fail "build --no-cache-filter"
fi

# 9. The RUN-level flags in the single-id namespace too.
user=kiln-single
kt_fresh_root "$user" >/dev/null
mkdir -p "$out/single"; chown "$user:" "$out/single"
if kt_as "$user" "$KT_KILN" build "${common[@]}" -o "type=local,dest=$out/single/rootfs" "$CTX" >"$KT_WORK/b8.log" 2>&1; then
  kt_eq "$user: --add-host" "10.1.2.3	kiln-test-host" "$(cat "$out/single/rootfs/hosts.txt" 2>&1)"
  kt_eq "$user: --ulimit" 512 "$(cat "$out/single/rootfs/nofile.txt" 2>&1)"
  kt_check "$user: --shm-size" grep -q 'size=16384k' "$out/single/rootfs/shm.txt"
else
  cat "$KT_WORK/b8.log"; kt_fail "$user: build with the RUN-level flags"
fi
kt_done
