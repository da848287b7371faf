#!/bin/sh
# The test stage: fails the build (with --target test) when the output is wrong.
set -eu
grep -q '^greeting: hello$' "$1"
grep -q '^farewell: goodbye$' "$1"
echo "tests passed"
