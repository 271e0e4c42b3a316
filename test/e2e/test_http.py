"""HTTP mode through hoplite: keep-alive on both sides, pipelining, bodies in every framing
(byte-exact by SHA-256), HEAD and other bodyless answers, 100-continue, retries, routing, and what the
client gets when the upstream is down, broken or silent.
"""

import os
import random
import subprocess
import threading
import unittest

import harness
from harness import build_request, build_response, sha256, transform

MIB = 1 << 20


def chunked(data, rng, extensions=False, trailers=()):
    """`data` as a chunked body with irregular chunk sizes."""
    out = bytearray()
    offset = 0
    while offset < len(data):
        size = min(rng.choice([1, 7, 100, 4096, 65536, 300000]), len(data) - offset)
        ext = b";ext=1" if extensions and rng.random() < 0.3 else b""
        out += b"%x%s\r\n" % (size, ext) + data[offset:offset + size] + b"\r\n"
        offset += size
    out += b"0\r\n" + b"".join(b"%s: %s\r\n" % t for t in trailers) + b"\r\n"
    return bytes(out)


class KeepAliveAndPipelining(harness.E2ETestCase):
    def setUp(self):
        super().setUp()
        self.backend = self.demo_backend()
        self.proxy = self.hoplite([self.backend])

    def test_keepalive_reuse_on_both_sides(self):
        seen = []
        client = self.connect(self.proxy.port)
        for i in range(3):
            client.send(build_request("GET", f"/seq/{i}", [("Host", "app.test")]))
            response = client.read_response()
            self.assertEqual(response.status, 200)
            seen.append(response.json()["connection"])
        client.close()
        # A second client connection gets the pooled upstream connection too.
        other = self.connect(self.proxy.port)
        other.send(build_request("GET", "/other", [("Host", "app.test")]))
        seen.append(other.read_response().json()["connection"])
        other.close()
        self.assertEqual({c["id"] for c in seen}, {seen[0]["id"]}, seen)
        self.assertEqual([c["request"] for c in seen], [1, 2, 3, 4])
        counters = self.stop_hoplite(self.proxy)
        self.assertCounters(counters, accepted=2, requests=4, upstream_connects=1,
                            upstream_reused=3, upstream_retries=0)

    def test_curl_reuses_its_connection(self):
        result = subprocess.run(
            ["curl", "-sS", "--max-time", "10", "-o", "/dev/null", "-o", "/dev/null",
             "-w", "%{http_code} %{num_connects}\n",
             self.proxy.url("/one"), self.proxy.url("/two")],
            capture_output=True, text=True, timeout=20)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout.split("\n")[:2], ["200 1", "200 0"])
        counters = self.stop_hoplite(self.proxy)
        self.assertCounters(counters, accepted=1, requests=2, upstream_connects=1)

    def test_pipelined_requests_are_answered_in_order(self):
        rng = random.Random(7)
        body = os.urandom(300000)
        client = self.connect(self.proxy.port)
        client.send(
            build_request("GET", "/p/1", [("Host", "app.test")])
            + build_request("POST", "/p/2", [("Host", "app.test"), ("Content-Length", "3")],
                            b"abc")
            + build_request("HEAD", "/bytes/100", [("Host", "app.test")])
            + build_request("POST", "/p/4", [("Host", "app.test"),
                                              ("Transfer-Encoding", "chunked")],
                            chunked(body, rng))
            + build_request("GET", "/bytes/70000", [("Host", "app.test")])
            + build_request("GET", "/p/6", [("Host", "app.test")]))
        first = client.read_response()
        self.assertEqual(first.json()["target"], "/p/1")
        second = client.read_response()
        self.assertEqual((second.json()["target"], second.json()["body_length"]), ("/p/2", 3))
        head = client.read_response(method="HEAD")
        self.assertEqual((head.status, head.header("Content-Length"), head.body),
                         (200, "100", b""))
        fourth = client.read_response().json()
        self.assertEqual((fourth["target"], fourth["body_sha256"]), ("/p/4", sha256(body)))
        self.assertEqual(client.read_response().body, harness.pattern_bytes(70000))
        last = client.read_response().json()
        self.assertEqual(last["target"], "/p/6")
        # All six went over one upstream connection, in order.
        self.assertEqual(last["connection"]["request"], 6)
        counters = self.stop_hoplite(self.proxy)
        self.assertCounters(counters, accepted=1, requests=6)

    def test_pipelined_requests_then_half_close_are_all_answered(self):
        client = self.connect(self.proxy.port)
        client.send(b"".join(build_request("GET", f"/hc/{i}", [("Host", "app.test")])
                             for i in range(3)))
        client.shutdown_write()  # FIN while the first request is still being answered
        for i in range(3):
            self.assertEqual(client.read_response().json()["target"], f"/hc/{i}")
        self.assertEqual(client.closed_by_peer(), b"")
        counters = self.stop_hoplite(self.proxy)
        self.assertCounters(counters, accepted=1, requests=3)

    def test_half_close_while_the_upstream_is_slow_still_gets_the_response(self):
        client_done = harness.threading.Event()

        def script(peer, index):
            peer.read_request()
            assert client_done.wait(harness.IO_TIMEOUT), "the client never half-closed"
            body = transform(b"late answer")
            peer.send(build_response(200, "OK", [("Content-Length", str(len(body)))], body))
            peer.drain(1.0)

        backend = self.fake_backend(script)
        proxy = self.hoplite([backend])
        client = self.connect(proxy.port)
        client.send(build_request("GET", "/slow", [("Host", "app.test")]))
        client.shutdown_write()
        # Give hoplite the FIN before the answer exists: wait until the request reached the
        # backend (the FIN was sent before it, on the same connection).
        harness.wait_until(lambda: backend.accepted == 1, what="the request upstream")
        client_done.set()
        self.assertEqual(client.read_response().body, transform(b"late answer"))
        self.assertEqual(client.closed_by_peer(), b"")
        counters = self.stop_hoplite(proxy)
        self.assertCounters(counters, requests=1, errors_5xx=0)


