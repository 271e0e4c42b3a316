#!/usr/bin/env bash
# Configures and builds hoplite. Usage: scripts/build.sh BUILD_DIR [cmake options...]
# Builds in Release with warnings as errors unless options say otherwise. HOPLITE_BUILD_TARGETS
# (space-separated) limits the build to those targets; by default everything, tests included.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=$1
shift
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DHOPLITE_WERROR=ON "$@" >/dev/null
targets=()
for target in ${HOPLITE_BUILD_TARGETS:-}; do
  targets+=(--target "$target")
done
cmake --build "$build_dir" -j "$(nproc)" "${targets[@]}"
