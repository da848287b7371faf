#!/usr/bin/env bash
# The Debian-based examples built for real: examples/python-app and
# examples/static-c on a bookworm minbase that this test makes with
# debootstrap from the machine's Debian mirror (nothing comes from a
# registry). apt-get runs inside RUN as an unprivileged user with a subuid
# range (apt drops to _apt, uid 42). The python app's SBOM lists the pinned
# python3 from the image's dpkg database; the static binary runs on the host.
# Skipped when debootstrap is missing or the mirror does not answer.
source "$(dirname "$0")/lib.sh"
kt_require_root
command -v debootstrap >/dev/null || kt_skip "debootstrap not installed"
command -v umoci >/dev/null || kt_skip "umoci not installed"
mirror=$(kt_debian_mirror)
curl -fsI --max-time 20 "$mirror/dists/bookworm/Release" >/dev/null || kt_skip "Debian mirror $mirror unreachable"
kt_workdir
# A user of its own: this test runs beside the others (see tests/CMakeLists.txt).
user=kiln-deb
kt_setup_user "$user" 700000
root=$(kt_fresh_root "$user")

# The base: debootstrap into an umoci bundle, repacked as one layer.
base=$KT_WORK/debian
debootstrap_into() { debootstrap --variant=minbase bookworm "$1" "$mirror" >"$KT_WORK/debootstrap.log" 2>&1; }
start=$(date +%s)
if ! kt_make_layout "$base" bookworm bash debootstrap_into; then
  tail -n 20 "$KT_WORK/debootstrap.log"
  kt_fail "debootstrap"; kt_done; exit
fi
echo "# debootstrap took $(($(date +%s) - start)) s"
cp -a "$KT_SRC/examples" "$KT_WORK/examples"
chmod -R a+rX "$KT_WORK/examples"
out=$KT_WORK/out
mkdir -p "$out"; chown "$user:" "$out"
tree="python3 $KT_SRC/tests/integration/image_tree.py"

# ---- python-app: apt-get install of a pinned python3, a user, EXPOSE ----
start=$(date +%s)
if kt_as "$user" "$KT_KILN" build --progress=plain --build-arg "DEBIAN=oci:$base:bookworm" -t python-app:1 \
    --output "type=oci,dest=$out/python-app" "$KT_WORK/examples/python-app" >"$KT_WORK/py.log" 2>&1; then
  kt_ok "python-app builds through the lint gate ($(($(date +%s) - start)) s)"
  $tree tree "$out/python-app" "" >"$KT_WORK/py.tree"
  kt_check "python-app: python3.11 installed" grep -q "^/usr/bin/python3.11 file " "$KT_WORK/py.tree"
  kt_check "python-app: /app/app.py" grep -q "^/app/app.py file 0644 0 0 " "$KT_WORK/py.tree"
  kt_check "python-app: the app user's home (useradd -m as uid 10001)" grep -q "^/home/app dir 0755 10001 10001" "$KT_WORK/py.tree"
  kt_check "python-app: apt lists removed" test "$(grep -c '^/var/lib/apt/lists/.*_Packages ' "$KT_WORK/py.tree")" -eq 0
  kt_eq "python-app: config user, port, cmd" '"app" ["8080/tcp"] ["python3","/app/app.py"]' \
    "$($tree config "$out/python-app" "" | python3 -c 'import json,sys; c=json.load(sys.stdin); print(json.dumps(c.get("User")), json.dumps(c.get("ExposedPorts"),separators=(",",":")), json.dumps(c.get("Cmd"),separators=(",",":")))' 2>&1)"
  if kt_as "$user" "$KT_KILN" sbom python-app:1 >"$KT_WORK/py.spdx.json" 2>"$KT_WORK/py.sbom.err"; then
    kt_eq "python-app: the SBOM lists the pinned python3" "python3 3.11.2-1+b1" \
      "$(python3 -c 'import json,sys; print(*[p["name"]+" "+p["versionInfo"] for p in json.load(open(sys.argv[1]))["packages"] if p["name"]=="python3"])' "$KT_WORK/py.spdx.json" 2>&1)"
  else
    cat "$KT_WORK/py.sbom.err"; kt_fail "kiln sbom python-app:1"
  fi
else
  tail -n 30 "$KT_WORK/py.log"; kt_fail "python-app build"
fi

# ---- static-c: gcc in a build stage, only the binary on scratch ----
start=$(date +%s)
if kt_as "$user" "$KT_KILN" build --progress=plain --build-arg "DEBIAN=oci:$base:bookworm" -t static-c:1 \
    --output "type=oci,dest=$out/static-c" "$KT_WORK/examples/static-c" >"$KT_WORK/c.log" 2>&1; then
  kt_ok "static-c builds through the lint gate ($(($(date +%s) - start)) s)"
  $tree tree "$out/static-c" "" >"$KT_WORK/c.tree"
  kt_eq "static-c: the image holds /hello and nothing else" "/hello" "$(cut -d' ' -f1 "$KT_WORK/c.tree" | grep -v '^/$')"
  mkdir -p "$KT_WORK/c-bundle"
  umoci raw unpack --rootless --image "$out/static-c:1" "$KT_WORK/c-bundle" >"$KT_WORK/c-unpack.log" 2>&1 ||
    cat "$KT_WORK/c-unpack.log"
  kt_eq "static-c: /hello runs on the host" "hello from a static binary on scratch" \
    "$("$KT_WORK/c-bundle/hello" 2>&1 || true)"
else
  tail -n 30 "$KT_WORK/c.log"; kt_fail "static-c build"
fi
kt_done
