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

# Many Dockerfiles in one run, linted in parallel, share their lookups: each
# directory's .kiln-lint.json (a broken one fails only the files under it), and
# a Dockerfile's own <file>.dockerignore wins over its context's.
m="$KT_WORK/many"
mkdir -p "$m/a" "$m/b" "$m/c"
printf '{"ignore": ["KL002"]}\n' >"$m/a/.kiln-lint.json"
printf '{"ignore": \n' >"$m/c/.kiln-lint.json"
printf 'x\n' >"$m/b/id_rsa"
printf 'id_rsa\n' >"$m/b/2.Dockerfile.dockerignore"
printf 'other\n' >"$m/b/.dockerignore"
for d in a b c; do
  for n in 1 2 3; do
    printf 'FROM busybox:1.36@sha256:%064d\nENV API_TOKEN=abc\nCOPY . /app\nUSER 1000\n' 0 >"$m/$d/$n.Dockerfile"
  done
done
chmod -R a+rX "$m"
set +e
kt_as "$user" "$KT_KILN" lint --format json --failure-threshold none "$m"/*/*.Dockerfile >"$m/out.json" 2>"$m/out.err"
rc_dirs=$?
set -e
kt_eq "a broken config makes lint exit 2" 2 "$rc_dirs"
kt_eq "...naming each file under it, and no other" "3" "$(grep -c '/c/.kiln-lint.json' "$m/out.err")"
per_file='[.files[] | (.file | split("/") | .[-2:] | join("/")) + ":" + ([.findings[].rule | select(. == "KL002" or . == "KL004")] | join(","))] | join(" ")'
kt_eq "a/ ignores KL002 by its config; b/2 keeps id_rsa out by its own .dockerignore" \
  "a/1.Dockerfile: a/2.Dockerfile: a/3.Dockerfile: b/1.Dockerfile:KL002,KL004 b/2.Dockerfile:KL002 b/3.Dockerfile:KL002,KL004" \
  "$(jq -r "$per_file" "$m/out.json")"
kt_done
