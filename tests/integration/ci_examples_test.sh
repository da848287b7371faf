#!/usr/bin/env bash
# Every CI example in examples/ci/ runs kiln in the container or pod settings
# of a row that tests/integration/containers_test.sh builds in (the rows are
# tests/integration/container_rows.txt), one where a RUN builds, and keeps
# its store outside the build context.
source "$(dirname "$0")/lib.sh"
if ! python3 -c 'import yaml' 2>/dev/null; then
  kt_fail "python3 cannot import yaml (scripts/setup.sh --test installs python3-yaml)"; kt_done; exit
fi
out=$(python3 "$KT_SRC/tests/integration/ci_examples.py" "$KT_SRC" 2>&1) || kt_fail "ci_examples.py: $out"
while read -r verdict rest; do
  case $verdict in
    ok) kt_ok "$rest" ;;
    *) kt_fail "$verdict $rest" ;;
  esac
done <<<"$out"
kt_eq "all three examples are checked" 3 "$(grep -c '^ok ' <<<"$out")"
kt_done
