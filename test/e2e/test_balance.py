"""Upstream balance over real sockets: weights, least connections with long-lived tunnels, a
cookie hash that keeps each client on one server and moves only the removed server's keys on
reload, passive health ejecting a dead server, and backups."""
import threading
import unittest

import harness
from harness import build_request
from test_reload import ReloadTestCase, accept_upgrade_from, answer_as
from test_tunnel import upgrade_request


def tunnel_backend(name, open_tunnels, lock):
    """A fake backend that accepts every upgrade and answers each tunnel message with its name
    (2 bytes), counting the tunnels it holds open in `open_tunnels[name]`."""

    def handler(peer, index):
        try:
            request = peer.read_request()
        except (AssertionError, OSError, EOFError):
            return
        accept_upgrade_from(peer, request)
        with lock:
            open_tunnels[name] = open_tunnels.get(name, 0) + 1
        try:
            while peer.sock.recv(65536):
                peer.send(name.encode())
        except OSError:
            pass
        finally:
            with lock:
                open_tunnels[name] -= 1

    return handler


def backend_of(body):
    """The backend name in an answer_as body ("b2 /x" -> "b2")."""
    return body.split(" ", 1)[0]


class Balance(ReloadTestCase):
    def backends(self, count):
        return [self.fake_backend(answer_as(f"b{n}")) for n in range(count)]

    def upstream(self, backends, weights=None, **keys):
        servers = [b.address if not weights else {"address": b.address, "weight": w}
                   for b, w in zip(backends, weights or [1] * len(backends))]
        return {"app": dict({"servers": servers}, **keys)}

    def spread(self, proxy, requests, headers=()):
        """How many of `requests` GETs on one keep-alive connection each backend answered."""
        peer = self.connect(proxy.port)
        counts = {}
        for n in range(requests):
            peer.send(build_request("GET", f"/{n}", [("Host", "app.test"), *headers]))
            response = peer.read_response()
            self.assertEqual(response.status, 200, response)
            name = backend_of(response.body.decode())
            counts[name] = counts.get(name, 0) + 1
        return counts

    def test_traffic_is_spread_by_weight(self):
        backends = self.backends(3)
        proxy = self.hoplite([], upstreams=self.upstream(backends, weights=[1, 3, 6]))
        counts = self.spread(proxy, 3000)
        # 10% / 30% / 60%, within 5% of each share.
        for name, share in (("b0", 300), ("b1", 900), ("b2", 1800)):
            self.assertLessEqual(abs(counts.get(name, 0) - share), share * 0.05, counts)
        self.stop_hoplite(proxy)

    def tunnel(self, proxy):
        """A tunnel through hoplite; returns the client and the name of the backend at its end."""
        peer = self.connect(proxy.port)
        peer.send(upgrade_request()[1])
        self.assertEqual(peer.read_response().status, 101)
        peer.send(b"?")
        return peer, peer.read_exact(2).decode()

    def test_least_connections_keeps_tunnels_even_where_round_robin_piles_them(self):
        open_tunnels = {}
        lock = threading.Lock()
        backends = [self.fake_backend(tunnel_backend(f"t{n}", open_tunnels, lock))
                    for n in range(4)]
        proxy = self.hoplite([], upstreams=self.upstream(backends, balance="least_connections"),
                             admin={"listen": "127.0.0.1:0"})
        first = [self.tunnel(proxy) for _ in range(8)]
        self.assertEqual(sorted(name for _, name in first),
                         ["t0", "t0", "t1", "t1", "t2", "t2", "t3", "t3"])
        # Close the ones on t2 and t3: t0 and t1 still hold 2 each.
        for peer, name in first:
            if name in ("t2", "t3"):
                peer.close()
        harness.wait_until(lambda: open_tunnels.get("t2") == 0 and open_tunnels.get("t3") == 0,
                           what="t2 and t3 to see their tunnels closed")
        # hoplite counts a tunnel until it has closed both sides.
        harness.wait_until(lambda: self.status(proxy)["tunnels_open"] == 4,
                           what="hoplite to count 4 open tunnels")
        # Eight more: least connections fills t2 and t3 first, then spreads over all four;
        # round robin would have made it 4, 4, 2, 2.
        later = [self.tunnel(proxy) for _ in range(8)]
        self.assertEqual(sorted(name for _, name in later),
                         ["t0", "t1", "t2", "t2", "t2", "t3", "t3", "t3"])
        self.assertEqual(dict(open_tunnels), {"t0": 3, "t1": 3, "t2": 3, "t3": 3})
        self.stop_hoplite(proxy)

    def test_a_cookie_stays_on_one_server_and_only_a_removed_servers_cookies_move(self):
        backends = self.backends(3)
        upstreams = self.upstream(backends, balance="hash", hash_key="cookie:session")
        proxy = self.hoplite([], upstreams=upstreams, admin={"listen": "127.0.0.1:0"})
        cookies = [f"user-{n}" for n in range(150)]

        def placement():
            where = {}
            for cookie in cookies:
                counts = self.spread(proxy, 2, headers=[("Cookie", f"theme=x; session={cookie}")])
                self.assertEqual(len(counts), 1, f"{cookie} reached {counts}")
                where[cookie] = next(iter(counts))
            return where

        before = placement()
        self.assertEqual(placement(), before)  # the same again
        self.assertEqual(len(set(before.values())), 3, "the cookies spread over every server")
        # Without the cookie: round robin over all three.
        self.assertEqual(len(self.spread(proxy, 6)), 3)

        # A reload removes b1: only b1's cookies move.
        config = dict(proxy.config)
        config["upstreams"] = self.upstream([backends[0], backends[2]], balance="hash",
                                            hash_key="cookie:session")
        self.reload(proxy, config, 2)
        after = placement()
        moved = [c for c in cookies if after[c] != before[c]]
        self.assertEqual(sorted(moved), sorted(c for c in cookies if before[c] == "b1"))
        self.assertGreater(len(moved), len(cookies) / 3 * 0.5)
        self.assertLess(len(moved), len(cookies) / 3 * 1.5)
        self.stop_hoplite(proxy)

    def test_a_dead_server_is_ejected_and_its_requests_go_to_the_others(self):
        alive = self.fake_backend(answer_as("alive"))
        dead, sock = harness.refused_address()
        self.keep(sock)
        upstreams = {"app": {"servers": [dead, alive.address],
                             "passive_health": {"max_fails": 1, "eject_for": "1h"}}}
        proxy = self.hoplite([], upstreams=upstreams)
        self.assertEqual(self.spread(proxy, 20), {"alive": 20})
        proxy.wait_for_line(r"^hoplite: upstream app: connect to 127\.0\.0\.1:\d+ failed: "
                            r"connection refused; ejected for \d+ ms; trying the next server$")
        counters = self.stop_hoplite(proxy)
        # One connect to the dead server ejected it; nothing more was sent its way.
        self.assertCounters(counters, upstream_connect_failures=1, errors_5xx=0)

    def test_a_killed_server_is_ejected_then_brought_back_by_the_health_check(self):
        a = self.fake_backend(answer_as("a"))
        b = self.fake_backend(answer_as("b"))
        port = b.port
        upstreams = {"app": {"servers": [a.address, b.address],
                             "passive_health": {"max_fails": 1, "eject_for": "1h"},
                             "health_check": {"path": "/healthz", "interval": "100ms",
                                              "timeout": "500ms", "healthy_after": 2,
                                              "unhealthy_after": 2, "host": "app.internal"}}}
        proxy = self.hoplite([], upstreams=upstreams, admin={"listen": "127.0.0.1:0"})
        self.assertEqual(self.spread(proxy, 10), {"a": 5, "b": 5})
        labels = f'{{upstream="app",server="127.0.0.1:{port}"}}'

        b.stop()  # killed: its port refuses from now on
        self.assertEqual(self.spread(proxy, 10), {"a": 10})  # the first one failed over
        proxy.wait_for_line(rf"^hoplite: upstream app: server 127\.0\.0\.1:{port} is down: "
                            r"health check failed 2 times in a row \(connect: .*\)$",
                            harness.IO_TIMEOUT)
        metrics = self.metrics(proxy)
        self.assertIn(f"hoplite_upstream_server_up{labels} 0\n", metrics)
        self.assertIn(f"hoplite_upstream_ejections_total{labels} 1\n", metrics)
        server = self.status(proxy)["upstreams"]["app"]["servers"][1]
        self.assertEqual((server["checks_failing"], server["ejections"]), (True, 1))

        # Started again on the same port: two passed checks bring it back, ejection and all,
        # long before the hour of eject_for.
        self.fake_backend(answer_as("b"), port=port)
        proxy.wait_for_line(rf"^hoplite: upstream app: server 127\.0\.0\.1:{port} is up: "
                            r"health check passed 2 times in a row \(status 200\)$",
                            harness.IO_TIMEOUT)
        self.assertEqual(self.spread(proxy, 10), {"a": 5, "b": 5})
        self.assertIn(f"hoplite_upstream_server_up{labels} 1\n", self.metrics(proxy))
        counters = self.stop_hoplite(proxy)
        self.assertCounters(counters, errors_5xx=0)

    def test_a_server_answering_its_check_with_an_error_gets_no_requests(self):
        def sick(peer, index):
            request = peer.read_request()
            status = 503 if request.target == "/ready" else 200
            body = b"sick"
            peer.send(harness.build_response(status, "X", [("Content-Length", "4")], body))

        a = self.fake_backend(answer_as("a"))
        b = self.fake_backend(sick)
        upstreams = {"app": {"servers": [a.address, b.address],
                             "health_check": {"path": "/ready", "interval": "100ms",
                                              "unhealthy_after": 1, "expect_status": ["2xx"]}}}
        proxy = self.hoplite([], upstreams=upstreams)
        proxy.wait_for_line(rf"^hoplite: upstream app: server {b.address} is down: health check "
                            r"failed 1 times in a row \(status 503\)$", harness.IO_TIMEOUT)
        self.assertEqual(self.spread(proxy, 10), {"a": 10})
        self.stop_hoplite(proxy)

    def test_a_server_that_closes_before_answering_is_ejected_after_max_fails(self):
        def hang_up(peer, index):
            peer.read_request()
            peer.close()  # no response byte

        backends = [self.fake_backend(hang_up) for _ in range(2)]
        upstreams = {"app": {"servers": [b.address for b in backends], "keepalive": 0,
                             "passive_health": {"max_fails": 2, "eject_for": "1h"}}}
        proxy = self.hoplite([], upstreams=upstreams)

        def answers(count):
            statuses = []
            for _ in range(count):
                peer = self.connect(proxy.port)
                peer.send(build_request("GET", "/", [("Host", "app.test")]))
                statuses.append(peer.read_response().status)
            return statuses

        # Two failures each within fail_window eject both: the fifth is refused at once.
        self.assertEqual(answers(5), [502, 502, 502, 502, 503])
        self.assertEqual([b.accepted for b in backends], [2, 2])
        self.stop_hoplite(proxy)

    def test_the_only_server_of_an_upstream_is_never_ejected(self):
        dead, sock = harness.refused_address()
        self.keep(sock)
        proxy = self.hoplite([dead], keepalive=0)
        for _ in range(3):
            peer = self.connect(proxy.port)
            peer.send(build_request("GET", "/", [("Host", "app.test")]))
            self.assertEqual(peer.read_response().status, 502)  # tried each time, never 503
        counters = self.stop_hoplite(proxy)
        self.assertCounters(counters, upstream_connect_failures=3)

    def test_a_backup_serves_only_while_every_other_server_is_out(self):
        primary = self.fake_backend(answer_as("primary"))
        backup = self.fake_backend(answer_as("backup"))
        dead, sock = harness.refused_address()
        self.keep(sock)
        upstreams = {"app": {"servers": [primary.address,
                                         {"address": backup.address, "backup": True}]}}
        proxy = self.hoplite([], upstreams=upstreams)
        self.assertEqual(self.spread(proxy, 10), {"primary": 10})
        self.stop_hoplite(proxy)
        upstreams = {"app": {"servers": [dead, {"address": backup.address, "backup": True}],
                             "passive_health": {"eject_for": "1h"}}}
        proxy = self.hoplite([], upstreams=upstreams)
        self.assertEqual(self.spread(proxy, 10), {"backup": 10})
        self.stop_hoplite(proxy)


if __name__ == "__main__":
    unittest.main()