class UpstreamConnectionsBeyondKeepalive(harness.E2ETestCase):
    """More requests in flight than `keepalive`: the extra upstream connections stay parked while
    requests keep using them, and are closed once a whole period (1 s) passed without one."""

    IN_FLIGHT = 4

    def test_extra_connections_are_reused_then_closed_when_unused(self):
        # Each round's requests are answered only once all of them reached the backend, so each
        # round needs IN_FLIGHT upstream connections at the same time.
        rounds = {f"/round/{n}": threading.Barrier(self.IN_FLIGHT, timeout=harness.IO_TIMEOUT)
                  for n in (1, 2)}

        def handler(peer, index):
            while True:
                try:
                    request = peer.read_request()
                except EOFError:
                    backend.record(("closed", index))
                    return
                barrier = rounds.get(request.target)
                if barrier is not None:
                    barrier.wait()
                peer.send(build_response(200, headers=[("Content-Length", "2")], body=b"ok"))

        backend = self.fake_backend(handler)
        proxy = self.hoplite([backend], keepalive=1)
        clients = [self.connect(proxy.port) for _ in range(self.IN_FLIGHT)]

        def one_round(target):
            for client in clients:
                client.send(build_request("GET", target, [("Host", "app.test")]))
            for client in clients:
                self.assertEqual(client.read_response().status, 200)

        one_round("/round/1")
        self.assertEqual(backend.accepted, self.IN_FLIGHT)
        # At once again: the connections beyond keepalive=1 were parked, not closed.
        one_round("/round/2")
        self.assertEqual(backend.accepted, self.IN_FLIGHT)
        # Unused for a whole period, all but `keepalive` of them are closed by hoplite.
        harness.wait_until(lambda: len(backend.requests) == self.IN_FLIGHT - 1,
                           what="the unused upstream connections to close")
        # The one kept still serves.
        clients[0].send(build_request("GET", "/after", [("Host", "app.test")]))
        self.assertEqual(clients[0].read_response().status, 200)
        self.assertEqual(backend.accepted, self.IN_FLIGHT)
        self.assertEqual(len(backend.requests), self.IN_FLIGHT - 1)
        counters = self.stop_hoplite(proxy)
        self.assertCounters(counters, requests=2 * self.IN_FLIGHT + 1,
                            upstream_connects=self.IN_FLIGHT,
                            upstream_reused=self.IN_FLIGHT + 1, upstream_retries=0)


