"""Every timeout, with sub-second values: what the client sees, when, and the counter named after
the config key. Lower bounds prove a timer did not fire early (or was not reset by a trickle),
upper bounds are generous so that a loaded machine (or ASan) does not fail them.

Pacing (sending a byte, then waiting 50-200 ms before the next) is the behaviour under test, not
synchronisation; each pause is a bounded wait on the socket that also checks nothing arrived early.
"""

import time
import unittest

import harness
from harness import build_request, build_response, transform, ws_accept, ws_key


def refuse_any_connection(peer, index):
    raise AssertionError(f"unexpected upstream connection {index}: {peer.drain(0.5)!r}")


def tunnel_backend(peer, index):
    """Completes a WebSocket handshake, then answers each line transformed; the line "push"
    makes it send six lines 200 ms apart on its own."""
    request = peer.read_request()
    peer.send(build_response(101, "Switching Protocols", [
        ("Upgrade", "websocket"), ("Connection", "Upgrade"),
        ("Sec-WebSocket-Accept", ws_accept(request.header("Sec-WebSocket-Key")))]))
    while True:
        try:
            line = peer.read_until(b"\n")
        except (EOFError, ConnectionResetError):
            return
        if line == b"push\n":
            for i in range(6):
                time.sleep(0.2)  # pacing: server-to-client traffic only
                peer.send(b"pushed %d\n" % i)
        else:
            peer.send(transform(line[:-1]) + b"\n")


