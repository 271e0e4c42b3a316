"""The cheap parts of the accept-to-101 path: the peer address text hoplite formats itself, the
client kept readable while hoplite connects upstream, and the upstream read from the moment its
connect is issued (a refused or silent server must still count as a connect failure).
"""

import unittest

import harness
from harness import build_request, ws_accept, ws_key


def forwarded_for(response):
    assert response.status == 200, (response.start_line, response.body[:500])
    return [v for n, v in response.json()["headers"] if n.lower() == "x-forwarded-for"]


def handshake(key):
    return build_request("GET", "/chat", [
        ("Host", "app.test"),
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", key),
        ("Sec-WebSocket-Version", "13"),
    ])


class PeerAddress(harness.E2ETestCase):
    def get_from(self, port, source, host="127.0.0.1"):
        client = self.connect_to(port, source, host)
        client.send(build_request("GET", "/", [("Host", "app.test"), ("Connection", "close")]))
        response = client.read_response()
        client.close()
        return response

    def connect_to(self, port, source, host):
        family = harness.socket.AF_INET6 if ":" in host else harness.socket.AF_INET
        sock = harness.socket.socket(family, harness.socket.SOCK_STREAM)
        self.keep(sock)
        sock.settimeout(harness.IO_TIMEOUT)
        sock.bind((source, 0))
        sock.connect((host, port))
        return harness.Peer(sock)

    def test_x_forwarded_for_is_the_dotted_quad_of_every_kind_of_octet(self):
        backend = self.demo_backend()
        proxy = self.hoplite([backend])
        # One, two and three digits, zero and 255 in every position the loopback net allows.
        for source in ("127.0.0.1", "127.0.0.10", "127.0.100.200", "127.255.255.254",
                       "127.1.0.9", "127.99.10.0"):
            with self.subTest(source):
                self.assertEqual(forwarded_for(self.get_from(proxy.port, source)), [source])

    def test_ipv4_peer_of_a_dual_stack_listener_is_plain_ipv4_and_ipv6_peers_are_ipv6(self):
        if not harness.socket.has_ipv6:
            self.skipTest("no IPv6")
        try:
            probe = harness.socket.socket(harness.socket.AF_INET6, harness.socket.SOCK_STREAM)
            probe.bind(("::1", 0))
            probe.close()
        except OSError:
            self.skipTest("no IPv6 loopback")
        backend = self.demo_backend()
        config = harness.make_config([backend.address])
        config["listen"] = ["127.0.0.1:0", "[::]:0"]
        proxy = harness.Hoplite(config, self.tmp)
        self.addCleanup(self._ensure_stopped, proxy)
        port = int(proxy.wait_for_line(r"listening on \[::\]:(\d+)").group(1))
        # A dual-stack socket reports this peer as ::ffff:127.0.0.7.
        self.assertEqual(forwarded_for(self.get_from(port, "127.0.0.7")), ["127.0.0.7"])
        self.assertEqual(forwarded_for(self.get_from(port, "::1", "::1")), ["::1"])


    def test_ipv4_and_ipv6_wildcard_on_one_port_each_take_their_own_family(self):
        # "[::]:P" beside an IPv4 address on P binds IPv6-only (as nginx does); taking IPv4 too,
        # it would collide with the IPv4 listener and hoplite would not start.
        if not harness.socket.has_ipv6:
            self.skipTest("no IPv6")
        backend = self.demo_backend()
        for workers in (1, 2):
            with self.subTest(workers=workers):
                # A port free in both families: a dual-stack socket holds it for both, briefly.
                holder = harness.socket.socket(harness.socket.AF_INET6, harness.socket.SOCK_STREAM)
                try:
                    holder.setsockopt(harness.socket.IPPROTO_IPV6, harness.socket.IPV6_V6ONLY, 0)
                    holder.bind(("::", 0))
                except OSError:
                    holder.close()
                    self.skipTest("no IPv6 loopback")
                port = holder.getsockname()[1]
                holder.close()
                config = harness.make_config([backend.address], workers=workers)
                config["listen"] = [f"127.0.0.1:{port}", f"[::]:{port}"]
                proxy = harness.Hoplite(config, self.tmp)
                self.addCleanup(self._ensure_stopped, proxy)
                proxy.wait_for_line(rf"listening on \[::\]:{port}$")
                self.assertEqual(forwarded_for(self.get_from(port, "127.0.0.7")), ["127.0.0.7"])
                self.assertEqual(forwarded_for(self.get_from(port, "::1", "::1")), ["::1"])
                self.stop_hoplite(proxy)


