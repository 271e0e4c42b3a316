#!/usr/bin/env bash
# Builds the Debian package: installs what is missing, configures a Release build in build-pkg/
# (without the tests), and runs cpack there. Prints the .deb's path last.
# Install it with: apt-get install ./build-pkg/hoplite_<version>_<arch>.deb
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
bash scripts/build.sh build-pkg -DHOPLITE_TESTS=OFF
(cd build-pkg && cpack >/dev/null)
ls build-pkg/hoplite_*.deb | tail -n 1