class CloseAfterResponse(harness.E2ETestCase):
    """How hoplite ends a connection after its last response: at once when the client said it
    sends nothing more, with a lingering close (reading until the client's EOF, briefly) when
    client bytes may still come and would turn the close into a reset."""

    CLOSED = r"^hoplite: session \S+ closed: (.*)$"

    def test_a_client_that_said_close_is_closed_without_lingering(self):
        backend = self.demo_backend()
        proxy = self.hoplite([backend], debug=True)
        client = self.connect(proxy.port)
        client.send(build_request("GET", "/bye", [("Host", "app.test"), ("Connection", "close")]))
        response = client.read_response()
        self.assertEqual(response.status, 200)
        self.assertEqual(response.header("Connection"), "close")
        self.assertEqual(client.read_to_eof(), b"")  # a clean FIN after the whole response
        # The client keeps its socket open: hoplite did not wait for its EOF.
        closed = proxy.stderr.wait_for(self.CLOSED, harness.IO_TIMEOUT)
        self.assertIsNotNone(closed, proxy.stderr.text())
        self.assertEqual(closed.group(1), "finished")
        self.stop_hoplite(proxy)

    def test_a_rejected_request_still_gets_a_lingering_close(self):
        backend = self.demo_backend()
        proxy = self.hoplite([backend], debug=True)
        client = self.connect(proxy.port)
        # A space before the colon: 400, and the rest of what the client sent is unknown.
        client.send(b"GET /bad HTTP/1.1\r\nHost : app.test\r\n\r\n")
        self.assertEqual(client.read_response().status, 400)
        self.assertEqual(client.read_to_eof(), b"")
        closed = proxy.stderr.wait_for(self.CLOSED, harness.IO_TIMEOUT)
        self.assertIsNotNone(closed, proxy.stderr.text())
        self.assertEqual(closed.group(1), "linger expired")
        self.stop_hoplite(proxy)


class Bodies(harness.E2ETestCase):
    def setUp(self):
        super().setUp()
        self.backend = self.demo_backend()
        self.proxy = self.hoplite([self.backend])

    def test_content_length_upload_is_byte_exact(self):
        body = os.urandom(8 * MIB)
        client = self.connect(self.proxy.port)
        client.send(build_request("PUT", "/upload", [
            ("Host", "app.test"), ("Content-Length", str(len(body)))], body))
        document = client.read_response().json()
        self.assertEqual((document["body_length"], document["body_sha256"]),
                         (len(body), sha256(body)))
        self.assertIn(["Content-Length", str(len(body))],
                      [[n.title(), v] for n, v in document["headers"]])

    def test_chunked_upload_with_extensions_and_trailers_is_byte_exact(self):
        body = os.urandom(6 * MIB + 12345)
        client = self.connect(self.proxy.port)
        client.send(build_request("POST", "/upload", [
            ("Host", "app.test"), ("Transfer-Encoding", "chunked")],
            chunked(body, random.Random(1), extensions=True,
                    trailers=[(b"X-Checksum", b"abc")])))
        document = client.read_response().json()
        self.assertEqual((document["body_length"], document["body_sha256"]),
                         (len(body), sha256(body)))
        names = [n.lower() for n, _ in document["headers"]]
        self.assertNotIn("x-checksum", names, "a trailer was merged into the head")

    def test_curl_chunked_upload_and_large_download(self):
        upload = os.path.join(self.tmp, "upload.bin")
        data = os.urandom(5 * MIB)
        with open(upload, "wb") as f:
            f.write(data)
        result = subprocess.run(
            ["curl", "-sS", "--max-time", "20", "-H", "Transfer-Encoding: chunked",
             "--data-binary", f"@{upload}", self.proxy.url("/curl-upload")],
            capture_output=True, timeout=30)
        self.assertEqual(result.returncode, 0, result.stderr)
        document = harness.json.loads(result.stdout)
        self.assertEqual((document["body_length"], document["body_sha256"]),
                         (len(data), sha256(data)))

        download = os.path.join(self.tmp, "download.bin")
        size = 16 * MIB + 3
        result = subprocess.run(
            ["curl", "-sS", "--max-time", "20", "-o", download, self.proxy.url(f"/bytes/{size}")],
            capture_output=True, timeout=30)
        self.assertEqual(result.returncode, 0, result.stderr)
        with open(download, "rb") as f:
            self.assertEqual(sha256(f.read()), sha256(harness.pattern_bytes(size)))

    def test_100_continue(self):
        body = os.urandom(100000)
        client = self.connect(self.proxy.port)
        client.send(build_request("POST", "/expect", [
            ("Host", "app.test"), ("Content-Length", str(len(body))),
            ("Expect", "100-continue")]))
        # The body is held back until the interim answer comes (bounded by the socket timeout).
        interim = client.read_response(interim=True)
        self.assertEqual(interim.status, 100)
        client.send(body)
        final = client.read_response()
        self.assertEqual(final.status, 200)
        self.assertEqual((final.json()["body_length"], final.json()["body_sha256"]),
                         (len(body), sha256(body)))
        # And the connection goes on.
        client.send(build_request("GET", "/after", [("Host", "app.test")]))
        self.assertEqual(client.read_response().json()["target"], "/after")


