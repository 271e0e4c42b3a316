"""SIGHUP: hoplite re-reads its config file and applies it inside the running process. Requests
whose head completes afterwards use the new config; a WebSocket opened before keeps echoing and a
response in flight completes from the backend it started on. A broken config changes nothing.
Listeners the new config keeps keep their sockets; added ones are bound, removed ones closed.
"""

import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
import unittest
import urllib.request

import harness
from harness import build_request, build_response, transform
from test_tunnel import upgrade_request

ADMIN = {"listen": "127.0.0.1:0"}


def answer_as(name, released=None, arrived=None):
    """A fake backend's handler: each request is answered with a body naming the backend and the
    target. An upgrade request becomes a tunnel that sends back transform() of what it gets; a
    request for /slow sets `arrived`, then waits for `released`."""

    def handler(peer, index):
        while True:
            try:
                request = peer.read_request()
            except (AssertionError, OSError, EOFError):
                return  # the connection ended between requests
            if request.header("Upgrade"):
                accept_upgrade_from(peer, request)
                pending = bytes(peer.buf)
                peer.buf.clear()
                while True:
                    data = pending or peer.sock.recv(65536)
                    pending = b""
                    if not data:
                        return
                    peer.send(transform(data))
            if request.target == "/slow":
                arrived.set()
                assert released.wait(harness.IO_TIMEOUT), "the slow response was never released"
            body = f"{name} {request.target}".encode()
            peer.send(build_response(200, "OK", [("Content-Length", str(len(body)))], body))

    return handler


def accept_upgrade_from(peer, request):
    peer.send(build_response(101, "Switching Protocols", [
        ("Upgrade", "websocket"), ("Connection", "Upgrade"),
        ("Sec-WebSocket-Accept", harness.ws_accept(request.header("Sec-WebSocket-Key")))]))


class ReloadTestCase(harness.E2ETestCase):
    def rewrite(self, proxy, config):
        with open(proxy.config_path, "w") as f:
            json.dump(config, f, indent=2)
        proxy.config = config

    def reload(self, proxy, config, generation):
        """Writes `config`, sends SIGHUP and waits until hoplite says it serves `generation`."""
        self.rewrite(proxy, config)
        proxy.send_signal(signal.SIGHUP)
        proxy.wait_for_line(rf"^hoplite: reload: .*: generation {generation} serving"
                            r"( in \d+ workers)?$", harness.IO_TIMEOUT)

    def get(self, peer, target):
        peer.send(build_request("GET", target, [("Host", "app.test")]))
        response = peer.read_response()
        self.assertEqual(response.status, 200, response)
        return response.body.decode()

    def metrics(self, proxy):
        with urllib.request.urlopen(proxy.admin_url("/metrics"), timeout=harness.IO_TIMEOUT) as r:
            return r.read().decode()

    def status(self, proxy):
        with urllib.request.urlopen(proxy.admin_url("/status"), timeout=harness.IO_TIMEOUT) as r:
            return json.loads(r.read())


def two_upstreams(a, b, route_to):
    return {"a": {"servers": [a.address]}, "b": {"servers": [b.address]}}, \
        [{"upstream": route_to}]


