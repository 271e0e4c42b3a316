"""SIGTERM: hoplite stops accepting, closes idle connections, lets in-flight requests finish, closes
what remains after shutdown_drain, and exits 0 with its counters.
"""

import signal
import socket
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
        def refused():
            probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            probe.settimeout(1)
            try:
                probe.connect(("127.0.0.1", proxy.port))
            except ConnectionRefusedError:
                return True
            finally:
                probe.close()
            return False

        harness.wait_until(refused, timeout=3, what="the listener to close")
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


if __name__ == "__main__":
    unittest.main()
