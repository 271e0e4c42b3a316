#!/usr/bin/env bash
# The newcomer's command: installs what is missing, builds hoplite in Release, and runs it on
# conf/hoplite.json (127.0.0.1:8080) in front of the demo backend (127.0.0.1:3001), which answers
# HTTP with the request it received as JSON and echoes WebSocket messages. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
HOPLITE_BUILD_TARGETS="hoplite demo_backend" bash scripts/build.sh build

backend_pid=
hoplite_pid=
stop() {
  # Stop only what this script started, by PID.
  [ -n "$hoplite_pid" ] && kill -TERM "$hoplite_pid" 2>/dev/null && wait "$hoplite_pid" 2>/dev/null
  [ -n "$backend_pid" ] && kill -TERM "$backend_pid" 2>/dev/null && wait "$backend_pid" 2>/dev/null
  exit 0
}
trap stop INT TERM

./build/demo_backend --listen 127.0.0.1:3001 &
backend_pid=$!
./build/hoplite -c conf/hoplite.json &  # its access log: one JSON line per request, here
hoplite_pid=$!

cat <<'TXT'

hoplite listens on http://127.0.0.1:8080 in front of the demo backend. In another terminal:

  curl -s http://127.0.0.1:8080/hello          # the backend shows the X-Forwarded-* it received
  /usr/bin/python3 -m websockets ws://127.0.0.1:8080/chat   # type a line, get it echoed

Ctrl-C stops hoplite and the demo backend.
TXT
wait "$hoplite_pid"
