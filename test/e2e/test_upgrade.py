"""The upgrade handshake through hoplite, byte for byte, against scripted backends.

Each backend asserts the request it receives and answers exact bytes. Once a tunnel is open the
backends answer line by line with harness.transform(line), so bytes reflected by the proxy can never
pass for the backend's answer.
"""

import unittest

import harness
from harness import build_request, build_response, tokens, transform, ws_accept, ws_key


def upgrade_request(target, key, host="app.test", extra=()):
    return build_request("GET", target, [
        ("Host", host),
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", key),
        ("Sec-WebSocket-Version", "13"),
        *extra,
    ])


def switching_protocols(key, extra=()):
    return build_response(101, "Switching Protocols", [
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Accept", ws_accept(key)),
        *extra,
    ])


def serve_transformed_lines(peer):
    """Tunnel mode on the backend side: each line comes back transformed, until EOF."""
    while True:
        try:
            line = peer.read_until(b"\n")
        except EOFError:
            return
        peer.send(transform(line[:-1]) + b"\n")


def assert_upgrade_request(request, target, key):
    assert request.method == "GET", request.start_line
    assert request.target == target, request.start_line
    assert request.version == "HTTP/1.1", request.start_line
    assert request.header("Upgrade").lower() == "websocket", request.headers
    assert "upgrade" in tokens(request.header("Connection")), request.headers
    assert request.header("Sec-WebSocket-Key") == key, request.headers
    assert request.header("Sec-WebSocket-Version") == "13", request.headers