def open_tunnel(test, proxy, path="/ws"):
    client = test.connect(proxy.port)
    key = ws_key()
    client.send(build_request("GET", path, [
        ("Host", "app.test"), ("Upgrade", "websocket"), ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", key), ("Sec-WebSocket-Version", "13")]))
    response = client.read_response()
    test.assertEqual(response.status, 101)
    test.assertEqual(response.header("Sec-WebSocket-Accept"), ws_accept(key))
    return client


class ClientTimeouts(harness.E2ETestCase):
    def test_client_header_is_not_reset_by_a_trickle(self):
        backend = self.fake_backend(refuse_any_connection)
        proxy = self.hoplite([backend], timeouts={"client_header": "400ms"})
        client = self.connect(proxy.port)
        start = time.monotonic()
        client.send(b"GET / HTTP/1.1\r\nHost: app.test\r\nX-Slow: ")
        closed = False
        for _ in harness.deadline_loop(4.0, "hoplite to end a trickling head"):
            try:
                client.send(b"x")
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            if not client.nothing_arrives(0.05):
                break
        elapsed = time.monotonic() - start
        if not closed:
            response = client.read_response()
            self.assertEqual(response.status, 408)
            self.assertEqual(client.closed_by_peer(), b"")
        self.assertElapsedBetween(elapsed, 0.35, 2.5, "the header timeout")
        counters = self.stop_hoplite(proxy)
        self.assertCounters(counters, timeout_client_header=1, upstream_connects=0, requests=0)

    def test_client_header_runs_from_accept(self):
        backend = self.fake_backend(refuse_any_connection)
        proxy = self.hoplite([backend], timeouts={"client_header": "300ms"})
        client = self.connect(proxy.port)
        start = time.monotonic()
        rest = client.closed_by_peer()
        self.assertElapsedBetween(time.monotonic() - start, 0.25, 2.5, "the header timeout")
        if rest:
            self.assertTrue(rest.startswith(b"HTTP/1.1 408 "), rest)
        counters = self.stop_hoplite(proxy)
        self.assertCounters(counters, timeout_client_header=1, upstream_connects=0)

    def test_client_idle_closes_a_quiet_keepalive_connection(self):
        backend = self.demo_backend()
        proxy = self.hoplite([backend], timeouts={"client_header": "5s", "client_idle": "400ms"})
        client = self.connect(proxy.port)
        client.send(build_request("GET", "/", [("Host", "app.test")]))
        self.assertEqual(client.read_response().status, 200)
        start = time.monotonic()
        self.assertEqual(client.closed_by_peer(), b"")
        self.assertElapsedBetween(time.monotonic() - start, 0.35, 2.5, "the idle close")
        counters = self.stop_hoplite(proxy)
        self.assertCounters(counters, timeout_client_idle=1, timeout_client_header=0,
                            requests=1)

    def test_client_body_gap_is_408(self):
        backend = self.demo_backend()
        proxy = self.hoplite([backend], timeouts={"client_body": "400ms"})
        client = self.connect(proxy.port)
        client.send(build_request("POST", "/upload", [
            ("Host", "app.test"), ("Content-Length", "1000")], b"x" * 100))
        start = time.monotonic()
        response = client.read_response()
        self.assertEqual(response.status, 408)
        self.assertElapsedBetween(time.monotonic() - start, 0.35, 2.5, "the body timeout")
        self.assertEqual(client.closed_by_peer(), b"")
        counters = self.stop_hoplite(proxy)
        self.assertCounters(counters, timeout_client_body=1)

    def test_client_body_is_a_gap_not_a_total(self):
        backend = self.demo_backend()
        proxy = self.hoplite([backend], timeouts={"client_body": "400ms"})
        client = self.connect(proxy.port)
        client.send(build_request("POST", "/upload", [
            ("Host", "app.test"), ("Content-Length", "1000")]))
        for _ in range(10):  # 1.5 s in total, never 400 ms without a byte
            self.assertTrue(client.nothing_arrives(0.15), "answered before the body was sent")
            client.send(b"y" * 100)
        document = client.read_response().json()
        self.assertEqual(document["body_sha256"], harness.sha256(b"y" * 1000))
        counters = self.stop_hoplite(proxy)
        self.assertCounters(counters, timeout_client_body=0)


class UpstreamTimeouts(harness.E2ETestCase):
    def test_upstream_connect_to_a_blackhole_is_504(self):
        address, sockets = harness.blackhole()
        self.keep(sockets)
        proxy = self.hoplite([address], timeouts={"upstream_connect": "300ms"})
        client = self.connect(proxy.port)
        start = time.monotonic()
        client.send(build_request("GET", "/", [("Host", "app.test")]))
        self.assertEqual(client.read_response().status, 504)
        self.assertElapsedBetween(time.monotonic() - start, 0.25, 3.0, "the connect timeout")
        client.close()
        counters = self.stop_hoplite(proxy)
        self.assertCounters(counters, timeout_upstream_connect=1, errors_5xx=1,
                            upstream_connects=0)

    def test_upstream_response_gap_mid_body_aborts_the_client(self):
        def script(peer, index):
            peer.read_request()
            peer.send(build_response(200, "OK", [("Content-Length", "1000")], b"z" * 10))
            peer.closed_by_peer()  # then silence, until hoplite gives up

        backend = self.fake_backend(script)
        proxy = self.hoplite([backend], timeouts={"upstream_response": "400ms"})
        client = self.connect(proxy.port)
        client.send(build_request("GET", "/", [("Host", "app.test")]))
        head = client.read_until(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 200 "), head)
        start = time.monotonic()
        rest = client.closed_by_peer()
        self.assertElapsedBetween(time.monotonic() - start, 0.3, 2.5, "the response timeout")
        self.assertLess(len(rest), 100, "more than the ten bytes the backend sent")
        counters = self.stop_hoplite(proxy)
        self.assertCounters(counters, timeout_upstream_response=1)

    def test_upstream_response_is_a_gap_not_a_total(self):
        def script(peer, index):
            peer.read_request()
            peer.send(build_response(200, "OK", [("Content-Length", "800")]))
            for _ in range(8):  # 1.6 s in total, never 400 ms without a byte
                time.sleep(0.2)  # pacing: the slow backend under test
                peer.send(transform(b"abcdefghij" * 10))
            peer.drain(1.0)

        backend = self.fake_backend(script)
        proxy = self.hoplite([backend], timeouts={"upstream_response": "400ms"})
        client = self.connect(proxy.port)
        client.send(build_request("GET", "/", [("Host", "app.test")]))
        self.assertEqual(client.read_response().body, transform(b"abcdefghij" * 10) * 8)
        client.close()
        counters = self.stop_hoplite(proxy)
        self.assertCounters(counters, timeout_upstream_response=0, errors_5xx=0)


class TunnelIdle(harness.E2ETestCase):
    def test_tunnel_idle_replaces_the_http_timeouts(self):
        backend = self.fake_backend(tunnel_backend)
        proxy = self.hoplite([backend], timeouts={
            "client_header": "200ms", "client_idle": "200ms", "client_body": "200ms",
            "upstream_response": "200ms", "tunnel_idle": "800ms"})
        client = open_tunnel(self, proxy)
        client.send(b"one\n")
        self.assertEqual(client.read_until(b"\n"), transform(b"one") + b"\n")
        # Longer than every HTTP timeout, shorter than tunnel_idle: the tunnel lives on.
        self.assertTrue(client.nothing_arrives(0.5))
        client.send(b"two\n")
        self.assertEqual(client.read_until(b"\n"), transform(b"two") + b"\n")
        # Client-to-server traffic alone keeps it open...
        for i in range(6):
            self.assertTrue(client.nothing_arrives(0.25))
            client.send(b"tick %d\n" % i)
            self.assertEqual(client.read_until(b"\n"), transform(b"tick %d" % i) + b"\n")
        # ... and so does server-to-client traffic alone (1.2 s of pushes, the client silent).
        client.send(b"push\n")
        for i in range(6):
            self.assertEqual(client.read_until(b"\n"), b"pushed %d\n" % i)
        start = time.monotonic()
        self.assertEqual(client.closed_by_peer(), b"")
        self.assertElapsedBetween(time.monotonic() - start, 0.7, 3.0, "the tunnel idle close")
        counters = self.stop_hoplite(proxy)
        self.assertCounters(counters, tunnels_opened=1, tunnels_closed=1, timeout_tunnel_idle=1,
                            timeout_client_idle=0, timeout_client_header=0,
                            timeout_client_body=0, timeout_upstream_response=0)

    def test_route_overrides_tunnel_idle(self):
        backend = self.fake_backend(tunnel_backend)
        proxy = self.hoplite([backend], timeouts={"tunnel_idle": "1h"}, routes=[
            {"path_prefix": "/ws", "upstream": "app", "timeouts": {"tunnel_idle": "300ms"}},
            {"upstream": "app"}])
        client = open_tunnel(self, proxy)
        start = time.monotonic()
        self.assertEqual(client.closed_by_peer(), b"")
        self.assertElapsedBetween(time.monotonic() - start, 0.25, 3.0, "the route's idle close")
        counters = self.stop_hoplite(proxy)
        self.assertCounters(counters, timeout_tunnel_idle=1)

    def test_tunnels_with_different_idle_timeouts_expire_each_in_its_own_time(self):
        # One timer serves every tunnel of the loop: each timeout value keeps its own order, and
        # activity on one tunnel moves only that tunnel's expiry.
        backend = self.fake_backend(tunnel_backend)
        proxy = self.hoplite([backend], timeouts={"tunnel_idle": "1h"}, routes=[
            {"path_prefix": "/ws", "upstream": "app", "timeouts": {"tunnel_idle": "1500ms"}},
            {"path_prefix": "/short", "upstream": "app", "timeouts": {"tunnel_idle": "300ms"}},
            {"upstream": "app"}])
        start = time.monotonic()
        long_lived = open_tunnel(self, proxy)
        quiet = open_tunnel(self, proxy, path="/short")
        busy = open_tunnel(self, proxy, path="/short")
        # The quiet short one goes first, while the busy one stays up by sending every 150 ms.
        for i in range(6):
            busy.send(b"tick %d\n" % i)
            self.assertEqual(busy.read_until(b"\n"), transform(b"tick %d" % i) + b"\n")
            busy_idle_from = time.monotonic()
            if i == 3:
                self.assertEqual(quiet.closed_by_peer(), b"")
                self.assertElapsedBetween(time.monotonic() - start, 0.25, 1.2, "quiet close")
            else:
                self.assertTrue(busy.nothing_arrives(0.15))
        self.assertEqual(busy.closed_by_peer(), b"")
        self.assertElapsedBetween(time.monotonic() - busy_idle_from, 0.25, 2.0, "busy's idle close")
        # The long one was idle all along and outlives both.
        self.assertTrue(long_lived.nothing_arrives(0.05))
        self.assertEqual(long_lived.closed_by_peer(), b"")
        self.assertElapsedBetween(time.monotonic() - start, 1.4, 4.0, "the long idle close")
        counters = self.stop_hoplite(proxy)
        self.assertCounters(counters, tunnels_opened=3, tunnels_closed=3, timeout_tunnel_idle=3)


if __name__ == "__main__":
    unittest.main()
