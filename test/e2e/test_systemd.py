"""sd_notify: with NOTIFY_SOCKET in its environment (as systemd sets it for Type=notify), hoplite
sends READY=1 once it serves and STOPPING=1 when a shutdown begins, each with a STATUS= line, from
the process systemd started only: with workers, the supervisor speaks and the workers never do.

The test plays the service manager: an AF_UNIX datagram socket of its own in the test's temporary
directory, with SO_PASSCRED, so that the kernel tells it which process sent each datagram, as it
tells systemd (which, with NotifyAccess=main, drops messages from any other process).
"""

import json
import re
import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
import unittest

import harness
from harness import build_request

UCRED = struct.Struct("iII")  # struct ucred: pid, uid, gid
LIVE = re.compile(r"^serving on \S+( with \d+ workers)?; (\d+) connections, (\d+) tunnels open$")
UNIT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "dist",
                    "hoplite.service")
MAN_PAGE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "dist",
                        "hoplite.8")


class Notify(harness.E2ETestCase):
    def setUp(self):
        super().setUp()
        self.notify_path = os.path.join(self.tmp, "notify.sock")
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(self.notify.close)
        self.notify.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.notify.bind(self.notify_path)

    def start(self, workers=None, timeouts=None):
        """hoplite with NOTIFY_SOCKET pointing at the test's socket; returns (process, port)."""
        backend = self.demo_backend()
        config = harness.make_config([backend.address], workers=workers, timeouts=timeouts,
                                     log={"access": "off"})
        path = os.path.join(self.tmp, "hoplite.json")
        with open(path, "w") as f:
            json.dump(config, f)
        proc = harness.Process("hoplite", [harness.HOPLITE_BIN, "-c", path], cwd=self.tmp,
                               env={"NOTIFY_SOCKET": self.notify_path})
        self.addCleanup(proc.stop)
        port = int(proc.wait_for_line(r"^hoplite: listening on 127\.0\.0\.1:(\d+)$").group(1))
        return proc, port

    def _read(self):
        """One queued datagram as ({field: value}, sender pid), by the socket's current timeout."""
        data, ancillary, _, _ = self.notify.recvmsg(4096, socket.CMSG_SPACE(UCRED.size))
        pid = None
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = UCRED.unpack(payload[:UCRED.size])[0]
        self.assertIsNotNone(pid, "no sender credentials on the datagram")
        fields = {}
        for line in data.decode().split("\n"):
            if line:
                key, sep, value = line.partition("=")
                self.assertTrue(sep, f"not an assignment: {line!r} in {data!r}")
                fields[key] = value
        return fields, pid

    @staticmethod
    def live(fields):
        """Whether a datagram is the once-a-second STATUS= update of what is open."""
        return list(fields) == ["STATUS"] and LIVE.match(fields["STATUS"]) is not None

    def receive(self, timeout=harness.IO_TIMEOUT, live=False):
        """The next datagram as ({field: value}, sender pid), skipping the live status updates
        unless `live`; fails after `timeout`."""
        end = time.monotonic() + timeout
        while True:
            self.notify.settimeout(max(0.01, end - time.monotonic()))
            try:
                fields, pid = self._read()
            except socket.timeout:
                raise AssertionError(f"no notification within {timeout}s") from None
            if live or not self.live(fields):
                return fields, pid

    def pending(self):
        """Every datagram already queued, without waiting, but the live status updates."""
        out = []
        self.notify.setblocking(False)
        try:
            while True:
                fields, pid = self._read()
                if not self.live(fields):
                    out.append((fields, pid))
        except BlockingIOError:
            return out

    def check_ready_then_stopping(self, workers):
        proc, port = self.start(workers=workers)
        ready, sender = self.receive()
        # The first message, from the process started (the supervisor with workers), and it
        # names the port the kernel chose: so it was sent after the listener was bound.
        self.assertEqual(sender, proc.pid)
        self.assertEqual(ready.get("READY"), "1", ready)
        expected = f"serving on 127.0.0.1:{port}"
        if workers:
            expected += f" with {workers} workers"
        self.assertEqual(ready.get("STATUS"), expected)
        proc.wait_for_line(r"^hoplite: ready$")
        # Ready means ready: a request is served at once.
        client = self.connect(port)
        client.send(build_request("GET", "/", [("Host", "app.test")]))
        self.assertEqual(client.read_response().status, 200)
        client.close()

        proc.send_signal(signal.SIGTERM)
        stopping, sender = self.receive()
        self.assertEqual(sender, proc.pid)
        self.assertEqual(stopping, {"STOPPING": "1", "STATUS": "draining"})
        self.assertEqual(proc.wait(harness.STOP_TIMEOUT), 0, proc.stderr.text())
        # Nothing else came: no second READY=1, and nothing from a worker.
        self.assertEqual(self.pending(), [])

    def test_ready_and_stopping_from_a_single_process(self):
        self.check_ready_then_stopping(workers=None)

    def test_with_workers_only_the_supervisor_notifies(self):
        self.check_ready_then_stopping(workers=2)

    def test_a_reload_is_reloading_then_ready_with_the_monotonic_clock(self):
        proc, port = self.start()
        ready, _ = self.receive()
        self.assertEqual(ready.get("READY"), "1", ready)
        before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        proc.send_signal(signal.SIGHUP)
        reloading, sender = self.receive()
        after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        self.assertEqual(sender, proc.pid)
        self.assertEqual(reloading.get("RELOADING"), "1", reloading)
        # systemd 253 and later want the time the reload began, on CLOCK_MONOTONIC.
        self.assertTrue(before <= int(reloading["MONOTONIC_USEC"]) <= after, reloading)
        self.assertRegex(reloading["STATUS"], r"^reloading .*hoplite\.json$")
        done, sender = self.receive()
        self.assertEqual((done, sender),
                         ({"READY": "1", "STATUS": f"serving on 127.0.0.1:{port}"}, proc.pid))
        proc.wait_for_line(r"^hoplite: reload: .*: generation 2 serving$")
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.receive()[0].get("STOPPING"), "1")
        self.assertEqual(proc.wait(harness.STOP_TIMEOUT), 0, proc.stderr.text())

    def check_live_status(self, workers):
        proc, port = self.start(workers=workers)
        self.receive()  # READY=1
        proc.wait_for_line(r"^hoplite: ready$")
        client = self.connect(port)
        client.send(build_request("GET", "/", [("Host", "app.test")]))
        self.assertEqual(client.read_response().status, 200)
        # Within a few periods, an update saying one connection is open and no tunnel.
        end = time.monotonic() + 5
        while True:
            fields, sender = self.receive(timeout=max(0.1, end - time.monotonic()), live=True)
            if self.live(fields) and LIVE.match(fields["STATUS"]).group(2, 3) == ("1", "0"):
                break
        self.assertEqual(sender, proc.pid)
        prefix = f"serving on 127.0.0.1:{port}" + (f" with {workers} workers" if workers else "")
        self.assertTrue(fields["STATUS"].startswith(prefix + "; "), fields)
        client.close()
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.receive()[0].get("STOPPING"), "1")
        self.assertEqual(proc.wait(harness.STOP_TIMEOUT), 0, proc.stderr.text())

    def test_status_says_what_is_open_once_a_second(self):
        self.check_live_status(workers=None)

    def test_with_workers_the_supervisor_says_what_is_open_in_all(self):
        self.check_live_status(workers=2)

    def test_stopping_with_a_shutdown_delay_says_so_then_draining(self):
        proc, _ = self.start(timeouts={"shutdown_delay": "500ms"})
        ready, _ = self.receive()
        self.assertEqual(ready.get("READY"), "1", ready)
        proc.send_signal(signal.SIGTERM)
        stopping, sender = self.receive()
        self.assertEqual(sender, proc.pid)
        self.assertEqual(stopping, {
            "STOPPING": "1",
            "STATUS": "still serving for 500ms (timeouts.shutdown_delay), then draining"})
        # Once the delay is over, the status line follows.
        draining, sender = self.receive()
        self.assertEqual((draining, sender), ({"STATUS": "draining"}, proc.pid))
        self.assertEqual(proc.wait(harness.STOP_TIMEOUT), 0, proc.stderr.text())
        self.assertEqual(self.pending(), [])


