#!/usr/bin/env bash
# What a newcomer meets on a fresh Debian 12 and in the docs: setup.sh
# installs every tool the tests and kiln itself need, the package depends on
# the CA bundle, the Debian mirror is found in a classic sources.list, and the
# docs agree with the binary (store path, --jobs default, the generated CLI
# doc, the pre-commit file pattern). No root, no registry: a few seconds.
source "$(dirname "$0")/lib.sh"
kt_workdir

# ---- setup.sh and the package ----
deps=$(bash -c 'eval "$(sed -n "/^build_deps=(/,/)/p; /^test_deps=(/,/)/p" "$1")"; echo " ${build_deps[*]} ${test_deps[*]} "' _ \
  "$KT_SRC/scripts/setup.sh")
# ca-certificates: kiln verifies HTTPS registries with the system bundle;
# bzip2, xz-utils: build_basic_test ADDs .tar.bz2/.tar.xz (neither is in minbase).
for p in ca-certificates bzip2 xz-utils; do
  kt_check "setup.sh installs $p" grep -q " $p " <<<"$deps"
done
kt_check "the .deb depends on ca-certificates" \
  grep -qE '^set\(CPACK_DEBIAN_PACKAGE_DEPENDS "[^"]*ca-certificates' "$KT_SRC/CMakeLists.txt"
kt_check "the install docs name ca-certificates" grep -q "ca-certificates" "$KT_SRC/docs/rootless.md"

# ---- the Debian mirror, where debootstrap leaves only /etc/apt/sources.list ----
apt=$KT_WORK/apt
mkdir -p "$apt/sources.list.d"
printf 'deb http://security.debian.org/debian-security bookworm-security main\ndeb [arch=amd64] http://mirror.test/debian bookworm main\n' \
  >"$apt/sources.list"
kt_eq "mirror from a classic sources.list" http://mirror.test/debian "$(KT_APT_DIR=$apt kt_debian_mirror)"
printf 'Types: deb\nURIs: http://deb822.test/debian\nSuites: bookworm\n' >"$apt/sources.list.d/debian.sources"
kt_eq "mirror from a deb822 .sources file first" http://deb822.test/debian "$(KT_APT_DIR=$apt kt_debian_mirror)"
rm -rf "$apt"; mkdir -p "$apt"
kt_eq "no apt sources at all: deb.debian.org" http://deb.debian.org/debian "$(KT_APT_DIR=$apt kt_debian_mirror)"

# ---- docs against the binary ----
help=$("$KT_KILN" --help)
kt_check "kiln --help names the default store" grep -qF '~/.local/share/kiln' <<<"$help"
kt_check "README names the default store" grep -qF '~/.local/share/kiln' "$KT_SRC/README.md"
kt_check "docs/cli.md names the default store" grep -qF '~/.local/share/kiln' "$KT_SRC/docs/cli.md"
jobs_default=$("$KT_KILN" build --help | sed -nE 's/.*--jobs INT[^=]*=([0-9]+).*/\1/p')
kt_check "kiln build --help shows a --jobs default" test -n "$jobs_default"
kt_check "docs/scale.md gives --jobs' default ($jobs_default)" grep -qF "(\`--jobs N\`, default $jobs_default)" \
  "$KT_SRC/docs/scale.md"
bash "$KT_SRC/scripts/gen-cli-doc.sh" "$KT_KILN" >"$KT_WORK/cli.md" 2>"$KT_WORK/gen.err"
kt_eq "gen-cli-doc.sh: one section per subcommand, nothing else" \
  "$(sed -n '/^Subcommands:/,/^$/p' <<<"$help" | awk 'NR > 1 && NF {print "## kiln " $1}')" \
  "$(grep '^## kiln ' "$KT_WORK/cli.md")"

# ---- the pre-commit hook's file pattern (pre-commit uses Python's re.search) ----
kt_eq "pre-commit: Dockerfiles in, Dockerfile.dockerignore out" \
  "Dockerfile:1 app/Dockerfile.prod:1 x.Containerfile:1 Dockerfile.dockerignore:0 README.md:0" \
  "$(python3 - "$KT_SRC/.pre-commit-hooks.yaml" <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
files = re.search(r"^\s*files:\s*(.+)$", text, re.M).group(1).strip()
m = re.search(r"^\s*exclude:\s*(.+)$", text, re.M)
exclude = m.group(1).strip() if m else "^$"
names = ["Dockerfile", "app/Dockerfile.prod", "x.Containerfile", "Dockerfile.dockerignore", "README.md"]
print(" ".join(f"{n}:{int(bool(re.search(files, n)) and not re.search(exclude, n))}" for n in names))
EOF
)"
kt_done