class Routes(ReloadTestCase):
    def test_the_next_request_goes_to_the_new_upstream_while_open_ones_finish_on_the_old(self):
        released, arrived = threading.Event(), threading.Event()
        a = self.fake_backend(answer_as("a", released, arrived))
        b = self.fake_backend(answer_as("b"))
        upstreams, routes = two_upstreams(a, b, "a")
        proxy = self.hoplite([], upstreams=upstreams, routes=routes, admin=ADMIN)
        config = dict(proxy.config)

        kept = self.connect(proxy.port)
        self.assertEqual(self.get(kept, "/first"), "a /first")
        tunnel = self.connect(proxy.port)
        _, request = upgrade_request()
        tunnel.send(request)
        self.assertEqual(tunnel.read_response().status, 101)
        tunnel.send(b"before the reload")
        self.assertEqual(tunnel.read_exact(17), transform(b"before the reload"))
        slow = self.connect(proxy.port)
        slow.send(build_request("GET", "/slow", [("Host", "app.test")]))
        self.assertTrue(arrived.wait(harness.IO_TIMEOUT), "the slow request never reached a")

        config["routes"] = [{"upstream": "b"}]
        self.reload(proxy, config, 2)

        # A new connection, and the next request on one kept alive from before: the new route.
        fresh = self.connect(proxy.port)
        self.assertEqual(self.get(fresh, "/after"), "b /after")
        self.assertEqual(self.get(kept, "/second"), "b /second")
        # The tunnel is untouched and still reaches a.
        tunnel.send(b"after the reload")
        self.assertEqual(tunnel.read_exact(16), transform(b"after the reload"))
        # The response in flight completes from a.
        released.set()
        response = slow.read_response()
        self.assertEqual((response.status, response.body), (200, b"a /slow"))
        # Its connection's next request is served with the new config.
        self.assertEqual(self.get(slow, "/next"), "b /next")

        status = self.status(proxy)
        self.assertEqual(status["config_generation"], 2)
        self.assertEqual(status["tunnels_open"], 1)
        metrics = self.metrics(proxy)
        self.assertIn('hoplite_config_reloads_total{result="ok"} 1\n', metrics)
        self.assertIn("hoplite_config_generation 2\n", metrics)
        # The route's label ("0") is the same: its count goes on across the reload.
        self.assertIn('hoplite_requests_total{route="0",code="2xx"} 5\n', metrics)
        pid = proxy.pid
        tunnel.close()
        counters = self.stop_hoplite(proxy)
        self.assertEqual(proxy.pid, pid)
        self.assertCounters(counters, requests=6, tunnels_opened=1, errors_5xx=0)

    def test_a_broken_config_leaves_everything_as_it_was(self):
        a = self.fake_backend(answer_as("a"))
        b = self.fake_backend(answer_as("b"))
        upstreams, routes = two_upstreams(a, b, "a")
        proxy = self.hoplite([], upstreams=upstreams, routes=routes, admin=ADMIN)
        broken = dict(proxy.config)
        broken["routes"] = [{"upstream": "b"}]
        broken["timeouts"] = {"client_idle": "10 parsecs", "shutdown_drain": "3s"}
        broken["limits"] = {"max_header_bytes": -1}
        self.rewrite(proxy, broken)
        proxy.send_signal(signal.SIGHUP)
        proxy.wait_for_line(r"^hoplite: reload: failed; generation 1 goes on serving, unchanged$",
                            harness.IO_TIMEOUT)
        text = proxy.stderr.text()
        # Every error, with its JSON path, as --check prints them.
        self.assertRegex(text, r"hoplite: reload: .*hoplite\.json: /timeouts/client_idle: ")
        self.assertRegex(text, r"hoplite: reload: .*hoplite\.json: /limits/max_header_bytes: ")
        peer = self.connect(proxy.port)
        self.assertEqual(self.get(peer, "/still"), "a /still")
        metrics = self.metrics(proxy)
        self.assertIn('hoplite_config_reloads_total{result="failed"} 1\n', metrics)
        self.assertIn('hoplite_config_reloads_total{result="ok"} 0\n', metrics)
        self.assertIn("hoplite_config_generation 1\n", metrics)
        # A file that cannot be read fails the same way.
        os.unlink(proxy.config_path)
        proxy.send_signal(signal.SIGHUP)
        harness.wait_until(lambda: 'result="failed"} 2\n' in self.metrics(proxy),
                           what="the second failed reload to be counted")
        self.assertEqual(self.get(peer, "/again"), "a /again")
        self.stop_hoplite(proxy)

    def test_a_change_that_needs_a_restart_is_refused_with_its_key(self):
        a = self.fake_backend(answer_as("a"))
        proxy = self.hoplite([a])
        changed = dict(proxy.config)
        changed["workers"] = 2
        self.rewrite(proxy, changed)
        proxy.send_signal(signal.SIGHUP)
        proxy.wait_for_line(r"^hoplite: reload: .*: /workers: hoplite runs as one process; "
                            r"starting workers needs a restart$", harness.IO_TIMEOUT)
        proxy.wait_for_line(r"^hoplite: reload: failed; generation 1", harness.IO_TIMEOUT)
        self.assertEqual(self.get(self.connect(proxy.port), "/x"), "a /x")
        self.stop_hoplite(proxy)


