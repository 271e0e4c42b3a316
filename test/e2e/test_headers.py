"""What reaches the backend, and what comes back: hop-by-hop stripping (RFC 9110 §7.6.1) and the
X-Forwarded-* fields from trusted and untrusted peers.

Request-side checks read the demo backend's JSON, which lists every field it received in order.
"""

import unittest

import harness
from harness import build_request, build_response

# Fields a proxy may legitimately add to any forwarded request, beyond X-Forwarded-*.
BENIGN_EXTRAS = {("content-length", "0"), ("connection", "keep-alive")}


def received(response):
    """(json document, [(lower-case name, value)]) of what the demo backend received."""
    assert response.status == 200, (response.start_line, response.body[:500])
    document = response.json()
    return document, [(name.lower(), value) for name, value in document["headers"]]


def without_benign(fields):
    return [field for field in fields if field not in BENIGN_EXTRAS]


class HopByHop(harness.E2ETestCase):
    def setUp(self):
        super().setUp()
        self.backend = self.demo_backend()
        self.proxy = self.hoplite([self.backend])

    def exchange(self, request, source="127.0.0.1"):
        client = self.connect(self.proxy.port, source)
        client.send(request)
        response = client.read_response()
        client.close()
        return response

    def test_hop_by_hop_fields_are_stripped_and_end_to_end_fields_kept_in_order(self):
        response = self.exchange(build_request("GET", "/hop?x=1", [
            ("Host", "app.test"),
            ("Connection", "keep-alive, X-Secret, x-other"),
            ("X-Secret", "named in Connection"),
            ("X-Keep", "yes"),
            ("X-Other", "named in Connection too"),
            ("Keep-Alive", "timeout=5"),
            ("TE", "trailers"),
            ("Proxy-Connection", "keep-alive"),
            ("Upgrade", "websocket"),  # without Connection: upgrade this is no upgrade request
            ("Trailer", "X-Checksum"),
            ("X_Custom_Underscore", "dropped like nginx does"),
            ("Accept", "*/*"),
            ("Cookie", "a=1; b=2"),
        ]))
        document, fields = received(response)
        self.assertEqual((document["method"], document["target"], document["version"]),
                         ("GET", "/hop?x=1", "HTTP/1.1"))
        # X-Forwarded-* and X-Request-Id are hoplite's own (test_request_id covers the latter).
        end_to_end = [f for f in without_benign(fields)
                      if not f[0].startswith("x-forwarded-") and f[0] != "x-request-id"]
        self.assertEqual(end_to_end, [
            ("host", "app.test"),
            ("x-keep", "yes"),
            ("accept", "*/*"),
            ("cookie", "a=1; b=2"),
        ])
        added = sorted(f for f in fields if f[0].startswith("x-forwarded-"))
        self.assertEqual(added, sorted([
            ("x-forwarded-for", "127.0.0.1"),
            ("x-forwarded-proto", "http"),
            ("x-forwarded-port", str(self.proxy.port)),
            ("x-forwarded-host", "app.test"),
        ]))

    def test_connection_cannot_remove_host_framing_or_proxy_fields(self):
        response = self.exchange(build_request("POST", "/upload", [
            ("Host", "app.test"),
            ("Connection", "Host, Content-Length, X-Forwarded-For, X-Forwarded-Proto"),
            ("Content-Length", "11"),
        ], b"hello world"))
        document, fields = received(response)
        self.assertEqual(document["body_length"], 11)
        self.assertEqual(document["body_sha256"], harness.sha256(b"hello world"))
        names = [name for name, _ in fields]
        self.assertEqual(names.count("host"), 1, fields)
        self.assertIn(("x-forwarded-for", "127.0.0.1"), fields)
        self.assertIn(("x-forwarded-proto", "http"), fields)
        self.assertNotIn("connection", [n for n, v in fields if v != "keep-alive"])

    def test_http10_upgrade_is_ignored_and_stripped(self):
        response = self.exchange(build_request("GET", "/old", [
            ("Host", "app.test"), ("Connection", "Upgrade"), ("Upgrade", "websocket"),
            ("Sec-WebSocket-Key", harness.ws_key()), ("Sec-WebSocket-Version", "13"),
        ], version="HTTP/1.0"))
        document, fields = received(response)
        self.assertNotIn("upgrade", [name for name, _ in fields])
        self.assertNotIn(("connection", "upgrade"), [(n, v.lower()) for n, v in fields])

    def test_response_hop_by_hop_fields_are_stripped(self):
        def backend_script(peer, index):
            peer.read_request()
            body = b"response body"
            peer.send(build_response(200, "OK", [
                ("Connection", "X-Internal"),
                ("X-Internal", "backend secret"),
                ("Keep-Alive", "timeout=5, max=100"),
                ("Proxy-Connection", "keep-alive"),
                ("Upgrade", "h2c"),
                ("X-App", "kept"),
                ("Content-Length", str(len(body))),
            ], body))

        backend = self.fake_backend(backend_script)
        proxy = self.hoplite([backend])
        client = self.connect(proxy.port)
        client.send(build_request("GET", "/", [("Host", "app.test")]))
        response = client.read_response()
        self.assertEqual((response.status, response.body), (200, b"response body"))
        self.assertEqual(response.header("X-App"), "kept")
        for name in ("X-Internal", "Keep-Alive", "Proxy-Connection", "Upgrade"):
            self.assertIsNone(response.header(name), f"{name} reached the client")
        for value in response.values("Connection"):
            self.assertNotIn("x-internal", harness.tokens(value))


