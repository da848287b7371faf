#!/bin/bash
# Builds the libFuzzer targets (tests/fuzz) with clang in a private build dir
# and runs each for ~20 s (FUZZ_SECONDS) on a scratch copy of the seed
# corpus. Any crash, leak-free ASan/UBSan report or timeout fails the test.
# Exit 77 (skipped) when clang or its libFuzzer runtime is missing.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

command -v clang++ >/dev/null 2>&1 || kt_skip "clang++ not installed"
command -v clang >/dev/null 2>&1 || kt_skip "clang not installed"
echo 'extern "C" int LLVMFuzzerTestOneInput(const char*, unsigned long) { return 0; }' |
  clang++ -x c++ -fsanitize=fuzzer - -o /dev/null 2>/dev/null || kt_skip "clang has no libFuzzer runtime"

seconds=${FUZZ_SECONDS:-20}
build=${KILN_FUZZ_BUILD_DIR:-${KILN_TEST_BIN_DIR:-$KT_SRC/build}/fuzz-smoke}
work=$(mktemp -d)
kt_on_exit "rm -rf '$work'"

cmake -S "$KT_SRC" -B "$build" -DKILN_FUZZ=ON -DKILN_TESTS=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ >"$work/configure.log" 2>&1 ||
  { cat "$work/configure.log"; kt_fail "configure fuzz build"; kt_done; exit 1; }
kt_check "build parser_fuzz and expand_fuzz" \
  cmake --build "$build" --target parser_fuzz expand_fuzz -j2

for target in parser_fuzz expand_fuzz; do
  seeds=$KT_SRC/tests/fuzz/corpus/${target%_fuzz}
  mkdir -p "$work/$target"
  # New inputs go to the scratch dir; the checked-in seeds stay untouched.
  if "$build/tests/fuzz/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$work/" "$work/$target" "$seeds" >"$work/$target.log" 2>&1; then
    kt_ok "$target ran ${seconds}s: $(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$work/$target.log")"
  else
    tail -n 60 "$work/$target.log"
    kt_fail "$target found a crash"
  fi
done
kt_done