class ResponseFraming(harness.E2ETestCase):
    """Scripted backends answer in each framing; the client must get the same bytes."""

    def setUp(self):
        super().setUp()
        self.payload = os.urandom(3 * MIB + 17)
        rng = random.Random(3)
        payload = self.payload

        def script(peer, index):
            while True:
                try:
                    request = peer.read_request()
                except EOFError:
                    return
                if request.target == "/chunked":
                    peer.send(build_response(200, "OK", [("Transfer-Encoding", "chunked")])
                              + chunked(payload, rng, extensions=True,
                                        trailers=[(b"X-Trailer", b"late")]))
                elif request.target == "/until-close":
                    peer.send(build_response(200, "OK", [("Connection", "close")]) + payload)
                    return
                elif request.target == "/head-chunked":
                    assert request.method == "HEAD", request.start_line
                    peer.send(build_response(200, "OK", [("Transfer-Encoding", "chunked")]))
                elif request.target == "/head-length":
                    peer.send(build_response(200, "OK", [("Content-Length", "50")]))
                elif request.target == "/204":
                    peer.send(build_response(204, "No Content", []))
                elif request.target == "/304":
                    peer.send(build_response(304, "Not Modified", [("ETag", '"x"')]))
                elif request.target == "/small":
                    body = transform(b"small body")
                    peer.send(build_response(200, "OK", [("Content-Length", str(len(body)))],
                                             body))
                else:
                    raise AssertionError(f"unexpected {request.start_line}")

        self.backend = self.fake_backend(script)
        self.proxy = self.hoplite([self.backend])

    def test_chunked_response_is_byte_exact_without_merged_trailers(self):
        client = self.connect(self.proxy.port)
        client.send(build_request("GET", "/chunked", [("Host", "app.test")]))
        response = client.read_response()
        self.assertEqual(sha256(response.body), sha256(self.payload))
        self.assertIsNone(response.header("X-Trailer"), "a trailer was merged into the head")

    def test_close_delimited_response_reaches_http11_and_http10_clients(self):
        for version in ("HTTP/1.1", "HTTP/1.0"):
            with self.subTest(version):
                client = self.connect(self.proxy.port)
                client.send(build_request("GET", "/until-close", [("Host", "app.test")],
                                          version=version))
                response = client.read_response()
                self.assertEqual(response.status, 200)
                self.assertEqual(sha256(response.body), sha256(self.payload))
                if version == "HTTP/1.0":
                    self.assertEqual(response.values("Transfer-Encoding"), [])
                client.close()

    def test_bodyless_answers_keep_the_connection_in_sync(self):
        client = self.connect(self.proxy.port)
        for method, target, status in (("HEAD", "/head-chunked", 200),
                                       ("HEAD", "/head-length", 200),
                                       ("GET", "/204", 204), ("GET", "/304", 304)):
            with self.subTest(target):
                client.send(build_request(method, target, [("Host", "app.test")]))
                response = client.read_response(method=method)
                self.assertEqual((response.status, response.body), (status, b""))
                if target == "/head-length":
                    self.assertEqual(response.header("Content-Length"), "50")
                # Had any body byte been expected or sent, this answer would be out of step.
                client.send(build_request("GET", "/small", [("Host", "app.test")]))
                self.assertEqual(client.read_response().body, transform(b"small body"))