class ClientDuringConnect(harness.E2ETestCase):
    def connecting_to_a_silent_server_first(self):
        """hoplite in front of a server that never answers a connect (300 ms timeout), then the
        demo backend; and a client connected to it."""
        silent, sockets = harness.blackhole()
        self.keep(sockets)
        backend = self.demo_backend()
        proxy = self.hoplite([silent, backend], keepalive=0,
                             timeouts={"upstream_connect": "300ms"})
        return proxy, self.connect(proxy.port)

    def test_pipelined_requests_and_eof_sent_while_connecting_are_all_answered(self):
        proxy, client = self.connecting_to_a_silent_server_first()
        client.send(build_request("GET", "/first", [("Host", "app.test")]))
        # While hoplite waits for the silent server, the next request and the FIN arrive.
        client.send(build_request("GET", "/second", [("Host", "app.test")]))
        client.shutdown_write()
        first = client.read_response()
        second = client.read_response()
        self.assertEqual((first.status, first.json()["target"]), (200, "/first"))
        self.assertEqual((second.status, second.json()["target"]), (200, "/second"))
        self.assertEqual(client.closed_by_peer(), b"")
        counters = self.stop_hoplite(proxy)
        self.assertCounters(counters, requests=2, timeout_upstream_connect=1, errors_5xx=0)

    def test_a_body_cut_by_eof_while_connecting_is_not_forwarded_as_a_whole_request(self):
        proxy, client = self.connecting_to_a_silent_server_first()
        client.send(build_request("POST", "/upload", [("Host", "app.test"),
                                                      ("Content-Length", "10")]) + b"abc")
        client.shutdown_write()
        self.assertEqual(client.closed_by_peer(), b"")
        counters = self.stop_hoplite(proxy)
        self.assertCounters(counters, requests=1, errors_5xx=0)

    def test_bytes_behind_a_handshake_sent_while_connecting_reach_the_tunnel(self):
        proxy, client = self.connecting_to_a_silent_server_first()
        key = ws_key()
        client.send(handshake(key))
        # A masked text frame "hi", sent before the 101: held, then the tunnel's first bytes.
        mask = b"\x01\x02\x03\x04"
        client.send(b"\x81\x82" + mask + bytes(c ^ mask[i] for i, c in enumerate(b"hi")))
        response = client.read_response()
        self.assertEqual(response.status, 101, response.body)
        self.assertEqual(response.header("Sec-WebSocket-Accept"), ws_accept(key))
        self.assertEqual(client.read_exact(4), b"\x81\x02hi")  # the demo backend echoes
        counters = self.stop_hoplite(proxy)
        self.assertCounters(counters, tunnels_opened=1, timeout_upstream_connect=1)


class ConnectFailuresWhileReading(harness.E2ETestCase):
    def test_a_refused_server_is_a_connect_failure_and_the_handshake_goes_to_the_next(self):
        dead, sock = harness.refused_address()
        self.keep(sock)
        backend = self.demo_backend()
        proxy = self.hoplite([dead, backend], keepalive=0)
        for _ in range(3):
            client = self.connect(proxy.port)
            key = ws_key()
            client.send(handshake(key))
            response = client.read_response()
            self.assertEqual(response.status, 101, response.body)
            self.assertEqual(response.header("Sec-WebSocket-Accept"), ws_accept(key))
            client.close()
        counters = self.stop_hoplite(proxy)
        self.assertCounters(counters, upstream_connect_failures=1, upstream_connects=3,
                            tunnels_opened=3, errors_5xx=0)

    def test_every_server_refusing_is_502(self):
        dead, sock = harness.refused_address()
        self.keep(sock)
        proxy = self.hoplite([dead])
        client = self.connect(proxy.port)
        client.send(handshake(ws_key()))
        self.assertEqual(client.read_response().status, 502)
        counters = self.stop_hoplite(proxy)
        self.assertCounters(counters, upstream_connect_failures=1, upstream_connects=0,
                            errors_5xx=1)


if __name__ == "__main__":
    unittest.main()
