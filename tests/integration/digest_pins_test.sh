#!/usr/bin/env bash
# Same inputs, same digest, across kiln changes: the local busybox base, the
# busybox-based examples and a scratch image have the manifest digests pinned
# in tests/data/digest-pins/pins.txt, built as the user with a subordinate
# range and as the user without one (both must give the pinned digest).
source "$(dirname "$0")/lib.sh"
kt_require_root
kt_workdir
kt_setup_users
pins=$KT_SRC/tests/data/digest-pins/pins.txt
cp -a "$KT_SRC/examples" "$KT_SRC/scripts" "$KT_WORK/"
mkdir -p "$KT_WORK/base" "$KT_WORK/scratch/files/sub"
"$KT_SRC/scripts/make-busybox-rootfs.sh" "$KT_WORK/base/rootfs"
printf 'FROM scratch\nCOPY rootfs/ /\nENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\nCMD ["sh"]\n' \
  >"$KT_WORK/base/Dockerfile"
printf 'a\n' >"$KT_WORK/scratch/files/a.txt"
printf '#!/bin/sh\necho b\n' >"$KT_WORK/scratch/files/sub/b.sh"
chmod 0755 "$KT_WORK/scratch/files/sub/b.sh"
cat >"$KT_WORK/scratch/Dockerfile" <<'DF'
FROM scratch AS files
COPY files/ /src/
FROM scratch
ARG VERSION=1.0
LABEL org.opencontainers.image.version=$VERSION
COPY --from=files --chown=1000:1000 /src/ /app/
COPY --chmod=0640 files/a.txt /etc/a.conf
WORKDIR /app
USER 1000:1000
ENV MODE=production
EXPOSE 8080/tcp
ENTRYPOINT ["/app/sub/b.sh"]
DF
chmod -R a+rX "$KT_WORK"
bb_version=$(dpkg-query -W -f='${Version}' busybox-static)

for user in kiln-ranged kiln-single; do
  kt_fresh_root "$user" >/dev/null
  got=()
  build() {  # build NAME DIR [kiln build flags...]
    local name=$1 dir=$2; shift 2
    local d
    d=$(kt_as "$user" "$KT_KILN" build -q --lint=off "$@" "$dir") || { kt_fail "$user: build $name"; return; }
    got+=("$name $d")
  }
  build busybox-base "$KT_WORK/base" -t busybox:local
  build hello "$KT_WORK/examples/hello"
  build multistage "$KT_WORK/examples/multistage"
  build multistage-test "$KT_WORK/examples/multistage" --target test
  build scratch "$KT_WORK/scratch"
  if [ -n "${KT_WRITE_PINS:-}" ]; then
    echo "# busybox-static $bb_version"; printf '%s\n' "${got[@]}"
    continue
  fi
  pinned_bb=$(sed -n 's/^# busybox-static //p' "$pins")
  for line in "${got[@]}"; do
    name=${line%% *}
    want=$(awk -v n="$name" '$1 == n {print $2}' "$pins")
    if [ "$name" != scratch ] && [ "$bb_version" != "$pinned_bb" ]; then
      kt_fail "$user: $name: busybox-static is $bb_version here, the pins were made with $pinned_bb (update the pins)"
      continue
    fi
    kt_eq "$user: $name has its pinned digest" "$want" "${line#* }"
  done
done
kt_done