class UpstreamFailures(harness.E2ETestCase):
    def test_upstream_down_is_502(self):
        address, sock = harness.refused_address()
        self.keep(sock)
        proxy = self.hoplite([address])
        client = self.connect(proxy.port)
        client.send(build_request("GET", "/", [("Host", "app.test")]))
        self.assertEqual(client.read_response().status, 502)
        client.close()
        counters = self.stop_hoplite(proxy)
        self.assertCounters(counters, errors_5xx=1, upstream_connects=0)

    def test_silent_upstream_is_504(self):
        def script(peer, index):
            peer.read_request()
            peer.closed_by_peer()  # never answers; hoplite gives up and closes

        backend = self.fake_backend(script)
        proxy = self.hoplite([backend], timeouts={"upstream_response": "300ms"})
        client = self.connect(proxy.port)
        start = harness.time.monotonic()
        client.send(build_request("GET", "/", [("Host", "app.test")]))
        response = client.read_response()
        elapsed = harness.time.monotonic() - start
        self.assertEqual(response.status, 504)
        self.assertElapsedBetween(elapsed, 0.25, 3.0, "the 504")
        client.close()
        counters = self.stop_hoplite(proxy)
        self.assertCounters(counters, errors_5xx=1, timeout_upstream_response=1)

    def test_invalid_responses_are_502(self):
        cases = {
            "/both-lengths": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
                             b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            "/obs-fold": b"HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 0\r\n\r\n",
            "/not-http": b"SSH-2.0-OpenSSH_9.2\r\n\r\n",
            "/bad-length": b"HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n",
            "/nul-in-value": b"HTTP/1.1 200 OK\r\nX: a\x00b\r\nContent-Length: 0\r\n\r\n",
            # A good head and a broken body in one read: nothing reached the client yet, so it
            # still gets a 502 rather than a silent close.
            "/bad-first-chunk": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            "/bare-lf-in-chunk-extension": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                           b"5;x\n=1\r\nhello\r\n0\r\n\r\n",
            # Upstream heads have the same limits as client heads (16 KiB, 100 fields by default).
            "/head-over-max-bytes": b"HTTP/1.1 200 OK\r\nX-Big: " + b"x" * 20000
                                    + b"\r\nContent-Length: 0\r\n\r\n",
            "/more-fields-than-max-count": b"HTTP/1.1 200 OK\r\n"
                                           + b"".join(b"X-%d: v\r\n" % i for i in range(150))
                                           + b"Content-Length: 0\r\n\r\n",
        }

        def script(peer, index):
            request = peer.read_request()
            peer.send(cases[request.target])
            peer.drain(1.0)

        backend = self.fake_backend(script)
        proxy = self.hoplite([backend])
        for target in cases:
            with self.subTest(target):
                client = self.connect(proxy.port)
                client.send(build_request("GET", target, [("Host", "app.test")]))
                response = client.read_response()
                self.assertEqual(response.status, 502)
                client.close()
        counters = self.stop_hoplite(proxy)
        self.assertCounters(counters, errors_5xx=len(cases))

    def test_broken_body_after_the_head_aborts_the_client_connection(self):
        cases = {
            "/truncated": build_response(200, "OK", [("Content-Length", "100")], b"only ten.."),
            "/bad-chunk": build_response(200, "OK", [("Transfer-Encoding", "chunked")],
                                         b"a\r\nonly ten..\r\nzz\r\n"),
        }

        def script(peer, index):
            request = peer.read_request()
            peer.send(cases[request.target])
            if request.target == "/bad-chunk":
                peer.drain(1.0)

        backend = self.fake_backend(script)
        proxy = self.hoplite([backend])
        for target in cases:
            with self.subTest(target):
                client = self.connect(proxy.port)
                client.send(build_request("GET", target, [("Host", "app.test")]))
                head = client.read_until(b"\r\n\r\n")
                self.assertTrue(head.startswith(b"HTTP/1.1 200"), head)
                # The head was already sent, so the body is never padded or ended cleanly: the
                # client sees at most the ten good bytes, then the close.
                rest = client.closed_by_peer()
                if b"transfer-encoding: chunked" in head.lower():
                    self.assertNotIn(b"0\r\n\r\n", rest, "a broken body was ended cleanly")
                    self.assertIn(rest, (b"", b"a\r\nonly ten..\r\n"))
                else:
                    self.assertEqual(rest, b"only ten..")
                client.close()

    def test_client_reset_mid_body_then_the_rest_of_the_response_in_one_read(self):
        # The client is gone while the body streams, and the backend's last bytes complete the
        # response in one read: hoplite's write to the client fails inside the response parser's
        # body callback, and the session ends there, while that parser is still running.
        client_gone = threading.Event()

        def script(peer, index):
            peer.read_request()
            peer.send(build_response(200, "OK", [("Content-Length", "10")]) + b"first")
            assert client_gone.wait(harness.IO_TIMEOUT), "the client never went away"
            peer.send(b"-last")
            peer.drain(1.0)

        backend = self.fake_backend(script)
        proxy = self.hoplite([backend])
        client = self.connect(proxy.port)
        client.send(build_request("GET", "/", [("Host", "app.test")]))
        # hoplite stops reading a client after its EOF, so it learns of the reset only by writing.
        client.shutdown_write()
        head = client.read_until(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 200"), head)
        self.assertEqual(client.read_exact(5), b"first")
        client.reset()
        client_gone.set()
        # hoplite lives on: the next client is served.
        harness.wait_until(lambda: backend.accepted == 1 and client_gone.is_set(),
                           what="the backend's first connection")
        follower = self.connect(proxy.port)
        follower.send(build_request("GET", "/next", [("Host", "app.test")]))
        self.assertIsNotNone(follower.read_until(b"\r\n\r\n"))
        follower.close()
        self.assertTrue(proxy.running())

    def test_request_failing_on_a_reused_connection_is_retried_once(self):
        def script(peer, index):
            if index == 1:
                peer.read_request()
                body = transform(b"first")
                peer.send(build_response(200, "OK", [("Content-Length", str(len(body)))], body))
                # The second request arrives on this pooled connection; close without answering,
                # as a server whose keep-alive timer fired at that moment would.
                peer.read_request()
                return
            request = peer.read_request()
            assert request.target == "/second", request.start_line
            body = transform(b"second")
            peer.send(build_response(200, "OK", [("Content-Length", str(len(body)))], body))
            peer.drain(1.0)

        backend = self.fake_backend(script)
        proxy = self.hoplite([backend])
        client = self.connect(proxy.port)
        client.send(build_request("GET", "/first", [("Host", "app.test")]))
        self.assertEqual(client.read_response().body, transform(b"first"))
        client.send(build_request("GET", "/second", [("Host", "app.test")]))
        self.assertEqual(client.read_response().body, transform(b"second"))
        client.close()
        counters = self.stop_hoplite(proxy)
        self.assertCounters(counters, upstream_connects=2, upstream_retries=1, errors_5xx=0)


class NextServerOnConnectFailure(harness.E2ETestCase):
    """nginx's default `proxy_next_upstream error timeout` for connection establishment: a server
    that cannot be connected to is skipped for the next one, each at most once per request."""

    def get(self, proxy, target="/"):
        client = self.connect(proxy.port)
        client.send(build_request("GET", target, [("Host", "app.test"), ("Connection", "close")]))
        response = client.read_response()
        client.close()
        return response

    def test_dead_server_is_skipped_and_every_request_succeeds(self):
        dead, sock = harness.refused_address()
        self.keep(sock)
        backend = self.demo_backend()
        # No pooling, and the dead server first: every request picks a server, and the very first
        # one meets the dead server.
        proxy = self.hoplite([dead, backend], keepalive=0)
        for i in range(6):
            response = self.get(proxy, f"/request/{i}")
            self.assertEqual(response.status, 200, response.body)
            self.assertEqual(response.json()["target"], f"/request/{i}")
        counters = self.stop_hoplite(proxy)
        # The failed server is then skipped for a while (nginx fail_timeout), so it fails once.
        self.assertCounters(counters, upstream_connect_failures=1, upstream_connects=6,
                            errors_5xx=0, requests=6)

    def test_connect_timeout_goes_on_to_the_next_server(self):
        silent, sockets = harness.blackhole()
        self.keep(sockets)
        backend = self.demo_backend()
        proxy = self.hoplite([silent, backend], keepalive=0,
                             timeouts={"upstream_connect": "300ms"})
        start = harness.time.monotonic()
        response = self.get(proxy)
        elapsed = harness.time.monotonic() - start
        self.assertEqual(response.status, 200, response.body)
        self.assertElapsedBetween(elapsed, 0.25, 3.0, "the answer from the second server")
        counters = self.stop_hoplite(proxy)
        self.assertCounters(counters, upstream_connect_failures=1, timeout_upstream_connect=1,
                            errors_5xx=0)

    def test_every_server_down_is_502_after_trying_each_once_then_503(self):
        addresses = []
        for _ in range(3):
            address, sock = harness.refused_address()
            self.keep(sock)
            addresses.append(address)
        proxy = self.hoplite(addresses)
        self.assertEqual(self.get(proxy).status, 502)
        # Each failure ejected its server (passive_health's default: max_fails 1, 10 s): the
        # next request is refused with 503 at once, no server tried.
        response = self.get(proxy)
        self.assertEqual(response.status, 503, response.body)
        self.assertIn(b"no upstream server is available", response.body)
        counters = self.stop_hoplite(proxy)
        self.assertCounters(counters, upstream_connect_failures=3, errors_5xx=2,
                            upstream_connects=0)

    def test_last_failure_a_connect_timeout_is_504(self):
        dead, sock = harness.refused_address()
        self.keep(sock)
        silent, sockets = harness.blackhole()
        self.keep(sockets)
        proxy = self.hoplite([dead, silent], timeouts={"upstream_connect": "200ms"})
        self.assertEqual(self.get(proxy).status, 504)
        counters = self.stop_hoplite(proxy)
        self.assertCounters(counters, upstream_connect_failures=2, timeout_upstream_connect=1,
                            errors_5xx=1)


class Routing(harness.E2ETestCase):
    def test_routes_pick_the_upstream_and_no_route_is_404(self):
        def named(name):
            def script(peer, index):
                while True:
                    try:
                        request = peer.read_request()
                    except EOFError:
                        return
                    body = f"{name} {request.target}".encode()
                    peer.send(build_response(200, "OK", [("Content-Length", str(len(body)))],
                                             body))
            return script

        api = self.fake_backend(named("api"))
        web = self.fake_backend(named("web"))
        proxy = self.hoplite([], upstreams={
            "api": {"servers": [api.address]}, "web": {"servers": [web.address]}}, routes=[
            {"host": "api.example.com", "upstream": "api"},
            {"host": "*.example.com", "path_prefix": "/static", "upstream": "web"},
        ])
        client = self.connect(proxy.port)
        for host, target, expected in (
                ("api.example.com", "/v1", b"api /v1"),
                ("API.example.com:8080", "/v2", b"api /v2"),
                ("www.example.com", "/static/app.js", b"web /static/app.js"),
                ("www.example.com", "/other", None),
                ("example.org", "/static/x", None)):
            with self.subTest(f"{host}{target}"):
                client.send(build_request("GET", target, [("Host", host)]))
                response = client.read_response()
                if expected is None:
                    self.assertEqual(response.status, 404)
                    client.close()
                    client = self.connect(proxy.port)
                else:
                    self.assertEqual((response.status, response.body), (200, expected))


if __name__ == "__main__":
    unittest.main()
