"""The access log (`log`): one JSON line per HTTP exchange, with exact values for known traffic,
refused requests, hoplite's own errors and upgrades; escaping that no client can break out of;
lines written within the flush interval, whole with two workers, and none with "off".
"""

import json
import os
import re
import signal
import socket
import subprocess
import unittest

import harness
from harness import build_request, transform, ws_key
from test_tunnel import accept_upgrade, upgrade_request

KEYS = ["ts", "type", "request_id", "client", "listener", "method", "host", "target", "proto",
        "status", "bytes_in", "bytes_out", "duration_ms", "route", "upstream", "upstream_addr",
        "upstream_status", "upstream_connect_ms", "upstream_header_ms", "reused", "user_agent",
        "error"]
TUNNEL_KEYS = ["ts", "type", "request_id", "client", "host", "target", "route", "upstream_addr",
               "protocol", "opened", "duration_ms", "bytes_from_client", "bytes_from_upstream",
               "closed_by", "close_reason"]
TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def read_lines(path):
    """Every line of the log as a dict, checking that each is one JSON object with every key in
    the documented order."""
    with open(path, "rb") as f:
        raw = f.read()
    assert raw.endswith(b"\n") or not raw, "the last line is cut"
    lines = []
    for line in raw.decode("utf-8").splitlines():
        record = json.loads(line)
        assert list(record) == (TUNNEL_KEYS if record["type"] == "tunnel" else KEYS), list(record)
        lines.append(record)
    return lines


