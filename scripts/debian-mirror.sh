#!/usr/bin/env bash
# Prints the Debian mirror this machine's apt uses (deb822 .sources first, then
# sources.list and sources.list.d/*.list, as debootstrap leaves them; security
# archives skipped), else deb.debian.org. The scripts and tests that
# debootstrap a base use it so that they need no other network access.
# APT_DIR (default /etc/apt) is for tests.
set -euo pipefail
apt=${APT_DIR:-/etc/apt}
for f in "$apt"/sources.list.d/*.sources; do
  [ -f "$f" ] || continue
  m=$(awk '$1 == "URIs:" && $2 !~ /security/ {print $2; exit}' "$f")
  [ -n "$m" ] && { echo "$m"; exit 0; }
done
for f in "$apt"/sources.list "$apt"/sources.list.d/*.list; do
  [ -f "$f" ] || continue
  m=$(awk '$1 == "deb" {for (i = 2; i <= NF; i++) if ($i ~ /^https?:\/\//) {if ($i !~ /security/) {print $i; exit}; break}}' "$f")
  [ -n "$m" ] && { echo "$m"; exit 0; }
done
echo http://deb.debian.org/debian