class UpgradeHandshake(harness.E2ETestCase):
    def test_absolute_form_upgrade_with_bytes_pipelined_both_ways(self):
        key = ws_key()

        def backend_script(peer, index):
            request = peer.read_request()
            # Absolute form became origin form; its authority replaced the Host field (RFC 9112
            # §3.2.2).
            assert_upgrade_request(request, "/chat?room=1", key)
            assert request.values("Host") == ["chat.example:8123"], request.headers
            assert request.header("Sec-WebSocket-Protocol") == "echo", request.headers
            # The 101 and the first tunnel bytes leave in one write.
            peer.send(switching_protocols(key, [("Sec-WebSocket-Protocol", "echo")])
                      + b"welcome\n")
            serve_transformed_lines(peer)

        backend = self.fake_backend(backend_script)
        proxy = self.hoplite([backend])
        client = self.connect(proxy.port)
        # The head and the first tunnel bytes leave in one write too: hoplite must hold them
        # until the 101, then send them up.
        client.send(upgrade_request("http://chat.example:8123/chat?room=1", key,
                                    host="other.example",
                                    extra=[("Sec-WebSocket-Protocol", "echo")]) + b"Hello\n")
        response = client.read_response()
        self.assertEqual(response.status, 101)
        self.assertEqual(response.header("Sec-WebSocket-Accept"), ws_accept(key))
        self.assertEqual(response.header("Upgrade").lower(), "websocket")
        self.assertIn("upgrade", tokens(response.header("Connection")))
        self.assertEqual(response.header("Sec-WebSocket-Protocol"), "echo")
        self.assertEqual(client.read_until(b"\n"), b"welcome\n")
        self.assertEqual(client.read_until(b"\n"), transform(b"Hello") + b"\n")
        for line in (b"abc", b"Mixed Case Line " * 1000, b""):
            client.send(line + b"\n")
            self.assertEqual(client.read_until(b"\n", limit=1 << 22), transform(line) + b"\n")
        client.shutdown_write()
        self.assertEqual(client.closed_by_peer(), b"")
        counters = self.stop_hoplite(proxy)
        self.assertCounters(counters, tunnels_opened=1, tunnels_closed=1, upstream_connects=1)

    def test_refused_upgrade_then_held_request_is_parsed_not_tunnelled(self):
        key = ws_key()
        smuggled = build_request("GET", "/smuggled", [("Host", "app.test"),
                                                      ("X-Forwarded-For", "6.6.6.6")])

        def backend_script(peer, index):
            request = peer.read_request()
            if index == 1:
                assert_upgrade_request(request, "/chat", key)
                peer.send(build_response(403, "Forbidden", [("Content-Length", "9")],
                                         b"forbidden"))
                # The held bytes must never arrive here raw, and a connection that saw an
                # upgrade attempt is not reused: hoplite closes it.
                leftover = peer.closed_by_peer()
                assert leftover == b"", f"raw bytes reached the backend: {leftover!r}"
                return
            # If hoplite forwards the held request, it arrives parsed and re-serialised, on a
            # fresh connection, with hoplite's own X-Forwarded-For.
            assert index == 2, f"unexpected connection {index}"
            assert request.start_line == "GET /smuggled HTTP/1.1", request.start_line
            assert request.values("X-Forwarded-For") == ["127.0.0.1"], request.headers
            assert request.header("Upgrade") is None, request.headers
            body = transform(b"separate request")
            peer.send(build_response(200, "OK", [("Content-Length", str(len(body)))], body))
            backend.record(request)

        backend = self.fake_backend(backend_script)
        proxy = self.hoplite([backend])
        client = self.connect(proxy.port)
        client.send(upgrade_request("/chat", key) + smuggled)
        first = client.read_response()
        self.assertEqual((first.status, first.body), (403, b"forbidden"))
        # Stay in HTTP mode (the next request is answered) or close (refused): both are safe.
        try:
            second = client.read_response()
        except (EOFError, ConnectionResetError):
            second = None
        if second is not None:
            self.assertEqual((second.status, second.body), (200, transform(b"separate request")))
            harness.wait_until(lambda: backend.requests, what="the backend to record it")
        else:
            self.assertEqual(backend.accepted, 1)
        client.close()
        counters = self.stop_hoplite(proxy)
        self.assertCounters(counters, tunnels_opened=0)

    def test_refused_upgrade_then_frame_bytes_are_never_forwarded(self):
        key = ws_key()
        masked_frame = bytes([0x81, 0x85, 1, 2, 3, 4]) + bytes(b ^ m for b, m in
                                                              zip(b"hello", b"\x01\x02\x03\x04\x01"))

        def backend_script(peer, index):
            request = peer.read_request()
            assert index == 1, "a second upstream connection was opened"
            assert_upgrade_request(request, "/chat", key)
            peer.send(build_response(404, "Not Found", [("Content-Length", "0")]))
            leftover = peer.closed_by_peer()
            assert leftover == b"", f"raw bytes reached the backend: {leftover!r}"

        backend = self.fake_backend(backend_script)
        # Default timeouts: the verdict on the frame must not wait for client_header (10 s).
        proxy = self.hoplite([backend])
        client = self.connect(proxy.port)
        client.send(upgrade_request("/chat", key) + masked_frame)
        self.assertEqual(client.read_response().status, 404)
        # The frame is parsed as HTTP, where its first byte cannot start a method: hoplite
        # answers 400 at once and closes.
        rest = client.closed_by_peer()
        self.assertRegex(rest, rb"^HTTP/1\.1 400 ")
        self.assertEqual(backend.accepted, 1)
        counters = self.stop_hoplite(proxy)
        self.assertCounters(counters, tunnels_opened=0)

    def test_101_nobody_asked_for_is_a_502(self):
        def backend_script(peer, index):
            request = peer.read_request()
            assert request.header("Upgrade") is None, request.headers
            peer.send(build_response(101, "Switching Protocols", [
                ("Upgrade", "websocket"), ("Connection", "Upgrade")]) + b"RAW-TUNNEL-BYTES")
            peer.closed_by_peer()

        backend = self.fake_backend(backend_script)
        proxy = self.hoplite([backend])
        client = self.connect(proxy.port)
        client.send(build_request("GET", "/plain", [("Host", "app.test")]))
        response = client.read_response()
        self.assertEqual(response.status, 502)
        self.assertNotIn(b"RAW-TUNNEL", response.raw_head + response.body)
        # Whatever else arrives (hoplite may close or keep the connection), the tunnel bytes are
        # not in it.
        self.assertNotIn(b"RAW-TUNNEL", client.drain(0.5))
        client.close()
        counters = self.stop_hoplite(proxy)
        self.assertCounters(counters, tunnels_opened=0)
        self.assertGreaterEqual(counters["errors_5xx"], 1)

    def test_invalid_101_answers_are_502(self):
        key = ws_key()
        accept = ws_accept(key)
        cases = {
            "/wrong-accept": [("Upgrade", "websocket"), ("Connection", "Upgrade"),
                              ("Sec-WebSocket-Accept", ws_accept(ws_key()))],
            "/missing-accept": [("Upgrade", "websocket"), ("Connection", "Upgrade")],
            "/other-protocol": [("Upgrade", "h2c"), ("Connection", "Upgrade"),
                                ("Sec-WebSocket-Accept", accept)],
            "/no-connection-upgrade": [("Upgrade", "websocket"), ("Connection", "keep-alive"),
                                       ("Sec-WebSocket-Accept", accept)],
        }

        def backend_script(peer, index):
            request = peer.read_request()
            assert_upgrade_request(request, request.target, key)
            peer.send(build_response(101, "Switching Protocols", cases[request.target])
                      + b"RAW-TUNNEL-BYTES")
            peer.closed_by_peer()

        backend = self.fake_backend(backend_script)
        proxy = self.hoplite([backend])
        for target in cases:
            with self.subTest(target):
                client = self.connect(proxy.port)
                client.send(upgrade_request(target, key) + b"client tunnel bytes\n")
                response = client.read_response()
                self.assertEqual(response.status, 502)
                self.assertIsNone(response.header("Sec-WebSocket-Accept"))
                self.assertNotIn(b"RAW-TUNNEL", response.body)
                client.close()
        counters = self.stop_hoplite(proxy)
        self.assertCounters(counters, tunnels_opened=0)
        self.assertGreaterEqual(counters["errors_5xx"], len(cases))

    def test_h2c_is_not_forwarded(self):
        def backend_script(peer, index):
            for i in range(2):
                request = peer.read_request()
                assert request.header("Upgrade") is None, request.headers
                assert request.header("HTTP2-Settings") is None, request.headers
                connection = tokens(request.header("Connection"))
                assert "upgrade" not in connection and "http2-settings" not in connection, \
                    request.headers
                body = transform(f"plain http {i}".encode())
                peer.send(build_response(200, "OK", [("Content-Length", str(len(body)))], body))

        backend = self.fake_backend(backend_script)
        proxy = self.hoplite([backend])
        client = self.connect(proxy.port)
        client.send(build_request("GET", "/", [
            ("Host", "app.test"), ("Connection", "Upgrade, HTTP2-Settings"), ("Upgrade", "h2c"),
            ("HTTP2-Settings", "AAMAAABkAARAAAAAAAIAAAAA")]))
        response = client.read_response()
        self.assertEqual((response.status, response.body), (200, transform(b"plain http 0")))
        self.assertIsNone(response.header("Upgrade"))
        # Still plain HTTP/1.1 on the same connection.
        client.send(build_request("GET", "/next", [("Host", "app.test")]))
        response = client.read_response()
        self.assertEqual((response.status, response.body), (200, transform(b"plain http 1")))
        client.close()
        counters = self.stop_hoplite(proxy)
        self.assertCounters(counters, tunnels_opened=0, requests=2)

    def test_426_names_the_allowed_protocols_and_the_client_upgrades_on_the_same_connection(self):
        key = ws_key()

        def backend_script(peer, index):
            while True:
                try:
                    request = peer.read_request()
                except EOFError:
                    return
                if request.header("Upgrade") is None:
                    # RFC 9110 §15.5.22: a 426 names the protocols; h2c is not one hoplite allows.
                    body = transform(b"use websocket")
                    peer.send(build_response(426, "Upgrade Required", [
                        ("Upgrade", "websocket, h2c"), ("Connection", "Upgrade"),
                        ("Sec-WebSocket-Version", "13"), ("Content-Length", str(len(body)))],
                        body))
                    continue
                assert_upgrade_request(request, "/chat", key)
                peer.send(switching_protocols(key))
                serve_transformed_lines(peer)
                return

        backend = self.fake_backend(backend_script)
        proxy = self.hoplite([backend])
        client = self.connect(proxy.port)
        client.send(build_request("GET", "/chat", [("Host", "app.test")]))
        response = client.read_response()
        self.assertEqual((response.status, response.body), (426, transform(b"use websocket")))
        self.assertEqual(response.header("Upgrade"), "websocket")
        self.assertEqual(tokens(response.header("Connection")), ["upgrade"])
        self.assertEqual(response.header("Sec-WebSocket-Version"), "13")
        # The connection stays open in HTTP mode, and the client retries with a handshake.
        client.send(upgrade_request("/chat", key))
        response = client.read_response()
        self.assertEqual(response.status, 101)
        client.send(b"after 426\n")
        self.assertEqual(client.read_until(b"\n"), transform(b"after 426") + b"\n")
        client.close()
        counters = self.stop_hoplite(proxy)
        self.assertCounters(counters, tunnels_opened=1, requests=2)

    def test_h2c_101_from_backend_is_a_502(self):
        # hoplite strips the h2c offer, so a 101 to h2c answers something nobody asked for.
        def backend_script(peer, index):
            peer.read_request()
            peer.send(build_response(101, "Switching Protocols", [
                ("Upgrade", "h2c"), ("Connection", "Upgrade")]) + b"PRI * HTTP/2.0")
            peer.closed_by_peer()

        backend = self.fake_backend(backend_script)
        proxy = self.hoplite([backend])
        client = self.connect(proxy.port)
        client.send(build_request("GET", "/", [
            ("Host", "app.test"), ("Connection", "Upgrade, HTTP2-Settings"), ("Upgrade", "h2c"),
            ("HTTP2-Settings", "AAMAAABkAARAAAAAAAIAAAAA")]))
        response = client.read_response()
        self.assertEqual(response.status, 502)
        self.assertNotIn(b"PRI *", response.body)
        client.close()
        counters = self.stop_hoplite(proxy)
        self.assertCounters(counters, tunnels_opened=0)