class AccessLog(harness.E2ETestCase):
    def setUp(self):
        super().setUp()
        self.log_path = os.path.join(self.tmp, "access.log")

    def hoplite_logging(self, servers, **options):
        return self.hoplite(servers, log={"access": self.log_path}, **options)

    def exchange_raw(self, proxy, request):
        """Sends `request` on a fresh connection, reads the answer until hoplite closes; returns
        (the client's port, the bytes received)."""
        client = self.connect(proxy.port)
        port = client.sock.getsockname()[1]
        client.send(request)
        return port, client.read_to_eof()

    def test_proxied_exchanges_are_logged_with_exact_values(self):
        backend = self.demo_backend()
        proxy = self.hoplite_logging([backend])
        request = build_request("GET", "/logged?q=1", [
            ("Host", "app.test"), ("User-Agent", "e2e/1.0"), ("Connection", "close")])
        port, answer = self.exchange_raw(proxy, request)
        self.assertTrue(answer.startswith(b"HTTP/1.1 200 "), answer[:100])
        request_id = re.search(rb"\r\nX-Request-Id: ([0-9a-f]{32})\r\n", answer).group(1).decode()
        # A second client, keep-alive: its request goes on the pooled upstream connection.
        client = self.connect(proxy.port)
        client.send(build_request("HEAD", "/again", [("Host", "app.test")]))
        self.assertEqual(client.read_response(method="HEAD").status, 200)
        client.close()
        counters = self.stop_hoplite(proxy)

        lines = read_lines(self.log_path)
        self.assertEqual(len(lines), counters["requests"])
        first, second = lines
        self.assertRegex(first["ts"], TS)
        self.assertGreaterEqual(first["duration_ms"], 0)
        self.assertGreaterEqual(first["upstream_connect_ms"], 0)
        self.assertGreaterEqual(first["upstream_header_ms"], 0)
        for key in ("ts", "duration_ms", "upstream_connect_ms", "upstream_header_ms"):
            del first[key]
        self.assertEqual(first, {
            "type": "http", "request_id": request_id, "client": f"127.0.0.1:{port}",
            "listener": f"127.0.0.1:{proxy.port}", "method": "GET", "host": "app.test",
            "target": "/logged?q=1", "proto": "HTTP/1.1", "status": 200,
            "bytes_in": len(request), "bytes_out": len(answer), "route": 0, "upstream": "app",
            "upstream_addr": backend.address, "upstream_status": 200, "reused": False,
            "user_agent": "e2e/1.0", "error": None})
        self.assertEqual((second["method"], second["target"], second["status"],
                          second["reused"], second["upstream_connect_ms"], second["user_agent"]),
                         ("HEAD", "/again", 200, True, None, None))

    def test_upstream_addr_is_the_address_a_named_server_resolved_to(self):
        backend = self.demo_backend()  # on 127.0.0.1 only: a ::1 that localhost may give refuses
        proxy = self.hoplite_logging([f"localhost:{backend.port}"])
        _, answer = self.exchange_raw(proxy, build_request(
            "GET", "/named", [("Host", "app.test"), ("Connection", "close")]))
        self.assertTrue(answer.startswith(b"HTTP/1.1 200 "), answer[:100])
        self.stop_hoplite(proxy)
        (line,) = read_lines(self.log_path)
        self.assertEqual(line["upstream_addr"], f"127.0.0.1:{backend.port}")

    def test_refused_requests_and_hoplites_own_errors_are_logged(self):
        backend = self.demo_backend()
        refused, holder = harness.refused_address()
        self.addCleanup(holder.close)
        proxy = self.hoplite_logging([backend], upstreams={
            "app": {"servers": [backend.address]}, "down": {"servers": [refused]}}, routes=[
            {"host": "down.test", "upstream": "down", "name": "down-route"},
            {"host": "app.test", "upstream": "app"}])
        bad = b"GET /bad HTTP/1.1\r\nHost : app.test\r\n\r\n"
        _, bad_answer = self.exchange_raw(proxy, bad)
        self.assertTrue(bad_answer.startswith(b"HTTP/1.1 400 "), bad_answer[:100])
        _, no_route = self.exchange_raw(proxy, build_request("GET", "/x", [("Host", "other.test")]))
        self.assertTrue(no_route.startswith(b"HTTP/1.1 404 "), no_route[:100])
        _, down = self.exchange_raw(proxy, build_request("GET", "/y", [("Host", "down.test")]))
        self.assertTrue(down.startswith(b"HTTP/1.1 502 "), down[:100])
        self.stop_hoplite(proxy)

        refused_line, no_route_line, down_line = read_lines(self.log_path)
        self.assertEqual(
            {k: refused_line[k] for k in ("method", "host", "target", "proto", "status",
                                          "bytes_in", "bytes_out", "route", "error")},
            {"method": None, "host": None, "target": None, "proto": None, "status": 400,
             "bytes_in": len(bad), "bytes_out": len(bad_answer), "route": None,
             "error": "bad_request"})
        self.assertEqual(
            {k: no_route_line[k] for k in ("host", "status", "route", "upstream", "error")},
            {"host": "other.test", "status": 404, "route": None, "upstream": None,
             "error": "no_route"})
        self.assertEqual(
            {k: down_line[k] for k in ("status", "route", "upstream", "upstream_addr",
                                       "upstream_status", "error")},
            {"status": 502, "route": "down-route", "upstream": "down", "upstream_addr": refused,
             "upstream_status": None, "error": "upstream_connect_failed"})

    def test_an_upgrade_is_logged_with_its_101(self):
        backend = self.demo_backend()
        proxy = self.hoplite_logging([backend])
        client = self.connect(proxy.port)
        client.send(build_request("GET", "/chat", [
            ("Host", "app.test"), ("Upgrade", "websocket"), ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", ws_key()), ("Sec-WebSocket-Version", "13")]))
        self.assertEqual(client.read_response().status, 101)
        client.close()
        self.stop_hoplite(proxy)
        line, tunnel = read_lines(self.log_path)
        self.assertEqual((line["target"], line["status"], line["upstream_status"], line["error"]),
                         ("/chat", 101, 101, None))
        self.assertEqual((tunnel["type"], tunnel["target"]), ("tunnel", "/chat"))

    def test_no_request_can_forge_a_line(self):
        backend = self.demo_backend()
        proxy = self.hoplite_logging([backend])
        agent = b'x", "status": 999}{"forged": "\\\\ \xff\xfe caf\xc3\xa9'
        client = self.connect(proxy.port)
        client.send(b"GET /q HTTP/1.1\r\nHost: app.test\r\nUser-Agent: " + agent + b"\r\n\r\n")
        self.assertEqual(client.read_response().status, 200)
        client.close()
        self.stop_hoplite(proxy)
        (line,) = read_lines(self.log_path)
        # Valid UTF-8 stays as it is; bytes that are not UTF-8 come back as their Latin-1 letters.
        self.assertEqual(line["user_agent"].encode("utf-8"),
                         agent.replace(b"\xff\xfe", "\xff\xfe".encode("utf-8")))
        self.assertEqual(line["status"], 200)

    def test_lines_are_written_within_the_flush_interval(self):
        backend = self.demo_backend()
        proxy = self.hoplite_logging([backend])
        client = self.connect(proxy.port)
        client.send(build_request("GET", "/soon", [("Host", "app.test")]))
        self.assertEqual(client.read_response().status, 200)
        # hoplite keeps running: the 100 ms flush, not the exit, writes the line.
        harness.wait_until(lambda: os.path.exists(self.log_path) and
                           os.path.getsize(self.log_path) > 0, what="the line to be written")
        self.assertEqual([l["target"] for l in read_lines(self.log_path)], ["/soon"])
        self.stop_hoplite(proxy)

    def test_two_workers_write_whole_lines_to_one_file(self):
        backend = self.demo_backend()
        proxy = self.hoplite_logging([backend], workers=2)
        count = 200
        for i in range(count // 10):
            client = self.connect(proxy.port)
            for j in range(10):
                client.send(build_request("GET", f"/w/{i}/{j}", [("Host", "app.test")]))
                self.assertEqual(client.read_response().status, 200)
            client.close()
        counters = self.stop_hoplite(proxy)
        lines = read_lines(self.log_path)
        self.assertEqual(counters["requests"], count)
        self.assertEqual(sorted(l["target"] for l in lines),
                         sorted(f"/w/{i}/{j}" for i in range(count // 10) for j in range(10)))

    def test_off_writes_nothing(self):
        backend = self.demo_backend()
        proxy = self.hoplite([backend], log={"access": "off"})
        client = self.connect(proxy.port)
        client.send(build_request("GET", "/quiet", [("Host", "app.test")]))
        self.assertEqual(client.read_response().status, 200)
        client.close()
        self.stop_hoplite(proxy)
        self.assertEqual(os.listdir(self.tmp), ["hoplite.json"])


GOACCESS_ELB = ['--log-format=%dT%t.%^ %v %h:%^ %^ %^ %T %^ %s %^ %^ %b "%r" "%u" %k %K',
                "--date-format=%Y-%m-%d", "--time-format=%T"]


class Reopen(harness.E2ETestCase):
    """SIGUSR1 reopens the access log by name, as logrotate's postrotate expects: lines logged
    before it stay in the renamed file, later ones go to the new one, with or without workers."""

    def check_reopen(self, workers):
        log_path = os.path.join(self.tmp, "access.log")
        rotated = os.path.join(self.tmp, "access.log.1")
        backend = self.demo_backend()
        proxy = self.hoplite([backend], log={"access": log_path}, workers=workers)

        def get(target, count):
            for i in range(count):
                client = self.connect(proxy.port)
                client.send(build_request("GET", f"{target}/{i}", [("Host", "app.test")]))
                self.assertEqual(client.read_response().status, 200)
                client.close()

        get("/before", 4)
        harness.wait_until(lambda: os.path.exists(log_path) and
                           len(read_lines(log_path)) == 4, what="the first lines")
        os.rename(log_path, rotated)
        proxy.send_signal(signal.SIGUSR1)
        for _ in range(workers):
            proxy.wait_for_line(r"^hoplite: access log reopened$")
        get("/after", 6)
        counters = self.stop_hoplite(proxy)  # still running: SIGUSR1 did not kill anything
        self.assertEqual(counters["requests"], 10)
        self.assertEqual(sorted(l["target"] for l in read_lines(rotated)),
                         [f"/before/{i}" for i in range(4)])
        self.assertEqual(sorted(l["target"] for l in read_lines(log_path)),
                         [f"/after/{i}" for i in range(6)])

    def test_sigusr1_reopens_the_file(self):
        self.check_reopen(workers=1)

    def test_sigusr1_reopens_it_in_every_worker(self):
        self.check_reopen(workers=2)


class ElbFormat(harness.E2ETestCase):
    """`log.format: "elb"`: the classic load balancer's line, read line for line by a real
    consumer of that format, GoAccess."""

    def test_goaccess_parses_every_line(self):
        log_path = os.path.join(self.tmp, "access.log")
        backend = self.demo_backend()
        refused, holder = harness.refused_address()
        self.addCleanup(holder.close)
        proxy = self.hoplite([backend], log={"access": log_path, "format": "elb"}, upstreams={
            "app": {"servers": [backend.address]}, "down": {"servers": [refused]}}, routes=[
            {"host": "down.test", "upstream": "down"},
            {"host": "app.test", "upstream": "app"}])
        requests = [
            build_request("GET", "/ok?x=1", [("Host", "app.test"), ("User-Agent", 'a "quoted" ua')]),
            build_request("POST", "/post", [("Host", "app.test:8080"), ("Content-Length", "3")],
                          b"abc"),
            build_request("GET", "/none", [("Host", "other.test")]),
            build_request("GET", "/down", [("Host", "down.test")]),
            b"GET /bad HTTP/1.1\r\nHost : app.test\r\n\r\n",
            build_request("GET", "/chat", [
                ("Host", "app.test"), ("Upgrade", "websocket"), ("Connection", "Upgrade"),
                ("Sec-WebSocket-Key", ws_key()), ("Sec-WebSocket-Version", "13")]),
        ]
        statuses = []
        for request in requests:
            client = self.connect(proxy.port)
            client.send(request)
            statuses.append(client.read_response().status)
            client.close()
        self.assertEqual(statuses, [200, 200, 404, 502, 400, 101])
        self.stop_hoplite(proxy)

        with open(log_path, "rb") as f:
            lines = f.read().decode("ascii").splitlines()
        self.assertEqual(len(lines), len(requests))  # no tunnel lines in this format
        fields = lines[0].split(" ")
        self.assertEqual(fields[1:3], ["hoplite", f"127.0.0.1:{fields[2].rsplit(':', 1)[1]}"])
        self.assertEqual(fields[3], backend.address)
        self.assertEqual(fields[7:9], ["200", "200"])
        self.assertIn(f'"GET http://app.test:{proxy.port}/ok?x=1 HTTP/1.1" '
                      '"a \\"quoted\\" ua" - -', lines[0])
        self.assertIn('"POST http://app.test:8080/post HTTP/1.1"', lines[1])
        self.assertIn(" -1 -1 -1 404 - ", lines[2])
        self.assertIn(" -1 -1 -1 502 - ", lines[3])
        self.assertIn(' 400 - ', lines[4])
        self.assertIn('"- - - "', lines[4])
        self.assertIn(" 101 101 ", lines[5])

        result = subprocess.run(["goaccess", log_path, *GOACCESS_ELB, "--output=json"],
                                capture_output=True, text=True, timeout=30)
        self.assertEqual(result.returncode, 0, result.stderr)
        general = json.loads(result.stdout)["general"]
        self.assertEqual((general["total_requests"], general["valid_requests"],
                          general["failed_requests"]), (len(requests), len(requests), 0))


class TunnelLines(harness.E2ETestCase):
    """A tunnel writes its own line when it closes: bytes each way (the 101 excluded), who
    closed it and why."""

    def setUp(self):
        super().setUp()
        self.log_path = os.path.join(self.tmp, "access.log")

    def open_tunnel(self, script, **options):
        backend = self.fake_backend(script)
        proxy = self.hoplite([backend], log={"access": self.log_path}, **options)
        client = self.connect(proxy.port)
        key, request = upgrade_request("/room/7")
        client.send(request)
        self.assertEqual(client.read_response().status, 101)
        return backend, proxy, client

    def tunnel_line(self):
        lines = read_lines(self.log_path)
        self.assertEqual([l["type"] for l in lines], ["http", "tunnel"])
        handshake, tunnel = lines
        self.assertEqual(tunnel["request_id"], handshake["request_id"])
        self.assertEqual((tunnel["client"], tunnel["host"], tunnel["target"], tunnel["route"],
                          tunnel["upstream_addr"], tunnel["protocol"]),
                         (handshake["client"], "app.test", "/room/7", 0,
                          handshake["upstream_addr"], "websocket"))
        self.assertRegex(tunnel["opened"], TS)
        self.assertGreaterEqual(tunnel["ts"], tunnel["opened"])
        return tunnel

    def test_the_client_closes_first(self):
        def script(peer, index):
            accept_upgrade(peer)
            while True:
                try:
                    line = peer.read_until(b"\n")
                except EOFError:
                    return  # the client's FIN, passed on; the backend closes too
                peer.send(transform(line[:-1]) + b"\n")

        _, proxy, client = self.open_tunnel(script)
        sent = b"first line\n" + b"second, longer line\n"
        client.send(sent)
        expected = b"".join(transform(l) + b"\n" for l in sent.split(b"\n")[:-1])
        self.assertEqual(client.read_exact(len(expected)), expected)
        client.shutdown_write()
        self.assertEqual(client.closed_by_peer(), b"")
        self.stop_hoplite(proxy)
        tunnel = self.tunnel_line()
        self.assertEqual({k: tunnel[k] for k in ("bytes_from_client", "bytes_from_upstream",
                                                 "closed_by", "close_reason")},
                         {"bytes_from_client": len(sent), "bytes_from_upstream": len(expected),
                          "closed_by": "client", "close_reason": "both_finished"})

    def test_the_backend_closes_first(self):
        def script(peer, index):
            accept_upgrade(peer)
            peer.send(b"goodbye\n")
            peer.shutdown_write()
            peer.read_to_eof()

        _, proxy, client = self.open_tunnel(script)
        self.assertEqual(client.closed_by_peer(), b"goodbye\n")
        client.shutdown_write()
        harness.wait_until(lambda: len(read_lines(self.log_path)) == 2 if
                           os.path.exists(self.log_path) else False, what="the tunnel's line")
        self.stop_hoplite(proxy)
        tunnel = self.tunnel_line()
        self.assertEqual({k: tunnel[k] for k in ("bytes_from_client", "bytes_from_upstream",
                                                 "closed_by", "close_reason")},
                         {"bytes_from_client": 0, "bytes_from_upstream": 8,
                          "closed_by": "upstream", "close_reason": "both_finished"})

    def test_tunnel_idle_and_the_drain_are_the_proxys(self):
        def script(peer, index):
            accept_upgrade(peer)
            peer.read_to_eof()

        _, proxy, client = self.open_tunnel(script, timeouts={"tunnel_idle": "200ms"})
        self.assertEqual(client.closed_by_peer(), b"")
        self.stop_hoplite(proxy)
        tunnel = self.tunnel_line()
        self.assertEqual((tunnel["closed_by"], tunnel["close_reason"]), ("proxy", "tunnel_idle"))
        self.assertGreater(tunnel["duration_ms"], 0)

        os.unlink(self.log_path)
        _, proxy, client = self.open_tunnel(script, timeouts={"shutdown_drain": "200ms"})
        client.send(b"x")
        self.stop_hoplite(proxy, close_clients=False)
        tunnel = self.tunnel_line()
        self.assertEqual((tunnel["bytes_from_client"], tunnel["closed_by"],
                          tunnel["close_reason"]), (1, "proxy", "shutdown_drain"))


if __name__ == "__main__":
    unittest.main()


class ErrorLog(harness.E2ETestCase):
    """`log.errors`: hoplite's own lines go to a file instead of stderr, with or without workers,
    and SIGUSR1 reopens it by name like the access log; a file that cannot be opened at start is
    a start-up error naming it."""

    def start(self, config):
        path = os.path.join(self.tmp, "hoplite.json")
        with open(path, "w") as f:
            json.dump(config, f)
        proc = harness.Process("hoplite", [harness.HOPLITE_BIN, "-c", path], cwd=self.tmp)
        self.addCleanup(proc.stop)
        return proc

    def file_text(self, path):
        if not os.path.exists(path):
            return ""
        with open(path) as f:
            return f.read()

    def wait_in_file(self, path, regex):
        return harness.wait_until(lambda: re.search(regex, self.file_text(path), re.M),
                                  what=f"/{regex}/ in {path}")

    def check_error_log(self, workers):
        errors = os.path.join(self.tmp, "errors.log")
        rotated = errors + ".1"
        backend = self.demo_backend()
        proc = self.start(harness.make_config(
            [f"127.0.0.1:{backend.port}"], workers=workers,
            log={"access": "off", "errors": errors}))
        port = int(self.wait_in_file(errors, r"^hoplite: listening on 127\.0\.0\.1:(\d+)$")
                   .group(1))
        self.wait_in_file(errors, r"^hoplite: ready$")
        client = self.connect(port)
        client.send(build_request("GET", "/one", [("Host", "app.test")]))
        self.assertEqual(client.read_response().status, 200)
        client.close()
        os.rename(errors, rotated)
        proc.send_signal(signal.SIGUSR1)
        # Every process reopens its own: one line from each, in the new file.
        harness.wait_until(lambda: self.file_text(errors).count("access log reopened") == workers,
                           what="every process's reopen line in the new file")
        self.assertEqual(proc.stop(), 0)
        rotated_text = self.file_text(rotated)
        new_text = self.file_text(errors)
        self.assertIn("hoplite: ready\n", rotated_text)
        self.assertNotIn("counters:", rotated_text)
        self.assertRegex(new_text, r"(?m)^hoplite: counters: accepted=1 requests=1 ")
        self.assertEqual(proc.stderr.text(), "")  # nothing went to the real stderr

    def test_lines_go_to_the_file_and_sigusr1_reopens_it(self):
        self.check_error_log(workers=1)

    def test_every_worker_reopens_it_too(self):
        self.check_error_log(workers=2)

    def test_a_file_that_cannot_be_opened_stops_the_start(self):
        # /proc exists, so --check passes, but nobody (root included) can create a file there.
        for key, message in (("errors", "error log (/log/errors)"),
                             ("access", "access log (/log/access)")):
            with self.subTest(key=key):
                proc = self.start(harness.make_config(["127.0.0.1:1"],
                                                      log={key: "/proc/hoplite-e2e.log"}))
                self.assertEqual(proc.wait(harness.STARTUP_TIMEOUT), 1)
                self.assertIn(f"cannot open the {message} /proc/hoplite-e2e.log",
                              proc.stderr.text())