class Listeners(ReloadTestCase):
    def test_a_listener_added_and_one_removed(self):
        a = self.fake_backend(answer_as("a"))
        proxy = self.hoplite([a])
        first = proxy.port
        idle = self.connect(first)
        self.assertEqual(self.get(idle, "/one"), "a /one")

        # Added: 127.0.0.2 (loopback too) on a port the kernel picks.
        config = dict(proxy.config)
        config["listen"] = ["127.0.0.1:0", "127.0.0.2:0"]
        self.reload(proxy, config, 2)
        added = int(proxy.wait_for_line(r"^hoplite: listening on 127\.0\.0\.2:(\d+)$").group(1))
        peer = harness.Peer(socket.create_connection(("127.0.0.2", added), harness.IO_TIMEOUT))
        self.addCleanup(peer.close)
        self.assertEqual(self.get(peer, "/two"), "a /two")
        # The kept listener is the same socket: its port did not change, and it still serves.
        self.assertEqual(self.get(self.connect(first), "/kept"), "a /kept")

        # Removed: the first one. It refuses from now on; its idle connection is closed.
        config["listen"] = ["127.0.0.2:0"]
        self.reload(proxy, config, 3)
        harness.wait_until(lambda: harness.listener_refuses(first), timeout=5,
                           what="the removed listener to close")
        self.assertEqual(idle.closed_by_peer(timeout=3), b"")
        self.assertEqual(self.get(peer, "/three"), "a /three")
        self.stop_hoplite(proxy)

    def test_a_listener_that_cannot_be_bound_fails_the_whole_reload(self):
        a = self.fake_backend(answer_as("a"))
        b = self.fake_backend(answer_as("b"))
        upstreams, routes = two_upstreams(a, b, "a")
        proxy = self.hoplite([], upstreams=upstreams, routes=routes)
        taken = socket.socket()
        self.addCleanup(taken.close)
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        config = dict(proxy.config)
        config["listen"] = ["127.0.0.1:0", f"127.0.0.1:{taken.getsockname()[1]}"]
        config["routes"] = [{"upstream": "b"}]
        self.rewrite(proxy, config)
        proxy.send_signal(signal.SIGHUP)
        proxy.wait_for_line(r"^hoplite: reload: failed; generation 1", harness.IO_TIMEOUT)
        self.assertIn("cannot listen on 127.0.0.1:", proxy.stderr.text())
        self.assertEqual(self.get(self.connect(proxy.port), "/x"), "a /x")  # the route too
        self.stop_hoplite(proxy)


class UnderLoad(ReloadTestCase):
    def test_twenty_reloads_under_a_request_loop_fail_no_request(self):
        self.check_twenty_reloads(workers=None)

    def check_twenty_reloads(self, workers):
        backend = self.demo_backend()
        proxy = self.hoplite([backend], workers=workers)
        pid_set = children(proxy.pid)
        config = dict(proxy.config)
        stop = threading.Event()
        results = {"ok": 0, "failed": []}

        def loop():
            # Alternately a kept-alive connection and a new one per request, until told to stop
            # (bounded: at most 60 s).
            end = time.monotonic() + 60
            kept = None
            while not stop.is_set() and time.monotonic() < end:
                try:
                    if kept is None or results["ok"] % 2:
                        if kept is not None:
                            kept.close()
                        kept = harness.connect(proxy.port)
                    kept.send(build_request("GET", "/", [("Host", "app.test")]))
                    response = kept.read_response()
                    if response.status != 200:
                        results["failed"].append(response.status)
                    results["ok"] += 1
                except (OSError, AssertionError) as error:
                    results["failed"].append(repr(error))
                    kept = None
            if kept is not None:
                kept.close()

        worker = threading.Thread(target=loop, daemon=True)
        worker.start()
        harness.wait_until(lambda: results["ok"] > 20, what="the load loop to run")
        for generation in range(2, 22):
            config["timeouts"] = {"shutdown_drain": "3s",
                                  "client_idle": f"{30 + generation}s"}
            self.reload(proxy, config, generation)
            # Requests between every two reloads, however fast this machine is.
            served = results["ok"]
            harness.wait_until(lambda: results["ok"] > served + 2,
                               what=f"requests after reload {generation - 1}")
        before = results["ok"]
        harness.wait_until(lambda: results["ok"] > before + 20, what="requests after the reloads")
        stop.set()
        worker.join(harness.IO_TIMEOUT)
        self.assertEqual(results["failed"], [])
        self.assertEqual(children(proxy.pid), pid_set, "a process was added or lost")
        counters = self.stop_hoplite(proxy)
        self.assertCounters(counters, errors_5xx=0, rejected_4xx=0)


