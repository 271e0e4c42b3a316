"""Seeded mutation fuzzing of both sides at once: clients send mutated requests (in random pieces,
sometimes half-closing or resetting), and a backend answers with mutated responses (sometimes in
pieces, then resetting or closing). Whatever the bytes, hoplite must stay up, answer every client
that waits for an answer, and stop cleanly; under the ASan build any memory error ends hoplite
and fails the test. Two bugs of the response path were found this way: a use-after-free when a
client write failed inside the body callback, and a silent close when a body broke in the read
that brought its head.

The seeds are fixed, so a run is reproducible apart from thread timing; the case count and every
wait are bounded.
"""

import base64
import hashlib
import random
import unittest

import harness

CASES = 300
SEED = 20261125
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
KEY = b"dGhlIHNhbXBsZSBub25jZQ=="

REQUESTS = [
    b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET /a HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 1.2.3.4\r\n\r\n"
    b"GET /b HTTP/1.1\r\nHost: b\r\n\r\n",
    b"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
    b"POST /p HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5;ext=1\r\nhello\r\n0\r\nTrailer: x\r\n\r\n",
    b"GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: " + KEY + b"\r\nSec-WebSocket-Version: 13\r\n\r\n"
    b"\x81\x85abcd\x09\x07\x0f\x08\x0e",
    b"GET http://h:1/a?b HTTP/1.1\r\nHost: z\r\nConnection: close, X-A\r\nX-A: 1\r\n"
    b"Expect: 100-continue\r\nContent-Length: 3\r\n\r\nabc",
    b"HEAD / HTTP/1.0\r\n\r\n",
    b"OPTIONS * HTTP/1.1\r\nHost: a\r\nUpgrade: h2c, websocket\r\n"
    b"Connection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAA\r\n\r\n",
]
REQUEST_TOKENS = [b"\r\n", b"\n", b"\r", b"\x00", b" ", b":", b",", b"chunked", b"Content-Length: ",
                  b"Transfer-Encoding: ", b"Upgrade: websocket", b"Connection: upgrade",
                  b"0\r\n\r\n", b"ffffffffffffffff", b"-1", b"HTTP/1.1", b"\t", b"\x7f", b"\xff"]

RESPONSES = [
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=1\r\nhello\r\n3\r\nabc\r\n0\r\n"
    b"T: 1\r\n\r\n",
    b"HTTP/1.1 200 OK\r\n\r\nuntil close body",
    b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok",
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
    b"HTTP/1.1 204 No Content\r\n\r\n",
    b"HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\nETag: x\r\n\r\n",
    b"HTTP/1.1 426 Upgrade Required\r\nUpgrade: websocket, h2c\r\nConnection: upgrade, close\r\n"
    b"Content-Length: 0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nConnection: close, X-A\r\nX-A: 1\r\nKeep-Alive: 5\r\n"
    b"Content-Length: 3\r\n\r\nabc",
]
RESPONSE_TOKENS = [b"\r\n", b"\n", b"\x00", b" ", b"0\r\n\r\n", b"Content-Length: 3\r\n",
                   b"Transfer-Encoding: chunked\r\n", b"ffffffff",
                   b"HTTP/1.1 101 Switching Protocols\r\n"]


def mutate(rng, data, tokens, most):
    """`data` with up to `most` random edits: a byte changed, a token inserted, bytes deleted,
    a stretch repeated, or the rest cut off."""
    data = bytearray(data)
    for _ in range(rng.randint(0, most)):
        op = rng.randrange(5)
        pos = rng.randrange(len(data) + 1)
        if op == 0 and data:
            data[min(pos, len(data) - 1)] = rng.randrange(256)
        elif op == 1:
            data[pos:pos] = rng.choice(tokens)
        elif op == 2 and data:
            del data[pos:pos + rng.randint(1, 8)]
        elif op == 3:
            data[pos:pos] = data[max(0, pos - 20):pos] * rng.randint(1, 50)
        else:
            del data[pos:]
    return bytes(data)


def send_in_pieces(rng, sock, data):
    offset = 0
    while offset < len(data):
        size = rng.randint(1, len(data))
        sock.sendall(data[offset:offset + size])
        offset += size


def fuzzing_backend(peer, index):
    """Answers each request head with a mutated response, a WebSocket handshake usually with a
    valid 101 and then an echo; after a response it may reset, close or wait for the next."""
    rng = random.Random(SEED * 7 + index)
    try:
        while True:
            head = peer.read_until(b"\r\n\r\n", limit=1 << 16)
            key = next((line.split(b":", 1)[1].strip() for line in head.split(b"\r\n")
                        if line.lower().startswith(b"sec-websocket-key:")), None)
            if key is not None and rng.random() < 0.7:
                accept = base64.b64encode(hashlib.sha1(key + WS_GUID).digest())
                answer = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                          b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n")
                peer.send(mutate(rng, answer, RESPONSE_TOKENS, 1) + b"\x81\x02hi")
                peer.send(peer.read_some())
                if rng.random() < 0.3:
                    peer.reset()
                return
            send_in_pieces(rng, peer.sock, mutate(rng, rng.choice(RESPONSES), RESPONSE_TOKENS, 4))
            then = rng.random()
            if then < 0.15:
                peer.reset()
                return
            if then < 0.3:
                return
    except (EOFError, OSError, AssertionError):
        return  # hoplite closed, reset or sent too much: this connection is done


class Fuzzing(harness.E2ETestCase):
    def test_mutated_requests_and_responses_always_get_an_answer_and_never_crash(self):
        backend = self.fake_backend(fuzzing_backend)
        proxy = self.hoplite(
            [backend],
            timeouts={"client_header": "300ms", "client_idle": "300ms", "client_body": "300ms",
                      "upstream_response": "1s"},
            limits={"max_header_bytes": 4096, "max_header_count": 30, "max_body_bytes": 100000})
        rng = random.Random(SEED)
        silent = []
        for case in range(CASES):
            request = REQUESTS[rng.randrange(len(REQUESTS))]
            payload = request if rng.random() < 0.4 else mutate(rng, request, REQUEST_TOKENS, 6)
            half_close = rng.random() < 0.5
            leave_early = rng.random() < 0.1
            client = harness.connect(proxy.port)
            try:
                send_in_pieces(rng, client.sock, payload)
                if half_close:
                    client.shutdown_write()
                if leave_early:
                    if rng.random() < 0.5:
                        client.reset()
                    continue
                try:
                    answer = client.closed_by_peer(timeout=10)
                except (ConnectionResetError, AssertionError):
                    continue  # reset after an answer, or a tunnel still open: both fine
                # A client that sent something and waits gets an answer, whatever it sent: a
                # complete request, a broken one (400), or a part of one (408). Only a client that
                # half-closed in the middle of a head may get a plain close.
                if payload and not half_close and not answer.startswith(b"HTTP/1.1 "):
                    silent.append((case, payload[:200], answer[:100]))
            finally:
                client.close()
        self.assertEqual(silent, [], "clients closed without an answer")
        self.stop_hoplite(proxy)
        # The response side was exercised too, not only the request parser's refusals.
        self.assertGreater(backend.accepted, CASES // 5, "too few cases reached the backend")


if __name__ == "__main__":
    unittest.main()
