#!/usr/bin/env bash
# Configures and builds hoplite. Usage: scripts/build.sh BUILD_DIR [cmake options...]
# Builds in Release with warnings as errors unless options say otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=$1
shift
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DHOPLITE_WERROR=ON "$@" >/dev/null
cmake --build "$build_dir" -j "$(nproc)"
