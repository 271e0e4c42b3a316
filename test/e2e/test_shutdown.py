"""SIGTERM: hoplite stops accepting, closes idle connections, lets in-flight requests finish, closes
what remains after shutdown_drain, and exits 0 with its counters. With timeouts.shutdown_delay it
first goes on serving for the delay while the admin /healthz already says "draining".
"""

import signal
import threading
import time
import unittest

import harness
from harness import build_request, build_response, transform


class Drain(harness.E2ETestCase):
    def test_sigterm_lets_the_slow_response_finish_and_refuses_new_connections(self):
        in_flight = threading.Event()
        release = threading.Event()
        body = transform(b"the slow answer, complete") * 1000

        def script(peer, index):
            while True:
                try:
                    request = peer.read_request()
                except EOFError:
                    return
                if request.target == "/quick":
                    peer.send(build_response(200, "OK", [("Content-Length", "2")], b"ok"))
                    continue
                assert request.target == "/slow", request.start_line
                in_flight.set()
                assert release.wait(10), "the test never released the slow response"
                peer.send(build_response(200, "OK", [("Content-Length", str(len(body)))])
                          + body[:1000])
                peer.send(body[1000:])

        backend = self.fake_backend(script)
        proxy = self.hoplite([backend], timeouts={"shutdown_drain": "10s"})
        idle = self.connect(proxy.port)
        idle.send(build_request("GET", "/quick", [("Host", "app.test")]))
        self.assertEqual(idle.read_response().body, b"ok")
        busy = self.connect(proxy.port)
        busy.send(build_request("GET", "/slow", [("Host", "app.test")]))
        self.assertTrue(in_flight.wait(harness.IO_TIMEOUT), "the slow request never arrived")

        proxy.send_signal(signal.SIGTERM)
        # The idle keep-alive connection is closed at once...
        self.assertEqual(idle.closed_by_peer(timeout=3), b"")

        # ... new connections are refused...
        harness.wait_until(lambda: harness.listener_refuses(proxy.port), timeout=3,
                           what="the listener to close")
        self.assertTrue(proxy.running(), "hoplite exited with a request in flight")
        # ... and the in-flight response completes.
        release.set()
        response = busy.read_response()
        self.assertEqual((response.status, response.body), (200, body))
        self.assertEqual(busy.closed_by_peer(timeout=3), b"")
        self.assertEqual(proxy.wait(harness.STOP_TIMEOUT), 0, proxy.stderr.text())
        counters = self.stop_hoplite(proxy)
        self.assertCounters(counters, accepted=2, requests=2, timeout_shutdown_drain=0,
                            errors_5xx=0)

    def test_shutdown_drain_closes_what_remains(self):
        def script(peer, index):
            peer.read_request()
            peer.closed_by_peer(timeout=10)  # never answers

        backend = self.fake_backend(script)
        proxy = self.hoplite([backend], timeouts={"shutdown_drain": "500ms",
                                                  "upstream_response": "30s"})
        client = self.connect(proxy.port)
        client.send(build_request("GET", "/forever", [("Host", "app.test")]))
        harness.wait_until(lambda: backend.accepted == 1, what="the request to reach the backend")
        start = time.monotonic()
        proxy.send_signal(signal.SIGTERM)
        self.assertEqual(proxy.wait(harness.STOP_TIMEOUT), 0, proxy.stderr.text())
        self.assertElapsedBetween(time.monotonic() - start, 0.45, 5.0, "the exit")
        client.closed_by_peer(timeout=3)
        counters = self.stop_hoplite(proxy, close_clients=False)
        self.assertCounters(counters, timeout_shutdown_drain=1)

    def test_sigint_also_stops_cleanly(self):
        backend = self.demo_backend()
        proxy = self.hoplite([backend])
        client = self.connect(proxy.port)
        client.send(build_request("GET", "/", [("Host", "app.test")]))
        self.assertEqual(client.read_response().status, 200)
        client.close()
        self.assertEqual(proxy.stop(signal.SIGINT), 0, proxy.stderr.text())
        self.assertCounters(proxy.counters, accepted=1, requests=1)


