#!/usr/bin/env bash
# registries.conf and --registry-mirror against real registries: a "main"
# registry, a mirror holding busybox, and a TLS registry with a self-signed
# certificate. Mirrors are tried first (a dead one is left with a note),
# `blocked` refuses, `insecure` allows the self-signed registry, aliases and
# unqualified-search-registries qualify short names, the user's
# ~/.config/containers/registries.conf and the registries.conf.d drop-ins are
# read, short-name-mode decides ambiguous short names, buildah's --tls-verify
# and --authfile work on a build, --registry-mirror mirrors
# docker.io as dockerd's flag does (FROM busybox with no internet).
source "$(dirname "$0")/lib.sh"
kt_require_root
command -v openssl >/dev/null || kt_fail "openssl not installed"
kt_workdir
user=kiln-ranged
kt_setup_user "$user" 200000
home=$(getent passwd "$user" | cut -d: -f6)
kt_make_busybox_layout
kt_start_registry; MIRROR=$KT_REGISTRY; MIRROR_LOG=$KT_REGISTRY_LOG
kt_start_registry; MAIN=$KT_REGISTRY
skopeo copy -q --dest-tls-verify=false "oci:$KT_BUSYBOX_LAYOUT:latest" "docker://$MIRROR/library/busybox:latest" >/dev/null
# A TLS registry whose certificate nobody trusts.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
  -keyout "$KT_WORK/tls.key" -out "$KT_WORK/tls.crt" >/dev/null 2>&1
chmod a+r "$KT_WORK/tls.key"
KT_REGISTRY_TLS="$KT_WORK/tls.crt $KT_WORK/tls.key" kt_start_registry; TLS=$KT_REGISTRY
skopeo copy -q --dest-tls-verify=false "oci:$KT_BUSYBOX_LAYOUT:latest" "docker://$TLS/secure/busybox:latest" >/dev/null

conf=$KT_WORK/registries.conf
cat >"$conf" <<EOF
unqualified-search-registries = ["$MIRROR"]

[aliases]
"shortbox" = "$MIRROR/library/busybox"

[[registry]]
prefix = "$MAIN/cache"
[[registry.mirror]]
location = "127.0.0.1:1/dead"
[[registry.mirror]]
location = "$MIRROR"

[[registry]]
prefix = "$MAIN/blocked"
blocked = true

[[registry]]
prefix = "$TLS/secure"
insecure = true
EOF
chmod a+r "$conf"
pull() { kt_as "$user" "$KT_KILN" pull "$@"; }
fails_quietly() { ! "$@" >/dev/null 2>&1; }
export KT_EXTRA_ENV="CONTAINERS_REGISTRIES_CONF=$conf"
kt_fresh_root "$user" >/dev/null

# ---- mirrors: the main registry has no cache/library/busybox; the mirror does ----
if pull "$MAIN/cache/library/busybox:latest" >"$KT_WORK/mirror.log" 2>&1; then
  kt_ok "pull through the mirror of registries.conf"
  kt_check "the dead mirror is left with a note" grep -q "mirror 127.0.0.1:1/dead/library/busybox:latest failed, trying the next source" "$KT_WORK/mirror.log"
  kt_check "the mirror is named" grep -q "from mirror $MIRROR/library/busybox:latest" "$KT_WORK/mirror.log"
  kt_check "the mirror served the manifest" grep -q "GET /v2/library/busybox/manifests/latest" "$MIRROR_LOG"
  kt_check "stored under the name asked for" grep -qx "$MAIN/cache/library/busybox:latest" <(kt_as "$user" "$KT_KILN" images -q)
else
  cat "$KT_WORK/mirror.log"; kt_fail "pull through the mirror of registries.conf"
fi
KT_EXTRA_ENV= kt_check "without registries.conf the same pull fails (main has no such image)" \
  fails_quietly pull "$MAIN/cache/library/busybox:latest"

# ---- blocked ----
if pull "$MAIN/blocked/app:1" >"$KT_WORK/blocked.log" 2>&1; then kt_fail "a blocked registry was pulled from"; else
  kt_check "blocked: refused, naming the file" grep -q "is blocked by $conf" "$KT_WORK/blocked.log"
fi

# ---- insecure: the self-signed registry ----
if pull "$TLS/secure/busybox:latest" >"$KT_WORK/tls.log" 2>&1; then kt_ok "insecure = true: self-signed registry pulled"
else cat "$KT_WORK/tls.log"; kt_fail "insecure = true: self-signed registry pulled"; fi
if KT_EXTRA_ENV= pull "$TLS/secure/busybox:latest" >"$KT_WORK/tls-no.log" 2>&1; then
  kt_fail "the self-signed registry was trusted without registries.conf"
else
  kt_check "without it: the certificate is refused" grep -qi "certificate" "$KT_WORK/tls-no.log"
