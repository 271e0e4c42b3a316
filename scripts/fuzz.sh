#!/usr/bin/env bash
# Builds the libFuzzer targets with Debian's clang in build-fuzz/ and runs one of them, from a
# scratch copy of its committed corpus, for SECONDS (default 1800: the 30 minutes a target runs
# before a change to it lands). New inputs it finds are kept in build-fuzz/corpus-TARGET/; a
# crash leaves its input in build-fuzz/ (crash-*), to be added to the corpus with its fix.
# Usage: scripts/fuzz.sh [TARGET] [SECONDS]     (TARGET: request_parser)
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:-request_parser}
seconds=${2:-1800}

bash scripts/install-deps.sh
HOPLITE_BUILD_TARGETS="fuzz_${target}" bash scripts/build.sh build-fuzz -DHOPLITE_FUZZ=ON \
  -DHOPLITE_TESTS=OFF -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo
corpus="build-fuzz/corpus-${target}"
mkdir -p "$corpus"
cp -n "test/fuzz/corpus/${target}/"* "$corpus/"
cd build-fuzz
exec "./test/fuzz/fuzz_${target}" -max_total_time="$seconds" -timeout=10 \
  -dict=../test/fuzz/http.dict -print_final_stats=1 "corpus-${target}"
