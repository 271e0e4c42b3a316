"""A real WebSocket client (Debian's python3-websockets) through hoplite to the demo backend.

The demo backend echoes frames unmasked, as a server must (RFC 6455 §5.1), while the client masks
what it sends: a proxy that reflected the client's bytes would hand the client masked frames, which
websockets refuses. So a passing echo proves the bytes went to the backend and back.
"""

import asyncio
import os
import unittest

import websockets

import harness

# 0 bytes to several MiB, across each frame-length encoding boundary (7-bit, 16-bit, 64-bit).
SIZES = [0, 1, 125, 126, 127, 65535, 65536, 65537, 1 << 20, 5 * (1 << 20)]


def connect(proxy, path="/chat", **options):
    return websockets.connect(
        f"ws://127.0.0.1:{proxy.port}{path}", max_size=None, ping_interval=None,
        compression=None, open_timeout=harness.IO_TIMEOUT, close_timeout=harness.IO_TIMEOUT,
        **options)


class WebSocketSession(harness.E2ETestCase):
    def setUp(self):
        super().setUp()
        self.backend = self.demo_backend()
        self.proxy = self.hoplite([self.backend])

    def run_async(self, coroutine, timeout=60):
        asyncio.run(asyncio.wait_for(coroutine, timeout))

    def test_messages_from_empty_to_several_mib_echo_intact(self):
        async def session():
            async with connect(self.proxy, subprotocols=["chat.v1", "chat.v0"]) as ws:
                # Sec-WebSocket-Protocol went up and the backend's choice came back down.
                self.assertEqual(ws.subprotocol, "chat.v1")
                for size in SIZES:
                    payload = os.urandom(size)
                    await ws.send(payload)
                    echoed = await asyncio.wait_for(ws.recv(), harness.IO_TIMEOUT * 2)
                    self.assertIsInstance(echoed, bytes)
                    self.assertEqual(len(echoed), size)
                    self.assertEqual(harness.sha256(echoed), harness.sha256(payload), f"{size} B")
                    text = "é✓" * (size // 5) + "x" * (size % 5)
                    await ws.send(text)
                    self.assertEqual(await asyncio.wait_for(ws.recv(), harness.IO_TIMEOUT * 2),
                                     text, f"text of about {size} B")
                await ws.close(code=1000, reason="done")
                self.assertEqual(ws.close_code, 1000)

        self.run_async(session())
        counters = self.stop_hoplite(self.proxy)
        self.assertCounters(counters, tunnels_opened=1, tunnels_closed=1, errors_5xx=0,
                            timeout_tunnel_idle=0)

    def test_fragmented_message_is_reassembled(self):
        async def session():
            async with connect(self.proxy) as ws:
                fragments = [b"first ", b"", b"second ", os.urandom(200000), b"last"]
                await ws.send(fragments)  # one message in five frames
                self.assertEqual(await asyncio.wait_for(ws.recv(), harness.IO_TIMEOUT),
                                 b"".join(fragments))
                await ws.send(["frag", "mented ", "text"])
                self.assertEqual(await asyncio.wait_for(ws.recv(), harness.IO_TIMEOUT),
                                 "fragmented text")

        self.run_async(session())

    def test_ping_gets_pong_and_close_gets_close(self):
        async def session():
            async with connect(self.proxy) as ws:
                for payload in (b"", b"are you there?", os.urandom(125)):
                    waiter = await ws.ping(payload)
                    await asyncio.wait_for(waiter, harness.IO_TIMEOUT)
                await ws.send("still talking")
                self.assertEqual(await asyncio.wait_for(ws.recv(), harness.IO_TIMEOUT),
                                 "still talking")
                await ws.close(code=4001, reason="custom")
                # The backend's close frame echoes our code: it came through the tunnel.
                self.assertEqual(ws.close_code, 4001)

        self.run_async(session())
        counters = self.stop_hoplite(self.proxy)
        self.assertCounters(counters, tunnels_opened=1, tunnels_closed=1)

    def test_many_sessions_in_sequence_and_in_parallel(self):
        async def one(i):
            async with connect(self.proxy, path=f"/room/{i}") as ws:
                for j in range(5):
                    message = f"session {i} message {j} " + "z" * (i * 100)
                    await ws.send(message)
                    self.assertEqual(await asyncio.wait_for(ws.recv(), harness.IO_TIMEOUT),
                                     message)

        async def sessions():
            await one(0)
            await asyncio.gather(*(one(i) for i in range(1, 21)))

        self.run_async(sessions())
        counters = self.stop_hoplite(self.proxy)
        self.assertCounters(counters, tunnels_opened=21, tunnels_closed=21, errors_5xx=0)


if __name__ == "__main__":
    unittest.main()