fi

# ---- push: insecure and blocked apply too ----
if kt_as "$user" "$KT_KILN" push "$TLS/secure/busybox:latest" "$TLS/secure/pushed:1" >"$KT_WORK/push.log" 2>&1; then
  kt_ok "push: insecure = true lets the push reach the self-signed registry"
else cat "$KT_WORK/push.log"; kt_fail "push: insecure = true lets the push reach the self-signed registry"; fi
if kt_as "$user" "$KT_KILN" push "$TLS/secure/busybox:latest" "$MAIN/blocked/pushed:1" >"$KT_WORK/push-blocked.log" 2>&1; then
  kt_fail "push to a blocked registry went through"
else
  kt_check "push: blocked refuses" grep -q "push $MAIN/blocked/pushed:1: registry $MAIN/blocked is blocked" "$KT_WORK/push-blocked.log"
fi

# ---- short names: an alias, then the search registry ----
kt_check "alias: kiln pull shortbox" pull -q shortbox
kt_check "search registry: kiln pull library/busybox" pull -q library/busybox
kt_check "both stored under their qualified names" test "$(kt_as "$user" "$KT_KILN" images -q | grep -c "^$MIRROR/library/busybox:latest$")" -eq 1

# ---- a build: FROM an alias, from the user's own registries.conf ----
ctx=$KT_WORK/ctx
mkdir -p "$ctx"; printf 'FROM shortbox\nRUN echo built > /built\n' >"$ctx/Dockerfile"; chmod -R a+rX "$ctx"
mkdir -p "$home/.config/containers"; cp "$conf" "$home/.config/containers/registries.conf"; chown -R "$user:" "$home/.config"
kt_on_exit "rm -f '$home/.config/containers/registries.conf'"
kt_fresh_root "$user" >/dev/null
if KT_EXTRA_ENV= kt_as "$user" "$KT_KILN" build --lint=off --progress=plain -t aliased:1 "$ctx" >"$KT_WORK/build-alias.log" 2>&1; then
  kt_ok "build: FROM shortbox through ~/.config/containers/registries.conf"
else
  tail -n 5 "$KT_WORK/build-alias.log"; kt_fail "build: FROM shortbox through ~/.config/containers/registries.conf"
fi
rm -f "$home/.config/containers/registries.conf"

# ---- --registry-mirror: docker.io through a local mirror (there is no internet) ----
empty=$KT_WORK/empty.conf; : >"$empty"; chmod a+r "$empty"
printf 'FROM busybox:latest\nRUN echo built > /built\n' >"$ctx/Dockerfile"
kt_fresh_root "$user" >/dev/null
if KT_EXTRA_ENV="CONTAINERS_REGISTRIES_CONF=$empty" kt_as "$user" "$KT_KILN" build --lint=off --progress=plain \
    --registry-mirror "http://$MIRROR" -t mirrored:1 "$ctx" >"$KT_WORK/build-mirror.log" 2>&1; then
  kt_ok "build --registry-mirror: FROM busybox from the docker.io mirror"
  kt_check "...and says so" grep -q "from mirror $MIRROR/library/busybox:latest" "$KT_WORK/build-mirror.log"
else
  tail -n 5 "$KT_WORK/build-mirror.log"; kt_fail "build --registry-mirror: FROM busybox from the docker.io mirror"
fi
# buildah's --tls-verify=false: the self-signed registry with no insecure rule.
printf 'FROM %s/secure/busybox:latest\n' "$TLS" >"$ctx/Dockerfile"
if KT_EXTRA_ENV="CONTAINERS_REGISTRIES_CONF=$empty" kt_as "$user" "$KT_KILN" build --lint=off --progress=plain \
    --tls-verify=false -t tlsv:1 "$ctx" >"$KT_WORK/build-tlsv.log" 2>&1; then
  kt_ok "build --tls-verify=false: FROM the self-signed registry"
else
  tail -n 5 "$KT_WORK/build-tlsv.log"; kt_fail "build --tls-verify=false: FROM the self-signed registry"
fi
# buildah's --authfile: a registry that wants a password (htpasswd over TLS).
htpasswd -Bbn kiln s3cret >"$KT_WORK/htpasswd"
KT_REGISTRY_HTPASSWD=$KT_WORK/htpasswd KT_REGISTRY_TLS="$KT_WORK/tls.crt $KT_WORK/tls.key" kt_start_registry; AUTH=$KT_REGISTRY
skopeo copy -q --dest-tls-verify=false --dest-creds kiln:s3cret "oci:$KT_BUSYBOX_LAYOUT:latest" \
  "docker://$AUTH/private/busybox:latest" >/dev/null