class ShutdownDelay(harness.E2ETestCase):
    """timeouts.shutdown_delay: after the first SIGTERM, /healthz answers 503 at once, but the
    listeners stay open and connections (new and kept-alive) are served as usual until the delay
    ends; then the drain. A second SIGTERM cuts the delay short and exits at once."""

    def start(self, delay, workers=None):
        backend = self.demo_backend()
        return self.hoplite([backend], workers=workers, admin={"listen": "127.0.0.1:0"},
                            timeouts={"shutdown_delay": delay, "shutdown_drain": "3s"})

    def healthz(self, proxy):
        """(status, body) of GET /healthz on the admin listener (one request per connection)."""
        peer = harness.connect(proxy.admin_port)
        try:
            peer.send(build_request("GET", "/healthz", [("Host", "admin.test")]))
            response = peer.read_response()
        finally:
            peer.close()
        return response.status, response.body.strip()

    def get(self, peer, target):
        peer.send(build_request("GET", target, [("Host", "app.test")]))
        response = peer.read_response()
        self.assertEqual(response.status, 200)
        # Served as usual: keep-alive, no Connection: close as in a drain.
        self.assertNotIn("close", harness.tokens(response.header("Connection")))
        return response

    def check_serves_during_the_delay_then_drains(self, workers):
        proxy = self.start("2s", workers=workers)
        kept = self.connect(proxy.port)
        self.get(kept, "/before")
        self.assertEqual(self.healthz(proxy), (200, b"ok"))

        start = time.monotonic()
        proxy.send_signal(signal.SIGTERM)
        proxy.wait_for_line(r"^hoplite: SIGTERM: .*still serving for 2s "
                            r"\(timeouts\.shutdown_delay\), then draining$")
        self.assertEqual(self.healthz(proxy), (503, b"draining"))
        # A new connection is still accepted and served...
        fresh = self.connect(proxy.port)
        self.get(fresh, "/during")
        # ... and so is the next request on one kept alive from before the signal.
        self.get(kept, "/during-kept")
        self.assertLess(time.monotonic() - start, 2.0,
                        "the checks took longer than the delay; they proved nothing")
        self.assertTrue(proxy.running())

        # After the delay: the drain. Idle connections close, the listener refuses, exit 0.
        harness.wait_until(lambda: harness.listener_refuses(proxy.port), timeout=5,
                           what="the listener to close after the delay")
        self.assertGreaterEqual(time.monotonic() - start, 1.9,
                                "the listener closed before the delay ended")
        self.assertEqual(kept.closed_by_peer(timeout=3), b"")
        self.assertEqual(fresh.closed_by_peer(timeout=3), b"")
        self.assertEqual(proxy.wait(harness.STOP_TIMEOUT), 0, proxy.stderr.text())
        counters = self.stop_hoplite(proxy)
        # `accepted` also counts the probes that connected while the delay still ran.
        self.assertCounters(counters, requests=3, timeout_shutdown_drain=0, errors_5xx=0)

    def test_serves_during_the_delay_while_healthz_says_draining_then_drains(self):
        self.check_serves_during_the_delay_then_drains(workers=None)

    def test_with_workers_each_worker_serves_during_the_delay(self):
        self.check_serves_during_the_delay_then_drains(workers=2)

    def check_second_sigterm_cuts_the_delay_short(self, workers):
        proxy = self.start("30s", workers=workers)
        kept = self.connect(proxy.port)
        self.get(kept, "/before")
        proxy.send_signal(signal.SIGTERM)
        proxy.wait_for_line(r"^hoplite: SIGTERM: .*still serving for 30s")
        self.assertEqual(self.healthz(proxy), (503, b"draining"))
        start = time.monotonic()
        proxy.send_signal(signal.SIGTERM)
        # Well before the 30 s delay (or the 3 s drain) would have ended.
        self.assertEqual(proxy.wait(5), 0, proxy.stderr.text())
        self.assertElapsedBetween(time.monotonic() - start, 0, 2.5, "the exit")
        self.assertEqual(kept.closed_by_peer(timeout=3), b"")
        counters = self.stop_hoplite(proxy)
        self.assertCounters(counters, accepted=1, requests=1, errors_5xx=0)

    def test_a_second_sigterm_during_the_delay_exits_at_once(self):
        self.check_second_sigterm_cuts_the_delay_short(workers=None)

    def test_with_workers_a_second_sigterm_during_the_delay_exits_at_once(self):
        self.check_second_sigterm_cuts_the_delay_short(workers=2)

    def test_sigint_during_the_delay_exits_at_once_too(self):
        proxy = self.start("30s")
        proxy.send_signal(signal.SIGTERM)
        proxy.wait_for_line(r"^hoplite: SIGTERM: still serving for 30s")
        proxy.send_signal(signal.SIGINT)
        self.assertEqual(proxy.wait(5), 0, proxy.stderr.text())
        self.stop_hoplite(proxy)


if __name__ == "__main__":
    unittest.main()
