#!/usr/bin/env bash
# Installs, from Debian's packages, everything hoplite needs to build, run and test.
# Safe to run again: it installs only what is missing, and runs apt-get update only then.
# Usage: scripts/install-deps.sh [extra-package ...]
set -euo pipefail

packages=(
  build-essential cmake pkg-config          # toolchain
  libuv1-dev nlohmann-json3-dev libssl-dev  # libraries hoplite links
  libsystemd-dev                            # sd_notify, for systemd's Type=notify
  node-llhttp                               # llhttp 8.1.0 C sources, compiled by CMake
  catch2                                    # unit tests (Catch2 v2)
  clang-format                              # the suite checks formatting
  curl python3 python3-websockets           # end-to-end tests and the demo's clients
  iproute2                                  # ss: the e2e tests read listening sockets' backlogs
  python3-jsonschema                        # checks conf/hoplite.schema.json against the configs
  goaccess                                  # e2e: reads the access log's elb lines
  prometheus                                # e2e: promtool checks /metrics
  systemd                                   # systemd-analyze verifies dist/hoplite.service
  dpkg-dev file lintian man-db              # the .deb: cpack's dpkg-shlibdeps, lintian, man
  clang                                     # libFuzzer: the fuzz targets (test/fuzz/)
  "$@"
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
