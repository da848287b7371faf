#!/bin/bash
# Builds the libFuzzer targets (tests/fuzz) with clang in a private build dir.
# Each target first replays its kept crash inputs (tests/fuzz/regressions/
# <target>/) and its seed corpus once, then fuzzes for FUZZ_SECONDS (default
# 12 s; six targets: about 75 s in all) on a scratch copy of the corpus. Any
# crash, ASan/UBSan report or timeout fails the test, and the input that
# caused it is printed (base64) to be kept as a regression input.
# clang and its libFuzzer runtime are test dependencies (scripts/setup.sh):
# without them the test fails.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

targets=(parser_fuzz expand_fuzz dockerignore_fuzz image_json_fuzz layer_fuzz registry_header_fuzz)
seconds=${FUZZ_SECONDS:-12}
build=${KILN_FUZZ_BUILD_DIR:-${KILN_TEST_BIN_DIR:-$KT_SRC/build}/fuzz-smoke}
work=$(mktemp -d)
kt_on_exit "rm -rf '$work'"

if ! command -v clang++ >/dev/null 2>&1; then
  kt_fail "clang++ not installed (scripts/setup.sh --test installs it)"; kt_done; exit 1
fi
if ! echo 'extern "C" int LLVMFuzzerTestOneInput(const char*, unsigned long) { return 0; }' |
    clang++ -x c++ -fsanitize=fuzzer - -o "$work/probe" 2>"$work/probe.log"; then
  cat "$work/probe.log"
  kt_fail "clang has no libFuzzer runtime (libclang-rt-14-dev)"; kt_done; exit 1
fi

launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S "$KT_SRC" -B "$build" -DKILN_FUZZ=ON -DKILN_TESTS=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ "${launcher[@]}" >"$work/configure.log" 2>&1 ||
  { cat "$work/configure.log"; kt_fail "configure fuzz build"; kt_done; exit 1; }
if ! nice cmake --build "$build" --target fuzzers -j2 >"$work/build.log" 2>&1; then
  tail -n 40 "$work/build.log"; kt_fail "build the fuzz targets"; kt_done; exit 1
fi
kt_ok "built ${#targets[@]} fuzz targets"

# Prints the input a failed run left (crash-*, timeout-*, oom-*, leak-*).
show_artifacts() {  # prefix
  local f
  for f in "$1"*; do
    [ -f "$f" ] || continue
    echo "    input $(basename "$f") (keep it as tests/fuzz/regressions/$target/<name>):"
    base64 -w 76 "$f" | sed 's/^/      /'
  done
}

for target in "${targets[@]}"; do
  bin=$build/tests/fuzz/$target
  name=${target%_fuzz}
  seeds=$KT_SRC/tests/fuzz/corpus/$name
  regressions=$KT_SRC/tests/fuzz/regressions/$target
  mkdir -p "$work/$target"
  if [ ! -x "$bin" ] || [ -z "$(ls -A "$seeds" 2>/dev/null)" ]; then
    kt_fail "$target: binary or seed corpus ($seeds) missing"; continue
  fi
  # Replay: every kept crash input and every seed, once each.
  replay=("$seeds"/*)
  [ -d "$regressions" ] && replay+=($(find "$regressions" -type f ! -name '*.md'))
  if "$bin" -runs=1 -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$work/$target-replay-" \
      "${replay[@]}" >"$work/$target.replay.log" 2>&1; then
    kt_ok "$target: ${#replay[@]} seeds and kept crash inputs replay cleanly"
  else
    tail -n 60 "$work/$target.replay.log"; show_artifacts "$work/$target-replay-"
    kt_fail "$target: a seed or kept crash input fails"
    continue
  fi
  # New inputs go to the scratch dir; the checked-in seeds stay untouched.
  if "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$work/$target-" "$work/$target" "$seeds" >"$work/$target.log" 2>&1; then
    kt_ok "$target fuzzed ${seconds}s: $(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$work/$target.log")"
  else
    tail -n 60 "$work/$target.log"; show_artifacts "$work/$target-"
    kt_fail "$target found a crash"
  fi
done
kt_done
