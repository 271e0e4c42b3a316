#!/usr/bin/env bash
# The one command of hoplite's benchmarks (see bench/README.md):
#
#   bench/run.sh            full run (< 15 min on 2 cores), results into bench/results/
#   bench/run.sh --quick    quick run (< 2 min) for development, results into build-bench/bench-quick/
#
# Other options are passed to bench/harness.py (e.g. --note "text", --scenarios http,ws).
# It installs wrk, nginx, HAProxy and gnuplot from Debian's packages if they are missing, builds
# hoplite, demo_backend and ws_load in Release, runs every scenario against the backend directly,
# hoplite, nginx and HAProxy, and writes <date>-<commit>.md, .json and .png.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
mode=full
passthrough=()
out_dir=""
for arg in "$@"; do
  case "$arg" in
    --quick) mode=quick ;;
    --full) mode=full ;;
    --out-dir=*) out_dir="${arg#--out-dir=}" ;;
    *) passthrough+=("$arg") ;;
  esac
done
build_dir="$repo/build-bench"
if [ -z "$out_dir" ]; then
  if [ "$mode" = full ]; then out_dir="$repo/bench/results"; else out_dir="$build_dir/bench-quick"; fi
fi
started=$(date +%s)
say() { echo "[bench.sh $(date +%H:%M:%S)] $*" >&2; }

# --- 1. Tools from Debian's packages -------------------------------------------------------
need=()
command -v wrk >/dev/null || need+=(wrk)
command -v nginx >/dev/null || need+=(nginx-light)
command -v haproxy >/dev/null || need+=(haproxy)
command -v gnuplot >/dev/null || need+=(gnuplot-nox)
if [ ${#need[@]} -gt 0 ]; then
  say "installing ${need[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  # Packaged nginx and HAProxy start a system service on install (nginx on port 80). Forbid that
  # for the duration of the install with a policy-rc.d that answers "not now", unless one exists.
  made_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
    made_policy=1
  fi
  cleanup_policy() { [ "$made_policy" = 1 ] && $SUDO rm -f /usr/sbin/policy-rc.d; made_policy=0; }
  trap cleanup_policy EXIT
  $SUDO apt-get update -qq
  if ! $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null; then
    # Some releases only ship the full nginx package.
    $SUDO apt-get install -y -qq --no-install-recommends "${need[@]/nginx-light/nginx}" >/dev/null
  fi
  cleanup_policy
  trap - EXIT
  # If a service manager started the packaged daemons anyway, stop exactly those, by the PIDs in
  # the pid files their packages use: they were started by this install, and they hold port 80.
  for pidfile in /run/nginx.pid /run/haproxy.pid; do
    if [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      say "stopping the service this install started ($pidfile, pid $(cat "$pidfile"))"
      $SUDO kill -TERM "$(cat "$pidfile")" || true
    fi
  done
fi
if [ -x scripts/install-deps.sh ]; then scripts/install-deps.sh; fi

# --- 2. Build in Release --------------------------------------------------------------------
say "building hoplite, demo_backend and ws_load in Release ($build_dir)"
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DHOPLITE_TESTS=OFF >/dev/null
cmake --build "$build_dir" -j "$(nproc)" --target hoplite demo_backend ws_load >/dev/null
# Scenario 14 compares with a hoplite that records no metrics (HOPLITE_WITHOUT_METRICS).
say "building hoplite without metrics (${build_dir}-nometrics), for scenario 14"
cmake -S . -B "${build_dir}-nometrics" -DCMAKE_BUILD_TYPE=Release -DHOPLITE_TESTS=OFF \
  -DHOPLITE_WITHOUT_METRICS=ON >/dev/null
cmake --build "${build_dir}-nometrics" -j "$(nproc)" --target hoplite >/dev/null

# --- 3. Open-file limit ---------------------------------------------------------------------
# 10,000 idle tunnels need 20,000+ sockets in a proxy, 50,000 need 100,000+. Raise the soft
# limit as far as the hard limit allows (root with CAP_SYS_RESOURCE may raise the hard one).
ulimit -Hn 120000 2>/dev/null || true
ulimit -Sn "$(ulimit -Hn)" 2>/dev/null || true
say "open-file limit for this run: $(ulimit -n)"

# --- 4. Run and report ----------------------------------------------------------------------
raw="$build_dir/bench-run/raw-$mode.json"
mkdir -p "$build_dir/bench-run"
/usr/bin/python3 bench/harness.py --mode "$mode" --build-dir "$build_dir" \
  --nometrics-bin "${build_dir}-nometrics/hoplite" --out "$raw" \
  ${passthrough[@]+"${passthrough[@]}"} >/dev/null
report=$(/usr/bin/python3 bench/report.py "$raw" "$out_dir")
say "done in $(( $(date +%s) - started )) s: $report (and .json, .png beside it)"