class Forwarded(harness.E2ETestCase):
    def setUp(self):
        super().setUp()
        self.backend = self.demo_backend()
        self.proxy = self.hoplite([self.backend],
                                  forwarded={"trusted_proxies": ["127.0.0.2/32"]})

    def send_from(self, source):
        client = self.connect(self.proxy.port, source)
        client.send(build_request("GET", "/whoami", [
            ("Host", "public.example"),
            ("X-Forwarded-For", "203.0.113.7"),
            ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-Host", "original.example"),
            ("X-Forwarded-Port", "443"),
            ("Forwarded", "for=203.0.113.7;proto=https"),
            ("X_Forwarded_For", "198.51.100.1"),
        ]))
        response = client.read_response()
        client.close()
        return received(response)[1]

    def forwarded_fields(self, fields):
        return {name: [v for n, v in fields if n == name] for name in (
            "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-forwarded-port",
            "forwarded", "x_forwarded_for")}

    def test_trusted_peer_is_appended_and_its_fields_kept(self):
        fields = self.forwarded_fields(self.send_from("127.0.0.2"))
        self.assertEqual(fields["x-forwarded-for"], ["203.0.113.7, 127.0.0.2"])
        self.assertEqual(fields["x-forwarded-proto"], ["https"])
        self.assertEqual(fields["x-forwarded-host"], ["original.example"])
        self.assertEqual(fields["x-forwarded-port"], ["443"])
        self.assertEqual(fields["x_forwarded_for"], [])

    def test_untrusted_peers_get_fresh_fields(self):
        for source in ("127.0.0.1", "127.0.0.3"):
            with self.subTest(source):
                fields = self.forwarded_fields(self.send_from(source))
                self.assertEqual(fields, {
                    "x-forwarded-for": [source],
                    "x-forwarded-proto": ["http"],
                    "x-forwarded-host": ["public.example"],
                    "x-forwarded-port": [str(self.proxy.port)],
                    "forwarded": [],
                    "x_forwarded_for": [],
                })


class ForwardedAndVia(harness.E2ETestCase):
    def test_rfc7239_forwarded_and_via_when_switched_on(self):
        backend = self.demo_backend()
        proxy = self.hoplite([backend], forwarded={"forwarded": True, "via": True})
        client = self.connect(proxy.port)
        client.send(build_request("GET", "/", [("Host", "app.test"),
                                               ("Forwarded", "for=6.6.6.6")]))
        fields = received(client.read_response())[1]
        forwarded = [v for n, v in fields if n == "forwarded"]
        self.assertEqual(len(forwarded), 1, fields)
        self.assertNotIn("6.6.6.6", forwarded[0])
        self.assertRegex(forwarded[0].lower(), r'(^|;)\s*for="?127\.0\.0\.1"?\s*(;|$)')
        self.assertEqual([v for n, v in fields if n == "via"], ["1.1 hoplite"])


if __name__ == "__main__":
    unittest.main()