def masked_frame(payload, mask=b"\x11\x22\x33\x44", opcode=0x1):
    """A client frame (RFC 6455 §5.2: FIN, `opcode`, masked), payload under 126 bytes."""
    assert len(payload) < 126
    return (bytes([0x80 | opcode, 0x80 | len(payload)]) + mask
            + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))


def server_frame(payload, opcode=0x1):
    """A server frame as the demo backend sends it: FIN, `opcode`, unmasked."""
    assert len(payload) < 126
    return bytes([0x80 | opcode, len(payload)]) + payload


class ZeroLengthBodyUpgrade(harness.E2ETestCase):
    """`Content-Length: 0` on an upgrade request is no body (RFC 9112 §6.3): hoplite grants it
    like a bodyless one. python3-websockets never sends it, so these clients speak raw bytes."""

    def test_websocket_with_content_length_zero_reaches_the_demo_backend(self):
        backend = self.demo_backend()
        proxy = self.hoplite([backend])
        client = self.connect(proxy.port)
        key = ws_key()
        # The first frame leaves with the head: hoplite holds it until the 101, then sends it up.
        client.send(upgrade_request("/echo", key, extra=[("Content-Length", "0")])
                    + masked_frame(b"first"))
        response = client.read_response()
        self.assertEqual(response.status, 101, response.raw_head)
        self.assertEqual(response.header("Sec-WebSocket-Accept"), ws_accept(key))
        # The echo comes back unmasked: bytes reflected by the proxy would still carry the mask.
        self.assertEqual(client.read_exact(7), server_frame(b"first"))
        client.send(masked_frame(b"second message", mask=b"\x01\x02\x03\x04"))
        self.assertEqual(client.read_exact(16), server_frame(b"second message"))
        client.send(masked_frame(b"\x03\xe8", opcode=0x8))  # close 1000
        self.assertEqual(client.read_exact(4), server_frame(b"\x03\xe8", opcode=0x8))
        client.closed_by_peer()
        counters = self.stop_hoplite(proxy)
        self.assertCounters(counters, tunnels_opened=1, tunnels_closed=1, rejected_4xx=0)

    def test_content_length_zero_upgrade_is_forwarded_bodyless(self):
        key = ws_key()

        def backend_script(peer, index):
            request = peer.read_request()
            assert index == 1, f"unexpected connection {index}"
            assert_upgrade_request(request, "/chat", key)
            # A bodyless GET: no framing field at all, and the held bytes are not a body.
            assert request.header("Content-Length") is None, request.headers
            assert request.header("Transfer-Encoding") is None, request.headers
            assert request.body == b"", request.body
            peer.send(switching_protocols(key))
            serve_transformed_lines(peer)

        backend = self.fake_backend(backend_script)
        proxy = self.hoplite([backend])
        client = self.connect(proxy.port)
        client.send(upgrade_request("/chat", key, extra=[("Content-Length", "0")]) + b"Held\n")
        self.assertEqual(client.read_response().status, 101)
        self.assertEqual(client.read_until(b"\n"), transform(b"Held") + b"\n")
        client.send(b"Next Line\n")
        self.assertEqual(client.read_until(b"\n"), transform(b"Next Line") + b"\n")
        client.shutdown_write()
        self.assertEqual(client.closed_by_peer(), b"")
        counters = self.stop_hoplite(proxy)
        self.assertCounters(counters, tunnels_opened=1, tunnels_closed=1, upstream_connects=1)

    def test_upgrade_with_a_real_body_is_still_refused(self):
        backend = self.fake_backend(lambda peer, index: peer.read_request())
        proxy = self.hoplite([backend])
        client = self.connect(proxy.port)
        client.send(upgrade_request("/chat", ws_key(), extra=[("Content-Length", "5")]) + b"hello")
        self.assertEqual(client.read_response().status, 400)
        client.closed_by_peer()
        self.assertEqual(backend.accepted, 0)
        counters = self.stop_hoplite(proxy)
        self.assertCounters(counters, tunnels_opened=0, upstream_connects=0)


if __name__ == "__main__":
    unittest.main()
