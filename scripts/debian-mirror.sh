#!/usr/bin/env bash
# Prints the Debian mirror this machine's apt uses (deb822 sources first, then
# sources.list; security archives skipped), else deb.debian.org. The scripts
# that debootstrap a base use it so that they need no other network access.
set -euo pipefail
mirror=$(grep -hsoE '^URIs: *[^ ]+' /etc/apt/sources.list.d/*.sources | grep -v security | head -n1 | awk '{print $2}' || true)
[ -n "$mirror" ] || mirror=$(grep -hsE '^deb ' /etc/apt/sources.list 2>/dev/null | grep -v security |
  grep -oE 'https?://[^ ]+' | head -n1 || true)
echo "${mirror:-http://deb.debian.org/debian}"
