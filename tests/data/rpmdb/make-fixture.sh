#!/bin/bash
# Rebuilds rpmdb.sqlite in this directory with the rpm tools (Debian's rpm
# 4.18 package: rpmbuild, rpm; its only database backend is sqlite).
# Usage: tests/data/rpmdb/make-fixture.sh [WORKDIR]   (default /tmp/kiln-rpmdb)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=${1:-/tmp/kiln-rpmdb}
rm -rf "$work"
mkdir -p "$work/top/SPECS" "$work/root"

spec() {  # NAME VERSION RELEASE EPOCH LICENSE VENDOR BUILDARCH DESCRIPTION
  {
    echo "Name: $1"
    echo "Version: $2"
    echo "Release: $3"
    [ -n "$4" ] && echo "Epoch: $4"
    echo "Summary: kiln SBOM test fixture $1"
    echo "License: $5"
    [ -n "$6" ] && echo "Vendor: $6"
    [ -n "$6" ] && echo "Packager: Kiln Test <test@example.invalid>"
    [ -n "$7" ] && echo "BuildArch: $7"
    echo
    echo "%description"
    echo "$8"
    echo
    echo "%files"
  } > "$work/top/SPECS/$1.spec"
}

# A long description makes package a's header blob (about 14 KB) bigger than
# a 4 KiB SQLite page, so its row continues on a chain of overflow pages.
long=$(for i in $(seq 1 200); do echo "Line $i of a long description that pushes the header past one database page."; done)
spec kiln-fixture-a 1.2.3 4.fx 2 MIT "Kiln Fixtures" noarch "$long"
spec kiln-fixture-b 0.9 1 "" "Apache-2.0 OR GPL-2.0-or-later" "" noarch "Fixture B."
spec kiln-fixture-c 3.0 0.rc1 0 "BSD-3-Clause" "" "" "Fixture C, explicit epoch 0, built for x86_64."
spec kiln-fixture-d 10.2 7 "" "GPL-2.0-only" "" noarch "Fixture D."
spec kiln-fixture-e 1.0~beta 2 "" "ISC" "" noarch "Fixture E, tilde version."
spec kiln-fixture-f 2024.1 1 "" "Zlib" "" noarch "Fixture F."

for s in "$work"/top/SPECS/*.spec; do
  target=noarch
  grep -q '^BuildArch' "$s" || target=x86_64
  rpmbuild -bb --quiet --target "$target" --define "_topdir $work/top" "$s"
done

rpm --root "$work/root" --dbpath /var/lib/rpm --define '_db_backend sqlite' --initdb
rpm --root "$work/root" --dbpath /var/lib/rpm --define '_db_backend sqlite' -i --nodeps --justdb \
  "$work"/top/RPMS/*/*.rpm
# rpm checkpoints the WAL when it closes the database: the main file is complete.
test ! -s "$work/root/var/lib/rpm/rpmdb.sqlite-wal"
cp "$work/root/var/lib/rpm/rpmdb.sqlite" "$here/rpmdb.sqlite"
rpm --root "$work/root" --dbpath /var/lib/rpm -qa \
  --qf '%{NAME}|%{EPOCH}|%{VERSION}|%{RELEASE}|%{ARCH}|%{LICENSE}|%{VENDOR}|%{SOURCERPM}\n' | sort > "$here/expected-qa.txt"
