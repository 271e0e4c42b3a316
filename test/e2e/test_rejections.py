"""Every request the parser or the upgrade policy refuses reaches the client as its status, with
`Connection: close`, and nothing reaches the backend: the backend here fails the test on any
connection, and hoplite's upstream_connects counter must stay 0.
"""

import unittest

import harness
from harness import tokens

KEY = "dGhlIHNhbXBsZSBub25jZQ=="
WS = b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"

# (name, request bytes, status). Limits: max_header_bytes 4096, max_header_count 20,
# max_body_bytes 1000 (see setUp).
CASES = [
    ("bare LF line endings", b"GET / HTTP/1.1\nHost: a\n\n", 400),
    ("bare LF ending one field", b"GET / HTTP/1.1\r\nHost: a\nX: y\r\n\r\n", 400),
    ("bare CR inside a value", b"GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400),
    ("obs-fold", b"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", 400),
    ("space before the colon", b"GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400),
    ("empty field name", b"GET / HTTP/1.1\r\nHost: a\r\n: v\r\n\r\n", 400),
    ("non-token field name", b"GET / HTTP/1.1\r\nHost: a\r\nX@Y: v\r\n\r\n", 400),
    ("NUL in a value", b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n", 400),
    ("CTL in a value", b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x01b\r\n\r\n", 400),
    ("no Host in HTTP/1.1", b"GET / HTTP/1.1\r\nX: y\r\n\r\n", 400),
    ("two Host fields", b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    ("Content-Length and Transfer-Encoding",
     b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"0\r\n\r\n", 400),
    ("signed Content-Length", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\nhello",
     400),
    ("Content-Length list", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\nhello",
     400),
    ("two different Content-Lengths",
     b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 400),
    ("chunked not final", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
     400),
    ("unsupported transfer coding",
     b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
    ("HTTP/0.9 request line", b"GET /\r\n\r\n", 400),
    ("textual HTTP/2.0", b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505),
    ("lower-case version", b"GET / http/1.1\r\nHost: a\r\n\r\n", 400),
    ("two spaces in the request line", b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    ("fragment in the target", b"GET /a#frag HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    ("CTL in the target", b"GET /a\x7fb HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    ("header section over max_header_bytes",
     b"GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + b"x" * 5000 + b"\r\n\r\n", 431),
    ("more fields than max_header_count",
     b"GET / HTTP/1.1\r\nHost: a\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(30)) + b"\r\n",
     431),
    ("CONNECT", b"CONNECT app.test:443 HTTP/1.1\r\nHost: app.test:443\r\n\r\n", 405),
    ("Content-Length over max_body_bytes",
     b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n\r\n" + b"x" * 5000, 413),
    ("WebSocket key that is not 16 bytes",
     b"GET /chat HTTP/1.1\r\nHost: a\r\n" + WS + b"Sec-WebSocket-Key: c2hvcnQ=\r\n\r\n", 400),
    ("WebSocket without a key", b"GET /chat HTTP/1.1\r\nHost: a\r\n" + WS + b"\r\n", 400),
    ("WebSocket without a version",
     b"GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
     b"Sec-WebSocket-Key: " + KEY.encode() + b"\r\n\r\n", 400),
    ("WebSocket version 8",
     b"GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
     b"Sec-WebSocket-Key: " + KEY.encode() + b"\r\nSec-WebSocket-Version: 8\r\n\r\n", 426),
    ("WebSocket upgrade on POST",
     b"POST /chat HTTP/1.1\r\nHost: a\r\n" + WS + b"Sec-WebSocket-Key: " + KEY.encode()
     + b"\r\nContent-Length: 0\r\n\r\n", 400),
]


def backend_script(peer, index):
    raise AssertionError(f"a refused request reached the backend (connection {index}): "
                         f"{peer.drain(0.5)!r}")


class ParserRejections(harness.E2ETestCase):
    def test_each_rejection_gets_its_status_and_nothing_goes_upstream(self):
        backend = self.fake_backend(backend_script)
        proxy = self.hoplite([backend], limits={
            "max_header_bytes": 4096, "max_header_count": 20, "max_body_bytes": 1000})
        for name, request, status in CASES:
            with self.subTest(name):
                client = self.connect(proxy.port)
                try:
                    client.send(request)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # hoplite may answer and close before reading all of a large request
                response = client.read_response()
                self.assertEqual(response.status, status, response.body)
                self.assertIn("close", tokens(response.header("Connection")))
                # Then the connection ends: nothing after a refused head is parsed.
                self.assertEqual(client.closed_by_peer(), b"")
                client.close()
        self.assertEqual(backend.accepted, 0)
        counters = self.stop_hoplite(proxy)
        expected_4xx = sum(1 for _, _, status in CASES if status < 500)
        self.assertCounters(counters, upstream_connects=0, rejected_4xx=expected_4xx,
                            errors_5xx=len(CASES) - expected_4xx, accepted=len(CASES))

    def test_unsupported_websocket_version_is_told_version_13(self):
        # RFC 6455 §4.2.2: the answer names the version hoplite speaks, so a client can retry;
        # RFC 9110 §15.5.22: a 426 names the protocol in Upgrade, listed in Connection.
        backend = self.fake_backend(backend_script)
        proxy = self.hoplite([backend])
        client = self.connect(proxy.port)
        client.send(b"GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n"
                    b"Connection: Upgrade\r\nSec-WebSocket-Key: " + KEY.encode() +
                    b"\r\nSec-WebSocket-Version: 7\r\n\r\n")
        response = client.read_response()
        self.assertEqual(response.status, 426, response.body)
        self.assertEqual(response.header("Sec-WebSocket-Version"), "13")
        self.assertEqual(response.header("Upgrade"), "websocket")
        self.assertEqual(tokens(response.header("Connection")), ["upgrade", "close"])
        self.assertEqual(client.closed_by_peer(), b"")
        self.assertEqual(backend.accepted, 0)
        counters = self.stop_hoplite(proxy)
        self.assertCounters(counters, upstream_connects=0, rejected_4xx=1)

    def test_rejection_after_a_good_request_on_the_same_connection(self):
        def script(peer, index):
            request = peer.read_request()
            assert request.target == "/good", request.start_line
            body = harness.transform(b"good one")
            peer.send(harness.build_response(200, "OK", [("Content-Length", str(len(body)))],
                                             body))
            # The bad request after it must not arrive.
            assert peer.drain(1.0) == b"", "bytes after the good request reached the backend"

        backend = self.fake_backend(script)
        proxy = self.hoplite([backend])
        client = self.connect(proxy.port)
        client.send(b"GET /good HTTP/1.1\r\nHost: a\r\n\r\n"
                    b"GET /bad HTTP/1.1\r\nHost: a\r\nX: a\r\n folded\r\n\r\n")
        first = client.read_response()
        self.assertEqual((first.status, first.body), (200, harness.transform(b"good one")))
        second = client.read_response()
        self.assertEqual(second.status, 400)
        self.assertEqual(client.closed_by_peer(), b"")
        counters = self.stop_hoplite(proxy)
        self.assertCounters(counters, upstream_connects=1, rejected_4xx=1)


if __name__ == "__main__":
    unittest.main()
