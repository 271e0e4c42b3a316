""""workers": N > 1. A supervisor binds the listeners once per worker (SO_REUSEPORT), forks the
workers, prints "ready" once all of them serve, passes SIGTERM/SIGINT on, and stops the others
when one dies. These tests read the worker PIDs from its "worker N: pid P" lines.
"""

import asyncio
import json
import os
import signal
import socket
import subprocess
import threading
import unittest

import websockets

import harness
from harness import build_request, build_response


def worker_pids(proxy, count):
    pids = {}
    for number in range(1, count + 1):
        match = proxy.wait_for_line(rf"^hoplite: worker {number}: pid (\d+)$")
        pids[number] = int(match.group(1))
    return pids


def parent_of(pid):
    with open(f"/proc/{pid}/stat") as stat:
        # The command name (field 2) is in parentheses and may hold spaces; the parent is the
        # second field after it.
        return int(stat.read().rsplit(")", 1)[1].split()[1])


def alive(pid):
    """True while `pid` exists and is not a zombie waiting for its parent."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def supervisor_counters(text):
    """The supervisor's own `hoplite: counters: ...` line (the sum over its workers) as a dict,
    or None when it printed none."""
    lines = [line for line in text.splitlines() if line.startswith("hoplite: counters: ")]
    if not lines:
        return None
    return dict((key, int(value)) for key, value in
                (item.split("=", 1) for item in lines[-1][len("hoplite: counters: "):].split()))


def summed(per_worker):
    total = {}
    for counters in per_worker.values():
        for key, value in counters.items():
            total[key] = total.get(key, 0) + value
    return total


class Workers(harness.E2ETestCase):
    def test_every_worker_serves_http_and_websocket_and_all_stop_on_sigterm(self):
        backend = self.demo_backend()
        proxy = self.hoplite([backend], workers=2)
        pids = worker_pids(proxy, 2)
        for pid in pids.values():
            self.assertEqual(parent_of(pid), proxy.pid, "a worker is not the supervisor's child")
        self.assertEqual(proxy.stderr.text().count("hoplite: listening on"), 1,
                         "one line per listen address, not one per worker")

        # The kernel spreads connections by a hash of their ports: 40 new connections land on
        # both workers except with probability 2 * 2^-40.
        for i in range(40):
            peer = self.connect(proxy.port)
            peer.send(build_request("GET", f"/n/{i}", [("Host", "app.test"),
                                                        ("Connection", "close")]))
            response = peer.read_response()
            self.assertEqual(response.status, 200)
            seen = response.json()
            self.assertEqual(seen["target"], f"/n/{i}")
            forwarded_for = [v for n, v in seen["headers"] if n.lower() == "x-forwarded-for"]
            self.assertEqual(forwarded_for, ["127.0.0.1"])

        async def echo():
            async with websockets.connect(f"ws://127.0.0.1:{proxy.port}/chat",
                                          open_timeout=harness.IO_TIMEOUT,
                                          close_timeout=harness.IO_TIMEOUT) as ws:
                await ws.send("through a worker")
                return await ws.recv()

        self.assertEqual(asyncio.run(asyncio.wait_for(echo(), 30)), "through a worker")

        self.stop_hoplite(proxy)
        text = proxy.stderr.text()
        per_worker = harness.parse_worker_counters(text)
        self.assertEqual(sorted(per_worker), [1, 2], text)
        for number, worker in per_worker.items():
            self.assertGreater(worker["accepted"], 0, f"worker {number} accepted nothing")
        # The supervisor prints the sum of its workers' lines, in the single process's form.
        counters = supervisor_counters(text)
        self.assertIsNotNone(counters, text)
        self.assertEqual(counters, summed(per_worker))
        self.assertCounters(counters, accepted=41, requests=41, tunnels_opened=1,
                            tunnels_closed=1, errors_5xx=0)
        self.assertNotIn("workers reported their counters", text)
        for pid in pids.values():
            self.assertFalse(alive(pid), f"worker {pid} outlived the supervisor")

    def test_sigterm_drains_every_worker_and_closes_every_listener(self):
        in_flight = threading.Event()
        release = threading.Event()

        def script(peer, index):
            request = peer.read_request()
            in_flight.set()
            assert release.wait(10), "the test never released the response"
            peer.send(build_response(200, "OK", [("Content-Length", "4")], b"done"))
            peer.closed_by_peer(timeout=10)

        backend = self.fake_backend(script)
        proxy = self.hoplite([backend], workers=3, timeouts={"shutdown_drain": "10s"})
        worker_pids(proxy, 3)
        busy = self.connect(proxy.port)
        busy.send(build_request("GET", "/slow", [("Host", "app.test")]))
        self.assertTrue(in_flight.wait(harness.IO_TIMEOUT), "the request never arrived")

        proxy.send_signal(signal.SIGTERM)
        # Every worker closed its listener, so no connection is left queued on a socket that
        # nobody accepts on...
        harness.wait_until(lambda: harness.listener_refuses(proxy.port), timeout=5,
                           what="every listener to close")
        self.assertTrue(proxy.running(), "the supervisor exited with a request in flight")
        # ... and the request in flight finishes.
        release.set()
        response = busy.read_response()
        self.assertEqual((response.status, response.body), (200, b"done"))
        self.assertEqual(proxy.wait(harness.STOP_TIMEOUT), 0, proxy.stderr.text())
        counters = self.stop_hoplite(proxy)
        # (accepted may count a probe that reached a worker before its SIGTERM did.)
        self.assertCounters(counters, requests=1, timeout_shutdown_drain=0, errors_5xx=0)
        self.assertEqual(len(harness.parse_worker_counters(proxy.stderr.text())), 3)

    def test_a_second_sigint_closes_what_remains_at_once(self):
        def script(peer, index):
            peer.read_request()
            peer.closed_by_peer(timeout=20)  # never answers

        backend = self.fake_backend(script)
        proxy = self.hoplite([backend], workers=2, timeouts={"shutdown_drain": "60s"})
        worker_pids(proxy, 2)
        stuck = self.connect(proxy.port)
        stuck.send(build_request("GET", "/never", [("Host", "app.test")]))
        harness.wait_until(lambda: backend.accepted == 1, what="the request to reach the backend")

        proxy.send_signal(signal.SIGINT)
        harness.wait_until(lambda: harness.listener_refuses(proxy.port), timeout=5,
                           what="every listener to close")
        self.assertTrue(proxy.running(), "the first SIGINT did not wait for the drain")
        proxy.send_signal(signal.SIGINT)
        # Exited well within the 60 s drain: the second signal closed what remained.
        self.assertEqual(proxy.wait(5), 0, proxy.stderr.text())
        self.assertEqual(stuck.closed_by_peer(timeout=3), b"")
        counters = harness.parse_counters(proxy.stderr.text())
        self.assertCounters(counters, requests=1, timeout_shutdown_drain=1)

    def test_a_worker_that_dies_stops_the_others_and_the_supervisor_exits_1(self):
        backend = self.demo_backend()
        proxy = self.hoplite([backend], workers=2)
        pids = worker_pids(proxy, 2)
        os.kill(pids[1], signal.SIGKILL)
        self.assertEqual(proxy.wait(harness.STOP_TIMEOUT), 1, proxy.stderr.text())
        text = proxy.stderr.text()
        self.assertIn(f"hoplite: worker 1 (pid {pids[1]}) was killed by signal 9", text)
        # The survivor drained and logged its counters; nothing is left running.
        per_worker = harness.parse_worker_counters(text)
        self.assertEqual(sorted(per_worker), [2])
        self.assertFalse(alive(pids[2]))
        # The sum says that it is the survivor's alone.
        self.assertIn("hoplite: 1 of 2 workers reported their counters", text)
        self.assertEqual(supervisor_counters(text), per_worker[2])

    def test_workers_stop_when_the_supervisor_is_killed(self):
        backend = self.demo_backend()
        proxy = self.hoplite([backend], workers=2)
        pids = worker_pids(proxy, 2)
        proxy.kill()
        harness.wait_until(lambda: not any(alive(pid) for pid in pids.values()), timeout=10,
                           what="the orphaned workers to exit")
        self.assertEqual(len(harness.parse_worker_counters(proxy.stderr.text())), 2)

    def test_an_address_in_use_fails_before_any_worker_starts(self):
        # Even a socket that would accept a SO_REUSEPORT partner: a second hoplite must not
        # silently share the first one's port.
        taken = self.keep(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = harness.make_config(["127.0.0.1:1"], workers=2)
        config["listen"] = [f"127.0.0.1:{port}"]
        path = os.path.join(self.tmp, "taken.json")
        with open(path, "w") as f:
            json.dump(config, f)
        result = subprocess.run([harness.HOPLITE_BIN, "-c", path], capture_output=True, text=True,
                                timeout=harness.STOP_TIMEOUT)
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn(f"hoplite: cannot listen on 127.0.0.1:{port}: Address already in use",
                      result.stderr)
        self.assertNotIn("worker 1", result.stderr)

    def test_max_connections_is_split_between_the_workers(self):
        # max_connections 4 over 4 workers: each may hold one client. Clients are opened until
        # one is left waiting un-accepted (its request is not answered while the others stay
        # open); then closing the rest lets it through. Were each worker to take the whole 4,
        # the first wait would come with 4 held only if the first 5 clients all hashed to one
        # worker (p = 4^-4).
        backend = self.demo_backend()
        proxy = self.hoplite([backend], workers=4, limits={"max_connections": 4},
                             timeouts={"client_idle": "60s"})
        worker_pids(proxy, 4)
        held = []
        waiting = None
        for i in range(20):
            peer = self.connect(proxy.port)
            peer.send(build_request("GET", f"/held/{i}", [("Host", "app.test")]))
            try:
                peer.sock.settimeout(0.5)
                response = peer.read_response()
            except (socket.timeout, TimeoutError):
                waiting = peer
                break
            finally:
                peer.sock.settimeout(harness.IO_TIMEOUT)
            self.assertEqual(response.status, 200)
            held.append(peer)
        self.assertIsNotNone(waiting, "20 clients were all served with max_connections 4")
        # A worker's share is one connection, so at most four were ever served at once, and at
        # least one (the first) was.
        self.assertLessEqual(len(held), 4)
        self.assertGreaterEqual(len(held), 1)
        for peer in held:
            peer.close()
        response = waiting.read_response()
        self.assertEqual(response.status, 200)


if __name__ == "__main__":
    unittest.main()
