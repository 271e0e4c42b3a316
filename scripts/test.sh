#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what is missing, builds hoplite twice
# (Release in build/, ASan+UBSan in build-asan/), and runs every unit and end-to-end test in both.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh

jobs=$(nproc)
echo "== Release build (build/)"
bash scripts/build.sh build
echo "== Release tests"
(cd build && ctest --output-on-failure -j "$jobs" --timeout 300)

echo "== ASan + UBSan build (build-asan/)"
bash scripts/build.sh build-asan -DHOPLITE_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
echo "== ASan + UBSan tests"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd build-asan && ctest --output-on-failure -j "$jobs" --timeout 300)
