#!/bin/sh
# "Compiles" the app: here, a report of the sources.
set -eu
for f in src/*.txt; do
  printf '%s: %s\n' "$(basename "$f" .txt)" "$(cat "$f")"
done