printf '{"auths": {"%s": {"auth": "%s"}}}\n' "$AUTH" "$(printf kiln:s3cret | base64)" >"$KT_WORK/auth.json"
chown "$user:" "$KT_WORK/auth.json"; chmod 600 "$KT_WORK/auth.json"
printf 'FROM %s/private/busybox:latest\n' "$AUTH" >"$ctx/Dockerfile"
authbuild() { KT_EXTRA_ENV="CONTAINERS_REGISTRIES_CONF=$empty" kt_as "$user" "$KT_KILN" build --lint=off --progress=plain \
  --tls-verify=false "$@" "$ctx"; }
if authbuild --authfile "$KT_WORK/auth.json" >"$KT_WORK/build-authfile.log" 2>&1; then
  kt_ok "build --authfile: FROM a registry that wants a password"
else
  tail -n 5 "$KT_WORK/build-authfile.log"; kt_fail "build --authfile: FROM a registry that wants a password"
fi
kt_check "without --authfile: refused" eval "! authbuild --pull=always >'$KT_WORK/build-noauth.log' 2>&1"
kt_check "...by the registry (401)" grep -q 401 "$KT_WORK/build-noauth.log"
authbuild --authfile /nonexistent.json >"$KT_WORK/build-noauthfile.log" 2>&1 || true
kt_check "a missing --authfile is named" grep -q -- '--authfile: /nonexistent.json: No such file' "$KT_WORK/build-noauthfile.log"
kt_check "a malformed --registry-mirror is refused" fails_quietly kt_as "$user" "$KT_KILN" pull --registry-mirror "quay.io=" busybox

# ---- registries.conf.d drop-ins (a private XDG_CONFIG_HOME) and short-name-mode ----
xdg=$KT_WORK/xdg; dropins=$xdg/containers/registries.conf.d
mkdir -p "$dropins"
# Two search registries replace the main file's one: MAIN (no busybox) first, then the mirror.
printf 'unqualified-search-registries = ["%s", "%s"]\n' "$MAIN" "$MIRROR" >"$dropins/10-search.conf"
chown -R "$user:" "$xdg"; chmod -R a+rX "$xdg"
dropin_env="CONTAINERS_REGISTRIES_CONF=$conf XDG_CONFIG_HOME=$xdg"
kt_fresh_root "$user" >/dev/null
if KT_EXTRA_ENV=$dropin_env pull library/busybox:latest >"$KT_WORK/permissive.log" 2>&1; then
  kt_ok "drop-in search registries, permissive: the first that has the image"
  kt_check "...after the first said no" grep -q "$MAIN/library/busybox:latest failed, trying the next unqualified-search registry" \
    "$KT_WORK/permissive.log"
  kt_check "...stored under the registry that answered" grep -qx "$MIRROR/library/busybox:latest" <(KT_EXTRA_ENV=$dropin_env kt_as "$user" "$KT_KILN" images -q)
else
  cat "$KT_WORK/permissive.log"; kt_fail "drop-in search registries, permissive: the first that has the image"
fi
printf 'short-name-mode = "enforcing"\n' >"$dropins/20-enforcing.conf"; chmod a+r "$dropins/20-enforcing.conf"
if KT_EXTRA_ENV=$dropin_env pull library/busybox:latest >"$KT_WORK/enforcing.log" 2>&1; then
  kt_fail "short-name-mode = enforcing let an ambiguous short name through"
else
  kt_check "enforcing (a later drop-in): an ambiguous short name is refused" \
    grep -q "short name library/busybox:latest is ambiguous.*$dropins/10-search.conf.*enforcing ($dropins/20-enforcing.conf)" \
    "$KT_WORK/enforcing.log"
fi
printf '[aliases]\n"library/busybox" = "%s/library/busybox"\n' "$MIRROR" >"$dropins/30-alias.conf"; chmod a+r "$dropins/30-alias.conf"
if KT_EXTRA_ENV=$dropin_env pull -q library/busybox:latest >"$KT_WORK/alias-dropin.log" 2>&1; then
  kt_ok "enforcing: an alias from a drop-in resolves the short name"
else
  cat "$KT_WORK/alias-dropin.log"; kt_fail "enforcing: an alias from a drop-in resolves the short name"
fi

# ---- a registries.conf that is not TOML stops the pull, naming the line ----
printf 'unqualified-search-registries = [\n= oops\n' >"$KT_WORK/bad.conf"; chmod a+r "$KT_WORK/bad.conf"
if KT_EXTRA_ENV="CONTAINERS_REGISTRIES_CONF=$KT_WORK/bad.conf" pull shortbox >"$KT_WORK/bad.log" 2>&1; then
  kt_fail "a broken registries.conf was ignored"
else
  kt_check "a broken registries.conf names file and line" grep -q "$KT_WORK/bad.conf:2:.*not valid TOML" "$KT_WORK/bad.log"
fi
kt_done
