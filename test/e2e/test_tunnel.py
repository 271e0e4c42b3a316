"""Tunnel mode after a valid 101: half-close in each direction, backpressure in each direction
(hoplite's memory stays bounded while one side does not read), and a thousand concurrent tunnels.

Backends answer with transformed bytes (or a digest of what they received), never an echo.
"""

import asyncio
import hashlib
import os
import select
import socket
import threading
import time
import unittest

import harness
from harness import build_request, build_response, transform, ws_accept, ws_key

MIB = 1 << 20
BULK_BYTES = 64 * MIB
# What hoplite may hold for one tunnel while a peer does not read: its own buffers plus whatever the
# allocator keeps. Far below BULK_BYTES, so an unbounded queue cannot pass.
RSS_GROWTH_LIMIT_KIB = 32 * 1024
SMALL_SOCKET_BUFFER = 64 * 1024


def accept_upgrade(peer):
    request = peer.read_request()
    assert request.header("Upgrade").lower() == "websocket", request.headers
    peer.send(build_response(101, "Switching Protocols", [
        ("Upgrade", "websocket"), ("Connection", "Upgrade"),
        ("Sec-WebSocket-Accept", ws_accept(request.header("Sec-WebSocket-Key")))]))


def upgrade_request(target="/ws"):
    key = ws_key()
    return key, build_request("GET", target, [
        ("Host", "app.test"), ("Upgrade", "websocket"), ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", key), ("Sec-WebSocket-Version", "13")])


class TunnelTestCase(harness.E2ETestCase):
    def open_tunnel(self, proxy, sndbuf=None, rcvbuf=None):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if sndbuf:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
        if rcvbuf:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.settimeout(harness.IO_TIMEOUT)
        sock.connect(("127.0.0.1", proxy.port))
        client = harness.Peer(sock)
        self._clients.append(client)
        self.addCleanup(client.close)
        key, request = upgrade_request()
        client.send(request)
        response = client.read_response()
        self.assertEqual(response.status, 101)
        self.assertEqual(response.header("Sec-WebSocket-Accept"), ws_accept(key))
        return client


class HalfClose(TunnelTestCase):
    def test_client_eof_reaches_the_backend_which_still_answers(self):
        def script(peer, index):
            accept_upgrade(peer)
            received = peer.read_to_eof()  # ends only when hoplite forwards the client's FIN
            peer.send(transform(received))
            peer.shutdown_write()
            peer.drain(2.0)

        backend = self.fake_backend(script)
        proxy = self.hoplite([backend])
        client = self.open_tunnel(proxy)
        message = b"Half-Closed Tunnels Still Carry The Answer " * 1000
        for i in range(0, len(message), 5000):
            client.send(message[i:i + 5000])
        client.shutdown_write()
        self.assertEqual(client.closed_by_peer(), transform(message))
        counters = self.stop_hoplite(proxy)
        self.assertCounters(counters, tunnels_opened=1, tunnels_closed=1, timeout_tunnel_idle=0)

    def test_backend_eof_reaches_the_client_which_still_sends(self):
        # 300 kB: the client's FIN comes while hoplite still has bytes queued for the backend.
        self.backend_eof_then_client_sends(os.urandom(300000))

    def test_the_last_fin_after_a_short_late_message_is_a_clean_eof(self):
        # A few bytes, written at once: the client's FIN finds nothing queued, and hoplite ends
        # the tunnel by closing the backend's socket. The backend must still read the bytes and
        # then a clean EOF, not a reset.
        self.backend_eof_then_client_sends(b"one last word")

    def backend_eof_then_client_sends(self, late):
        done = threading.Event()
        got = []

        def script(peer, index):
            accept_upgrade(peer)
            peer.send(b"server is done talking\n")
            peer.shutdown_write()
            got.append(peer.read_to_eof())
            done.set()

        backend = self.fake_backend(script)
        proxy = self.hoplite([backend])
        client = self.open_tunnel(proxy)
        self.assertEqual(client.read_to_eof(), b"server is done talking\n")
        # Our direction is still open: send after the server's FIN.
        client.send(late)
        client.shutdown_write()
        self.assertTrue(done.wait(harness.IO_TIMEOUT), "the backend never saw the client's EOF")
        self.assertEqual(hashlib.sha256(got[0]).hexdigest(), hashlib.sha256(late).hexdigest())
        counters = self.stop_hoplite(proxy)
        self.assertCounters(counters, tunnels_opened=1, tunnels_closed=1)


class Backpressure(TunnelTestCase):
    """One side sends 64 MiB as fast as it can while the other does not read. Small socket
    buffers on the test's side leave hoplite's own buffering as the only place the bytes can pile
    up; its resident memory must stay bounded, and the bytes must arrive intact once reading
    resumes."""

    def test_client_to_slow_backend(self):
        resume = threading.Event()
        result = []

        def script(peer, index):
            accept_upgrade(peer)
            assert resume.wait(30), "never told to resume"
            digest, count = hashlib.sha256(), 0
            peer.sock.settimeout(harness.IO_TIMEOUT)
            while True:
                chunk = peer.sock.recv(1 << 20)
                if not chunk:
                    break
                digest.update(chunk)
                count += len(chunk)
            result.append(count)
            peer.send(b"%d %s\n" % (count, digest.hexdigest().encode()))

        backend = self.fake_backend(script, sockopts=[
            (socket.SOL_SOCKET, socket.SO_RCVBUF, SMALL_SOCKET_BUFFER)])
        proxy = self.hoplite([backend])
        client = self.open_tunnel(proxy, sndbuf=SMALL_SOCKET_BUFFER)
        baseline = proxy.rss_kib()
        block = os.urandom(MIB)
        expected = hashlib.sha256()
        sent, peak = 0, baseline
        client.sock.setblocking(False)
        # Send until the proxy stops taking bytes for 0.5 s (bounded by the deadline).
        for _ in harness.deadline_loop(20, "the tunnel to push back"):
            _, writable, _ = select.select([], [client.sock], [], 0.5)
            peak = max(peak, proxy.rss_kib())
            if not writable:
                break
            offset = sent % MIB
            n = client.sock.send(block[offset:])
            expected.update(block[offset:offset + n])
            sent += n
            self.assertLess(sent, BULK_BYTES, "64 MiB went in while the backend read nothing")
        stalled_at = sent
        self.assertLess(stalled_at, BULK_BYTES // 2, "the client was barely held back")
        self.assertLess(peak - baseline, RSS_GROWTH_LIMIT_KIB,
                        f"hoplite grew {peak - baseline} KiB with the backend not reading")
        resume.set()
        client.sock.setblocking(True)
        client.sock.settimeout(harness.IO_TIMEOUT)
        while sent < BULK_BYTES:
            offset = sent % MIB
            n = min(MIB - offset, BULK_BYTES - sent)
            client.sock.sendall(block[offset:offset + n])
            expected.update(block[offset:offset + n])
            sent += n
            peak = max(peak, proxy.rss_kib())
        client.shutdown_write()
        line = client.read_until(b"\n")
        self.assertEqual(line, b"%d %s\n" % (BULK_BYTES, expected.hexdigest().encode()),
                         f"stalled at {stalled_at} bytes")
        counters = self.stop_hoplite(proxy)
        self.assertCounters(counters, tunnels_opened=1, tunnels_closed=1)

    def test_backend_to_slow_client(self):
        block = os.urandom(MIB)
        progress = {"sent": 0}

        def script(peer, index):
            accept_upgrade(peer)
            peer.sock.settimeout(30)
            for _ in range(BULK_BYTES // MIB):
                peer.sock.sendall(block)
                progress["sent"] += MIB
            peer.shutdown_write()
            peer.drain(2.0)

        backend = self.fake_backend(script, sockopts=[
            (socket.SOL_SOCKET, socket.SO_SNDBUF, SMALL_SOCKET_BUFFER)])
        proxy = self.hoplite([backend])
        client = self.open_tunnel(proxy, rcvbuf=SMALL_SOCKET_BUFFER)
        baseline = proxy.rss_kib()
        peak, last, last_change = baseline, -1, time.monotonic()
        # Do not read; wait until the backend's progress stops for 0.5 s (bounded).
        for _ in harness.deadline_loop(20, "the backend to be pushed back"):
            peak = max(peak, proxy.rss_kib())
            if progress["sent"] != last:
                last, last_change = progress["sent"], time.monotonic()
            elif time.monotonic() - last_change > 0.5:
                break
            self.assertLess(progress["sent"], BULK_BYTES,
                            "64 MiB went out while the client read nothing")
            time.sleep(0.02)  # sampling interval of the memory probe
        self.assertLess(progress["sent"], BULK_BYTES // 2, "the backend was barely held back")
        self.assertLess(peak - baseline, RSS_GROWTH_LIMIT_KIB,
                        f"hoplite grew {peak - baseline} KiB with the client not reading")
        received = client.read_exact(BULK_BYTES)
        self.assertEqual(hashlib.sha256(received).hexdigest(),
                         hashlib.sha256(block * (BULK_BYTES // MIB)).hexdigest())
        self.assertEqual(client.closed_by_peer(), b"")
        counters = self.stop_hoplite(proxy)
        self.assertCounters(counters, tunnels_opened=1, tunnels_closed=1)


class ThousandTunnels(harness.E2ETestCase):
    COUNT = 1000

    def test_a_thousand_concurrent_tunnels_each_get_their_own_answers(self):
        stats = {"open": 0, "max_open": 0, "served": 0}

        async def backend_session(reader, writer):
            stats["open"] += 1
            stats["max_open"] = max(stats["max_open"], stats["open"])
            try:
                head = await reader.readuntil(b"\r\n\r\n")
                fields = dict(line.split(": ", 1) for line in
                              head.decode("latin-1").split("\r\n")[1:] if ": " in line)
                writer.write(build_response(101, "Switching Protocols", [
                    ("Upgrade", "websocket"), ("Connection", "Upgrade"),
                    ("Sec-WebSocket-Accept", ws_accept(fields["Sec-WebSocket-Key"]))]))
                while True:
                    line = await reader.readline()
                    if not line:
                        break
                    writer.write(transform(line[:-1]) + b"\n")
                    await writer.drain()
                stats["served"] += 1
            finally:
                stats["open"] -= 1
                writer.close()

        async def client_session(port, index, connect_slots, all_open, opened):
            async with connect_slots:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                key, request = upgrade_request(f"/t/{index}")
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
            self.assertTrue(head.startswith(b"HTTP/1.1 101 "), head[:100])
            self.assertIn(f"Sec-WebSocket-Accept: {ws_accept(key)}".lower().encode(),
                          head.lower())
            opened.append(index)
            if len(opened) == self.COUNT:
                all_open.set()
            await all_open.wait()  # every tunnel is open at once before any talks
            for round_ in range(3):
                message = f"Tunnel {index} round {round_} ".encode() + os.urandom(8).hex().encode()
                writer.write(message + b"\n")
                self.assertEqual(await reader.readline(), transform(message) + b"\n")
            writer.write_eof()
            self.assertEqual(await reader.read(), b"")
            writer.close()

        async def run():
            server = await asyncio.start_server(backend_session, "127.0.0.1", 0, backlog=2048)
            address = f"127.0.0.1:{server.sockets[0].getsockname()[1]}"
            proxy = self.hoplite([address])
            try:
                connect_slots = asyncio.Semaphore(100)
                all_open = asyncio.Event()
                opened = []
                await asyncio.gather(*(client_session(proxy.port, i, connect_slots, all_open,
                                                      opened) for i in range(self.COUNT)))
            finally:
                server.close()
                await server.wait_closed()
            return proxy

        proxy = asyncio.run(asyncio.wait_for(run(), 90))
        self.assertEqual(stats["max_open"], self.COUNT)
        self.assertEqual(stats["served"], self.COUNT)
        counters = self.stop_hoplite(proxy)
        self.assertCounters(counters, accepted=self.COUNT, tunnels_opened=self.COUNT,
                            tunnels_closed=self.COUNT, errors_5xx=0)


if __name__ == "__main__":
    unittest.main()
