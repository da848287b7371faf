#!/usr/bin/env bash
# start-dockerd.sh DIR: starts Debian's dockerd in the background as these
# machines allow it (no iptables, no bridge, overlay2) with its socket, data
# and exec roots, pid file and log under DIR, and waits until it answers.
# Keep DIR short: a unix socket path is limited to 108 bytes.
# Then: export DOCKER_HOST=unix://DIR/sock; stop with: kill "$(cat DIR/pid)".
set -euo pipefail
dir=${1:?usage: start-dockerd.sh DIR}
docker_cli=/usr/bin/docker  # Debian's client, whatever else is on PATH
command -v dockerd >/dev/null || { echo "start-dockerd: dockerd not installed (apt-get install docker.io)" >&2; exit 1; }
mkdir -p "$dir"
dockerd --data-root "$dir/root" --exec-root "$dir/exec" -H "unix://$dir/sock" --pidfile "$dir/pid" \
  --iptables=false --ip-forward=false --bridge=none --storage-driver=overlay2 >"$dir/log" 2>&1 &
for _ in $(seq 150); do
  DOCKER_HOST=unix://$dir/sock "$docker_cli" version >/dev/null 2>&1 && exit 0
  sleep 0.2
done
tail -n 20 "$dir/log" >&2
echo "start-dockerd: dockerd did not answer on $dir/sock within 30 s (log: $dir/log)" >&2
exit 1
