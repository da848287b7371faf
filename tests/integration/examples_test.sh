#!/usr/bin/env bash
# The README's main job and the examples, as an unprivileged user: the local
# busybox base and examples/hello via scripts/run-example.sh, the multi-stage
# example's test stage, `kiln lint` over every example (passes the gate) and
# kiln's exit codes (0 ok, 1 findings/failure, 2 usage).
source "$(dirname "$0")/lib.sh"
kt_require_root
kt_workdir
kt_setup_users
user=kiln-ranged
kt_fresh_root "$user" >/dev/null
cp -a "$KT_SRC/examples" "$KT_SRC/scripts" "$KT_WORK/"
chmod -R a+rX "$KT_WORK/examples" "$KT_WORK/scripts"
chmod 0777 "$KT_WORK"

out=$(cd "$KT_WORK" && KT_EXTRA_ENV="KILN_EXAMPLE_OUT=$KT_WORK/hello.oci" \
  kt_as "$user" bash "$KT_WORK/scripts/run-example.sh" "$KT_KILN" "$KT_WORK/examples/hello" 2>&1) ||
  { echo "$out"; kt_fail "run-example.sh examples/hello"; }
kt_check "run-example prints the image reference and digest" grep -qE "built hello:latest sha256:[0-9a-f]{64}" <<<"$out"
kt_check "the OCI layout is readable by skopeo" skopeo inspect --config "oci:$KT_WORK/hello.oci:latest" >/dev/null
cfg=$(skopeo inspect --config "oci:$KT_WORK/hello.oci:latest")
kt_eq "hello runs as 1000:1000" '"1000:1000"' "$(jq -c .config.User <<<"$cfg")"

kt_check "multistage: the test stage passes (--target test)" \
  kt_as "$user" "$KT_KILN" build -q --lint=off --target test "$KT_WORK/examples/multistage"
kt_check "multistage: the final image builds through the lint gate" \
  kt_as "$user" "$KT_KILN" build -q -t multistage:latest "$KT_WORK/examples/multistage"

for df in "$KT_WORK"/examples/*/Dockerfile; do
  kt_check "kiln lint passes $(basename "$(dirname "$df")")" kt_as "$user" "$KT_KILN" lint "$df"
done
printf 'FROM busybox:1.36\nENV API_TOKEN=ghp_0123456789abcdefghijABCDEFGHIJ012345\n' >"$KT_WORK/bad.Dockerfile"
set +e
kt_as "$user" "$KT_KILN" lint "$KT_WORK/bad.Dockerfile" >/dev/null; rc_bad=$?
kt_as "$user" "$KT_KILN" lint --no-such-flag "$KT_WORK/bad.Dockerfile" >/dev/null 2>&1; rc_usage=$?
kt_as "$user" "$KT_KILN" build -q "$KT_WORK" -f "$KT_WORK/bad.Dockerfile" >/dev/null 2>&1; rc_gate=$?
printf 'FROM busybox:1.36\nCOPPY a b\n' >"$KT_WORK/broken.Dockerfile"
kt_as "$user" "$KT_KILN" lint --format json "$KT_WORK/bad.Dockerfile" "$KT_WORK/broken.Dockerfile" \
  "$KT_WORK/examples/hello/Dockerfile" >"$KT_WORK/many.json" 2>"$KT_WORK/many.err"; rc_many=$?
set -e
kt_eq "lint exits 1 on error findings" 1 "$rc_bad"
kt_eq "a file that does not parse makes lint exit 2" 2 "$rc_many"
kt_check "...naming it with file:line" grep -q "broken.Dockerfile:2:1: unknown instruction \"COPPY\"" "$KT_WORK/many.err"
kt_eq "...while the other files are still linted, in order" "bad.Dockerfile Dockerfile" \
  "$(jq -r '[.files[].file | split("/") | last] | join(" ")' "$KT_WORK/many.json")"
kt_eq "usage errors exit 2" 2 "$rc_usage"
kt_eq "the build gate stops an insecure Dockerfile" 1 "$rc_gate"
kt_done