class Unit(harness.E2ETestCase):
    """dist/hoplite.service as systemd reads it: `systemd-analyze verify` finds nothing to say
    (it also checks that each command is executable, so /usr/bin/hoplite becomes the built one)."""

    def verify(self, text):
        """What systemd-analyze verify printed for a unit file with `text`, and its exit code."""
        path = os.path.join(self.tmp, "hoplite.service")
        with open(path, "w") as f:
            f.write(text.replace("/usr/bin/hoplite", os.path.abspath(harness.HOPLITE_BIN)))
        # verify runs `man hoplite(8)` for the unit's Documentation=: point man at the page in
        # dist/, which is what the package installs.
        man_root = tempfile.mkdtemp(prefix="hoplite-man-")
        self.addCleanup(shutil.rmtree, man_root)
        os.makedirs(os.path.join(man_root, "man8"))
        shutil.copy(MAN_PAGE, os.path.join(man_root, "man8"))
        env = dict(os.environ, MANPATH=man_root)
        done = subprocess.run(["systemd-analyze", "verify", path], capture_output=True,
                              text=True, timeout=30, env=env)
        return done.returncode, (done.stdout + done.stderr).strip()

    def setUp(self):
        super().setUp()
        if shutil.which("systemd-analyze") is None:
            self.fail("systemd-analyze is missing: scripts/install-deps.sh installs systemd")
        with open(UNIT) as f:
            self.unit = f.read()

    def test_systemd_analyze_verify_finds_nothing(self):
        self.assertEqual(self.verify(self.unit), (0, ""))

    def test_verify_would_catch_a_misspelt_key(self):
        # Proof that the test above can fail: verify warns (and exits 0) on an unknown key.
        code, said = self.verify(self.unit.replace("KillSignal=", "KilSignal="))
        self.assertIn("Unknown key", said)

    def test_the_settings_the_service_relies_on(self):
        settings = {}
        for line in self.unit.splitlines():
            if line and not line.startswith(("#", "[")):
                key, _, value = line.partition("=")
                settings[key] = value
        self.assertEqual(settings["Type"], "notify")
        self.assertEqual(settings["ExecStartPre"],
                         "/usr/bin/hoplite --check -c /etc/hoplite/hoplite.json")
        self.assertEqual(settings["KillSignal"], "SIGTERM")
        self.assertEqual(settings["ExecReload"], "/bin/kill -HUP $MAINPID")
        self.assertEqual(settings["LimitNOFILE"], "1048576")
        self.assertEqual(settings["AmbientCapabilities"], "CAP_NET_BIND_SERVICE")
        self.assertEqual(settings["NoNewPrivileges"], "yes")
        self.assertEqual(settings["ProtectSystem"], "strict")
        # Above the default shutdown_drain (30s), so that a drain ends before systemd's SIGKILL.
        self.assertRegex(settings["TimeoutStopSec"], r"^\d+s$")
        self.assertGreater(int(settings["TimeoutStopSec"][:-1]), 30)


if __name__ == "__main__":
    unittest.main()