def children(pid):
    """The pids whose parent is `pid`."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry))
    return sorted(found)


def listening_pids(host, port):
    """The pids with a socket listening on host:port (ss -ltnp)."""
    done = subprocess.run(["ss", "-Hltnp", f"src {host}:{port}"], capture_output=True, text=True,
                          timeout=10, check=True)
    return [int(pid) for pid in re.findall(r"pid=(\d+)", done.stdout)]


def generations_of(status):
    """/status's worker_generations without the load times (RFC 3339, checked apart)."""
    return [{k: v for k, v in w.items() if k != "config_loaded"}
            for w in status["worker_generations"]]


def metric_value(text, name):
    """The sum of every sample of metric `name` in a Prometheus exposition."""
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(name + " ") or line.startswith(name + "{"))


class Workers(ReloadTestCase):
    def test_every_worker_moves_to_the_new_route_and_no_process_is_added(self):
        a = self.fake_backend(answer_as("a"))
        b = self.fake_backend(answer_as("b"))
        upstreams, routes = two_upstreams(a, b, "a")
        proxy = self.hoplite([], upstreams=upstreams, routes=routes, workers=2, admin=ADMIN)
        workers = children(proxy.pid)
        self.assertEqual(len(workers), 2)
        tunnel = self.connect(proxy.port)
        tunnel.send(upgrade_request()[1])
        self.assertEqual(tunnel.read_response().status, 101)
        kept = [self.connect(proxy.port) for _ in range(8)]  # spread over both workers
        for peer in kept:
            self.assertEqual(self.get(peer, "/before"), "a /before")

        config = dict(proxy.config)
        config["routes"] = [{"upstream": "b"}]
        self.reload(proxy, config, 2)
        for peer in kept:
            self.assertEqual(self.get(peer, "/after"), "b /after")
        for _ in range(8):
            self.assertEqual(self.get(self.connect(proxy.port), "/new"), "b /new")
        tunnel.send(b"still here")
        self.assertEqual(tunnel.read_exact(10), transform(b"still here"))
        self.assertEqual(children(proxy.pid), workers)
        status = self.status(proxy)
        self.assertEqual(status["config_generation"], 2)
        self.assertEqual(generations_of(status),
                         [{"worker": n + 1, "pid": pid, "config_generation": 2}
                          for n, pid in enumerate(workers)])
        self.assertGreaterEqual(min(w["config_loaded"] for w in status["worker_generations"]),
                                status["config_loaded"])
        self.assertIn('hoplite_config_reloads_total{result="ok"} 1\n', self.metrics(proxy))
        tunnel.close()
        self.stop_hoplite(proxy)

    def test_with_workers_a_listener_added_and_one_removed_in_every_worker(self):
        a = self.fake_backend(answer_as("a"))
        proxy = self.hoplite([a], workers=2, admin=ADMIN)
        first = proxy.port
        # Every worker binds an added listener itself: port 0 would give each its own port.
        config = dict(proxy.config)
        config["listen"] = ["127.0.0.1:0", "127.0.0.2:0"]
        self.rewrite(proxy, config)
        proxy.send_signal(signal.SIGHUP)
        proxy.wait_for_line(r"^hoplite: reload: .*: /listen/1: with workers, a listener added by "
                            r"a reload needs a fixed port, not 0$", harness.IO_TIMEOUT)
        # A port someone else listens on fails the reload before any worker changes anything.
        taken = socket.socket()
        self.addCleanup(taken.close)
        taken.bind(("127.0.0.2", 0))
        taken.listen(1)
        config["listen"] = ["127.0.0.1:0", f"127.0.0.2:{taken.getsockname()[1]}"]
        self.rewrite(proxy, config)
        proxy.send_signal(signal.SIGHUP)
        proxy.wait_for_line(r"^hoplite: reload: .*: /listen/1: cannot listen on 127\.0\.0\.2:\d+: "
                            r"Address already in use$", harness.IO_TIMEOUT)
        port = taken.getsockname()[1]
        taken.close()

        config["listen"] = ["127.0.0.1:0", f"127.0.0.2:{port}"]
        self.reload(proxy, config, 2)
        workers = children(proxy.pid)
        harness.wait_until(lambda: sorted(listening_pids("127.0.0.2", port)) == workers,
                           timeout=5, what="both workers to listen on the added address")
        for n in range(8):
            peer = harness.Peer(socket.create_connection(("127.0.0.2", port), harness.IO_TIMEOUT))
            self.addCleanup(peer.close)
            self.assertEqual(self.get(peer, f"/added{n}"), f"a /added{n}")
        self.assertEqual(self.get(self.connect(first), "/kept"), "a /kept")

        config["listen"] = [f"127.0.0.2:{port}"]
        self.reload(proxy, config, 3)
        harness.wait_until(lambda: harness.listener_refuses(first), timeout=5,
                           what="the removed listener to close in both workers")
        peer = harness.Peer(socket.create_connection(("127.0.0.2", port), harness.IO_TIMEOUT))
        self.addCleanup(peer.close)
        self.assertEqual(self.get(peer, "/after"), "a /after")
        with open(proxy.config_path, "w") as f:
            f.write("{")
        proxy.send_signal(signal.SIGHUP)
        proxy.wait_for_line(r"^hoplite: reload: .*hoplite\.json: broken JSON", harness.IO_TIMEOUT)
        harness.wait_until(lambda: 'result="failed"} 3\n' in self.metrics(proxy),
                           what="the three failed reloads to be counted")
        self.assertEqual(self.get(peer, "/still"), "a /still")
        self.assertEqual(children(proxy.pid), workers)
        self.stop_hoplite(proxy)

    def test_a_reload_starts_workers_and_drains_the_extra_ones(self):
        a = self.fake_backend(answer_as("a"))
        proxy = self.hoplite([a], workers=2, admin=ADMIN)
        first_two = children(proxy.pid)
        self.assertEqual(len(first_two), 2)
        tunnel = self.connect(proxy.port)
        tunnel.send(upgrade_request()[1])
        self.assertEqual(tunnel.read_response().status, 101)
        requests = 0

        # 2 -> 3: one worker is started on the new generation; the others reload; nothing open
        # is touched.
        config = dict(proxy.config)
        config["workers"] = 3
        self.reload(proxy, config, 2)
        three = children(proxy.pid)
        self.assertEqual(len(three), 3)
        self.assertEqual([pid for pid in three if pid in first_two], first_two)
        started = [pid for pid in three if pid not in first_two][0]
        harness.wait_until(lambda: started in listening_pids("127.0.0.1", proxy.port), timeout=5,
                           what="the started worker to listen")
        status = self.status(proxy)
        self.assertEqual(status["workers"], 3)
        self.assertEqual(generations_of(status),
                         [{"worker": n + 1, "pid": pid, "config_generation": 2}
                          for n, pid in enumerate(first_two + [started])])
        for n in range(12):
            self.assertEqual(self.get(self.connect(proxy.port), f"/three{n}"), f"a /three{n}")
            requests += 1
        tunnel.send(b"still here")
        self.assertEqual(tunnel.read_exact(10), transform(b"still here"))
        tunnel.close()

        # 3 -> 1: the last two started drain and exit (no tunnel is open now, so at once); the
        # first goes on, and the counts of the ones gone stay in /metrics.
        before = metric_value(self.metrics(proxy), "hoplite_requests_total")
        config["workers"] = 1
        self.reload(proxy, config, 3)
        harness.wait_until(lambda: children(proxy.pid) == first_two[:1], timeout=10,
                           what="the two extra workers to drain and exit")
        proxy.wait_for_line(rf"^hoplite: reload: worker 3 \(pid {started}\) drained and exited$",
                            harness.IO_TIMEOUT)
        for n in range(4):
            self.assertEqual(self.get(self.connect(proxy.port), f"/one{n}"), f"a /one{n}")
            requests += 1
        status = self.status(proxy)
        self.assertEqual(status["workers"], 1)
        self.assertEqual(generations_of(status),
                         [{"worker": 1, "pid": first_two[0], "config_generation": 3}])
        self.assertGreaterEqual(metric_value(self.metrics(proxy), "hoplite_requests_total"),
                                before + 4)

        # Back to 2: a retired worker's metric slot is used again, its counts kept.
        config["workers"] = 2
        self.reload(proxy, config, 4)
        self.assertEqual(len(children(proxy.pid)), 2)
        self.assertGreaterEqual(metric_value(self.metrics(proxy), "hoplite_requests_total"),
                                before + 4)
        counters = self.stop_hoplite(proxy)
        # The supervisor's sum covers every worker that ever ran: the tunnel's handshake too.
        self.assertEqual(counters["requests"], requests + 1)
        self.assertEqual(counters["tunnels_opened"], 1)

    def test_twenty_reloads_under_a_request_loop_with_two_workers(self):
        UnderLoad.check_twenty_reloads(self, workers=2)


if __name__ == "__main__":
    unittest.main()
