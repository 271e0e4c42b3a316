"""The admin listener (`admin.listen`): /healthz, /status and /metrics on a socket of its own, with
exact values after known traffic, single process and "workers": 2 (where the supervisor serves
the sum over its workers, live), checked by Prometheus's own promtool and against the counters
line hoplite prints at exit.

Counters are read once hoplite has settled (no client connection and no tunnel open, polled on
/metrics itself); then every value is compared exactly, so a count that is too high fails as
surely as one that is too low.
"""

import json
import os
import re
import signal
import subprocess
import unittest

import harness
from harness import build_request, build_response, ws_accept, ws_key
from test_access_log import read_lines
from test_tunnel import accept_upgrade, upgrade_request

ADMIN = {"listen": "127.0.0.1:0"}
PROMTOOL = "/usr/bin/promtool"
BUCKETS = ["0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5",
           "5", "10", "30", "60", "+Inf"]
CODES = ["1xx", "2xx", "3xx", "4xx", "5xx"]
CONNECT_REASONS = ["refused", "timeout", "unreachable", "resolve", "other"]
UPGRADE_RESULTS = ["granted", "refused", "rejected", "not_switched", "invalid_101"]
CLOSE_REASONS = ["both_finished", "client_reset", "upstream_reset", "client_error",
                 "upstream_error", "write_failed", "shutdown_failed", "tunnel_idle",
                 "shutdown_drain"]
REJECTIONS = [("400", "bad_request"), ("404", "no_route"), ("405", "method_not_allowed"),
              ("408", "client_header_timeout"),
              ("413", "body_too_large"), ("431", "header_too_large"), ("501", "not_implemented"),
              ("505", "version_not_supported")]
TIMEOUTS = ["client_header", "client_idle", "client_body", "upstream_connect",
            "upstream_response", "tunnel_idle", "shutdown_drain"]
STATUS_KEYS = ["version", "uptime_seconds", "config_file", "config_generation", "config_loaded",
               "workers", "draining", "connections_open", "tunnels_open", "upstreams"]
TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
BAD_REQUEST = b"GET /bad HTTP/1.1\r\nHost : app.test\r\n\r\n"  # a space before the colon: 400

# ------------------------------------------------------------------------------------------------
# The exposition format (text 0.0.4)

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)')
_TYPES = ("counter", "gauge", "histogram", "summary", "untyped")


def _unescape(value):
    return re.sub(r"\\(.)", lambda m: {"n": "\n"}.get(m.group(1), m.group(1)), value)


def parse_labels(text):
    labels = {}
    position = 0
    while position < len(text):
        match = _LABEL.match(text, position)
        assert match, f"bad label set {text!r} at {position}"
        name, value = match.group(1), _unescape(match.group(2))
        assert name not in labels, f"label {name} repeated in {text!r}"
        labels[name] = value
        position = match.end()
    return labels


class Metrics:
    """One scrape: samples as {(name, ((label, value), ...)): float}, in text order, plus each
    family's TYPE and HELP. Parsing checks the structure promtool does not: no series twice, no
    sample before its family's TYPE, and every histogram's buckets cumulative up to +Inf ==
    _count."""

    def __init__(self, text):
        self.text = text
        self.samples = {}
        self.types = {}
        self.helps = {}
        assert text.endswith("\n"), "the exposition does not end with a newline"
        for line in text.splitlines():
            if line.startswith("# HELP "):
                name, _, help_text = line[len("# HELP "):].partition(" ")
                assert name not in self.helps, f"HELP for {name} twice"
                self.helps[name] = help_text
                continue
            if line.startswith("# TYPE "):
                name, _, kind = line[len("# TYPE "):].partition(" ")
                assert kind in _TYPES, line
                assert name not in self.types, f"TYPE for {name} twice"
                self.types[name] = kind
                continue
            assert line and not line.startswith("#"), f"unexpected line {line!r}"
            match = _SAMPLE.match(line)
            assert match, f"malformed sample line {line!r}"
            name, labels, value = match.group(1), parse_labels(match.group(2) or ""), match.group(3)
            family = self.family_of(name)
            assert family in self.types, f"{name} has no TYPE line before it"
            key = (name, tuple(sorted(labels.items())))
            assert key not in self.samples, f"series twice: {line}"
            self.samples[key] = float(value)
        for family, kind in self.types.items():
            assert family in self.helps, f"{family} has no HELP"
            if kind == "histogram":
                for labels in self.series(family + "_count"):
                    self.histogram(family, **labels)

    def family_of(self, name):
        for suffix in ("_bucket", "_sum", "_count"):
            base = name[:-len(suffix)]
            if name.endswith(suffix) and self.types.get(base) == "histogram":
                return base
        return name

    def series(self, name):
        """The label sets of every sample called `name`, in order."""
        return [dict(labels) for sample, labels in self.samples if sample == name]

    def family(self, name):
        """{label items: value} over every sample called `name`."""
        return {labels: value for (sample, labels), value in self.samples.items()
                if sample == name}

    def values(self, name, key_labels):
        """{tuple of the `key_labels` values: value} over every sample called `name`."""
        return {tuple(dict(labels)[k] for k in key_labels): value
                for (sample, labels), value in self.samples.items() if sample == name}

    def value(self, name, **labels):
        key = (name, tuple(sorted(labels.items())))
        assert key in self.samples, f"no series {name}{labels}; there are {self.series(name)}"
        return self.samples[key]

    def total(self, name, **labels):
        """The sum over every series of `name` whose labels include `labels`."""
        wanted = set(labels.items())
        found = [value for (sample, series), value in self.samples.items()
                 if sample == name and wanted <= set(series)]
        assert found, f"no series {name}{labels}"
        return sum(found)

    def histogram(self, family, **labels):
        """The histogram's _count, after checking its buckets: the documented bounds in order,
        cumulative, +Inf equal to _count."""
        buckets = [(s["le"], self.value(family + "_bucket", **s))
                   for s in self.series(family + "_bucket")
                   if {k: v for k, v in s.items() if k != "le"} == labels]
        self.value(family + "_sum", **labels)
        count = self.value(family + "_count", **labels)
        assert [le for le, _ in buckets] == BUCKETS, f"{family}{labels} buckets {buckets}"
        counts = [v for _, v in buckets]
        assert counts == sorted(counts), f"{family}{labels} buckets not cumulative: {buckets}"
        assert counts[-1] == count, f"{family}{labels}: +Inf {counts[-1]} != _count {count}"
        return count


# ------------------------------------------------------------------------------------------------
# WebSocket frames as bytes on the wire


def _length_bytes(n, mask_bit):
    if n < 126:
        return bytes([mask_bit | n])
    if n < 65536:
        return bytes([mask_bit | 126]) + n.to_bytes(2, "big")
    return bytes([mask_bit | 127]) + n.to_bytes(8, "big")


def client_frame(payload, opcode=0x2, mask=b"\x5a\x17\xc3\x08"):
    """FIN, `opcode`, masked (RFC 6455 §5.2), any length."""
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x80 | opcode]) + _length_bytes(len(payload), 0x80) + mask + masked


def server_frame(payload, opcode=0x2):
    """What the demo backend echoes: FIN, `opcode`, unmasked, the shortest length encoding."""
    return bytes([0x80 | opcode]) + _length_bytes(len(payload), 0) + payload


# ------------------------------------------------------------------------------------------------


class AdminTestCase(harness.E2ETestCase):
    def admin(self, proxy, method, path, headers=()):
        """One request on a fresh admin connection; the admin listener closes it after the
        response, which is checked too."""
        peer = harness.connect(proxy.admin_port)
        try:
            peer.send(build_request(method, path, [("Host", f"127.0.0.1:{proxy.admin_port}"),
                                                   *headers]))
            response = peer.read_response(method=method)
            self.assertEqual(response.header("Connection"), "close", response.raw_head)
            self.assertEqual(peer.closed_by_peer(), b"", f"{method} {path}: bytes after the body")
            return response
        finally:
            peer.close()

    def scrape(self, proxy):
        response = self.admin(proxy, "GET", "/metrics")
        self.assertEqual(response.status, 200, response.body[:300])
        return Metrics(response.body.decode("utf-8"))

    def status(self, proxy):
        response = self.admin(proxy, "GET", "/status")
        self.assertEqual(response.status, 200, response.body[:300])
        self.assertEqual(response.header("Content-Type"), "application/json")
        return response.json()

    def scrape_until(self, proxy, predicate, what):
        """Scrapes until `predicate(metrics)` holds; returns that scrape."""
        last = []

        def probe():
            last[:] = [self.scrape(proxy)]
            return predicate(last[0])

        harness.wait_until(probe, what=what, interval=0.02)
        return last[0]

    def settled(self, proxy, what="hoplite to settle"):
        """A scrape taken once no client connection and no tunnel is open: everything the
        traffic so far will count has been counted."""
        return self.scrape_until(proxy, lambda m: m.total("hoplite_connections_open") == 0 and
                                 m.total("hoplite_tunnels_open") == 0, what)

    def exchange(self, proxy, request, method="GET"):
        """`request` on a fresh connection, which hoplite must close after the answer."""
        client = self.connect(proxy.port)
        client.send(request)
        response = client.read_response(method=method)
        self.assertEqual(client.closed_by_peer(), b"")
        client.close()
        return response

    def get(self, proxy, target, host="app.test"):
        return self.exchange(proxy, build_request("GET", target, [("Host", host),
                                                                  ("Connection", "close")]))

    def assertFamily(self, metrics, name, key_labels, expected):
        """Every series of `name`, keyed by `key_labels`: those in `expected` have its value,
        all the others are 0."""
        actual = metrics.values(name, key_labels)
        for key in expected:
            self.assertIn(key, actual, f"{name}: no series {key}")
        self.assertEqual({k: v for k, v in actual.items() if v or k in expected},
                         {k: float(v) for k, v in expected.items()}, name)

    def assertExitCountersAgree(self, counters, metrics):
        """The counters line at exit against the last scrape before SIGTERM."""
        self.assertEqual(counters["accepted"], metrics.total("hoplite_connections_accepted_total"))
        self.assertEqual(counters["upstream_connect_failures"],
                         metrics.total("hoplite_upstream_connect_failures_total"))
        self.assertEqual(counters["tunnels_opened"],
                         metrics.total("hoplite_upgrades_total", result="granted"))
        self.assertEqual(counters["tunnels_closed"], metrics.total("hoplite_tunnels_closed_total"))
        self.assertEqual(counters["log_lines_dropped"],
                         metrics.value("hoplite_log_lines_dropped_total"))
        for timeout in TIMEOUTS:
            self.assertEqual(counters[f"timeout_{timeout}"],
                             metrics.value("hoplite_timeouts_total", timeout=timeout), timeout)


class PathsAndMethods(AdminTestCase):
    def test_healthz_head_405_404_and_content_types(self):
        backend = self.demo_backend()
        proxy = self.hoplite([backend], admin=ADMIN)
        self.assertNotEqual(proxy.admin_port, proxy.port)

        response = self.admin(proxy, "GET", "/healthz")
        self.assertEqual((response.status, response.body), (200, b"ok\n"))
        head = self.admin(proxy, "HEAD", "/healthz")  # admin() checks nothing follows the head
        self.assertEqual((head.status, head.body), (200, b""))
        self.assertEqual(head.header("Content-Length"), "3")
        self.assertEqual(head.header("Content-Type"), response.header("Content-Type"))

        for method, path in (("POST", "/metrics"), ("PUT", "/healthz"), ("DELETE", "/status")):
            with self.subTest(method=method, path=path):
                refused = self.admin(proxy, method, path, [("Content-Length", "0")])
                self.assertEqual(refused.status, 405)
                self.assertEqual(refused.header("Allow"), "GET, HEAD")
        for path in ("/nope", "/", "/metrics/x", "/healthz2"):
            with self.subTest(path=path):
                self.assertEqual(self.admin(proxy, "GET", path).status, 404)

        metrics = self.admin(proxy, "GET", "/metrics")
        self.assertEqual(metrics.status, 200)
        self.assertEqual(metrics.header("Content-Type"), "text/plain; version=0.0.4")
        self.assertEqual(int(metrics.header("Content-Length")), len(metrics.body))
        head = self.admin(proxy, "HEAD", "/metrics")
        self.assertEqual((head.status, head.body), (200, b""))
        self.assertEqual(head.header("Content-Type"), "text/plain; version=0.0.4")
        self.assertIsInstance(self.status(proxy), dict)

        # None of this was proxy traffic.
        metrics = self.scrape(proxy)
        self.assertEqual(metrics.total("hoplite_connections_accepted_total"), 0)
        self.assertEqual(metrics.total("hoplite_requests_total"), 0)
        self.assertEqual(metrics.total("hoplite_rejected_requests_total"), 0)
        counters = self.stop_hoplite(proxy)
        self.assertCounters(counters, accepted=0, requests=0, rejected_4xx=0, errors_5xx=0)

    def test_the_admin_paths_on_a_proxy_listener_go_to_the_backend(self):
        backend = self.demo_backend()
        proxy = self.hoplite([backend], admin=ADMIN)
        for path in ("/metrics", "/healthz", "/status"):
            for host in ("app.test", f"127.0.0.1:{proxy.admin_port}"):
                with self.subTest(path=path, host=host):
                    response = self.get(proxy, path, host)
                    self.assertEqual(response.status, 200)
                    seen = response.json()  # the demo backend's echo, not an admin page
                    self.assertEqual((seen["method"], seen["target"]), ("GET", path))
        metrics = self.settled(proxy)
        self.assertEqual(metrics.value("hoplite_requests_total", route="0", code="2xx"), 6)
        self.assertEqual(metrics.total("hoplite_connections_accepted_total"), 6)
        counters = self.stop_hoplite(proxy)
        self.assertCounters(counters, accepted=6, requests=6)

    def test_every_series_is_there_from_the_start_at_zero(self):
        api = self.demo_backend()
        refused, holder = harness.refused_address()
        self.addCleanup(holder.close)
        proxy = self.hoplite([api], admin=ADMIN, upstreams={
            "api": {"servers": [api.address]}, "web": {"servers": [api.address, refused]}},
            routes=[{"name": "api", "host": "api.test", "upstream": "api"},
                    {"host": "*", "upstream": "web", "upgrade": {"allow": []}}])
        metrics = self.scrape(proxy)
        listener = f"127.0.0.1:{proxy.port}"
        expected_series = {
            "hoplite_build_info": [("version",)],
            "hoplite_connections_accepted_total": [(listener,)],
            "hoplite_connections_open": [(listener,)],
            "hoplite_requests_total": [(r, c) for r in ("api", "1") for c in CODES],
            "hoplite_upstream_requests_total": [
                (u, s, c) for u, s in (("api", api.address), ("web", api.address),
                                       ("web", refused)) for c in CODES],
            "hoplite_upstream_connect_failures_total": [
                (u, s, r) for u, s in (("api", api.address), ("web", api.address),
                                       ("web", refused)) for r in CONNECT_REASONS],
            # The protocol label takes every protocol allowed anywhere, on every route.
            "hoplite_upgrades_total": [(route, p, r) for route in ("api", "1")
                                       for p in ("websocket", "other") for r in UPGRADE_RESULTS],
            "hoplite_tunnels_open": [("api",), ("1",)],
            "hoplite_tunnels_closed_total": [(r, c) for r in ("api", "1") for c in CLOSE_REASONS],
            "hoplite_tunnel_bytes_total": [(r, d) for r in ("api", "1")
                                           for d in ("from_client", "from_upstream")],
            "hoplite_rejected_requests_total": REJECTIONS,
            "hoplite_timeouts_total": [(t,) for t in TIMEOUTS],
        }
        label_names = {
            "hoplite_build_info": ("version",),
            "hoplite_connections_accepted_total": ("listener",),
            "hoplite_connections_open": ("listener",),
            "hoplite_requests_total": ("route", "code"),
            "hoplite_upstream_requests_total": ("upstream", "server", "code"),
            "hoplite_upstream_connect_failures_total": ("upstream", "server", "reason"),
            "hoplite_upgrades_total": ("route", "protocol", "result"),
            "hoplite_tunnels_open": ("route",),
            "hoplite_tunnels_closed_total": ("route", "reason"),
            "hoplite_tunnel_bytes_total": ("route", "direction"),
            "hoplite_rejected_requests_total": ("status", "reason"),
            "hoplite_timeouts_total": ("timeout",),
        }
        version = metrics.series("hoplite_build_info")[0]["version"]
        expected_series["hoplite_build_info"] = [(version,)]
        for name, keys in expected_series.items():
            with self.subTest(family=name):
                series = metrics.series(name)
                for labels in series:
                    self.assertEqual(sorted(labels), sorted(label_names[name]), name)
                actual = sorted(tuple(s[k] for k in label_names[name]) for s in series)
                self.assertEqual(actual, sorted(keys))
                if name != "hoplite_build_info":
                    self.assertEqual(metrics.total(name), 0, name)
        self.assertEqual(metrics.value("hoplite_build_info", version=version), 1)
        for family, labels in (("hoplite_request_duration_seconds", "route"),
                               ("hoplite_tunnel_duration_seconds", "route"),
                               ("hoplite_upstream_header_seconds", "upstream")):
            with self.subTest(family=family):
                self.assertEqual(metrics.types[family], "histogram")
                values = sorted(s[labels] for s in metrics.series(family + "_count"))
                self.assertEqual(values, ["api", "web"] if labels == "upstream" else ["1", "api"])
                for value in values:
                    self.assertEqual(metrics.histogram(family, **{labels: value}), 0)
        self.assertEqual(metrics.value("hoplite_workers"), 1)
        self.assertEqual(metrics.value("hoplite_config_generation"), 1)
        self.assertFamily(metrics, "hoplite_config_reloads_total", ("result",),
                          {("ok",): 0, ("failed",): 0})
        self.assertEqual(metrics.value("hoplite_log_lines_dropped_total"), 0)
        for gauge in ("hoplite_start_time_seconds", "hoplite_config_loaded_timestamp_seconds",
                      "process_start_time_seconds", "process_resident_memory_bytes",
                      "process_open_fds"):
            self.assertGreater(metrics.value(gauge), 0, gauge)
        # The process starts, then reads its config.
        self.assertLessEqual(metrics.value("hoplite_start_time_seconds"),
                             metrics.value("hoplite_config_loaded_timestamp_seconds"))
        self.assertGreaterEqual(metrics.value("process_cpu_seconds_total"), 0)
        for family in metrics.types:
            if metrics.types[family] == "counter":
                self.assertTrue(family.endswith("_total"), family)
        self.stop_hoplite(proxy)


class ExactCounts(AdminTestCase):
    def test_requests_rejections_upstreams_and_connections(self):
        api = self.demo_backend()
        web_targets = []

        def answer_404(peer, index):
            while True:
                try:
                    request = peer.read_request()
                except EOFError:
                    return
                web_targets.append(request.target)
                peer.send(build_response(404, "Not Found", [("Content-Length", "9")],
                                         b"not found"))

        web = self.fake_backend(answer_404)
        refused, holder = harness.refused_address()
        self.addCleanup(holder.close)
        proxy = self.hoplite([api], admin=ADMIN, upstreams={
            "api": {"servers": [api.address]}, "web": {"servers": [web.address]},
            "down": {"servers": [refused]}}, routes=[
            {"name": "api", "host": "app.test", "path_prefix": "/api", "upstream": "api"},
            {"name": "web", "host": "web.test", "upstream": "web"},
            {"name": "down", "host": "down.test", "upstream": "down"}])

        # 3 requests to api on one keep-alive connection.
        client = self.connect(proxy.port)
        for i in range(3):
            client.send(build_request("GET", f"/api/{i}", [("Host", "app.test")] +
                                      ([("Connection", "close")] if i == 2 else [])))
            response = client.read_response()
            self.assertEqual(response.status, 200)
            self.assertEqual(response.json()["target"], f"/api/{i}")
        self.assertEqual(client.closed_by_peer(), b"")
        # 2 to web, which answers 404; one of no route; one malformed; one to a refusing server.
        for i in range(2):
            response = self.get(proxy, f"/page/{i}", "web.test")
            self.assertEqual((response.status, response.body), (404, b"not found"))
        self.assertEqual(self.get(proxy, "/other", "app.test").status, 404)
        self.assertEqual(self.exchange(proxy, BAD_REQUEST).status, 400)
        self.assertEqual(self.get(proxy, "/x", "down.test").status, 502)
        self.assertEqual(web_targets, ["/page/0", "/page/1"])

        metrics = self.settled(proxy)
        listener = f"127.0.0.1:{proxy.port}"
        self.assertEqual(metrics.value("hoplite_connections_accepted_total", listener=listener), 6)
        self.assertEqual(metrics.value("hoplite_connections_open", listener=listener), 0)
        self.assertFamily(metrics, "hoplite_requests_total", ("route", "code"), {
            ("api", "2xx"): 3, ("web", "4xx"): 2, ("down", "5xx"): 1})
        self.assertFamily(metrics, "hoplite_rejected_requests_total", ("status", "reason"), {
            ("400", "bad_request"): 1, ("404", "no_route"): 1})
        self.assertFamily(metrics, "hoplite_upstream_requests_total", ("upstream", "server", "code"), {
            ("api", api.address, "2xx"): 3, ("web", web.address, "4xx"): 2,
            ("down", refused, "5xx"): 0})
        self.assertFamily(metrics, "hoplite_upstream_connect_failures_total",
                          ("upstream", "server", "reason"), {("down", refused, "refused"): 1})
        for route, count in (("api", 3), ("web", 2), ("down", 1)):
            self.assertEqual(metrics.histogram("hoplite_request_duration_seconds", route=route),
                             count, route)
        for upstream, count in (("api", 3), ("web", 2), ("down", 0)):
            self.assertEqual(metrics.histogram("hoplite_upstream_header_seconds",
                                               upstream=upstream), count, upstream)
        for family in ("hoplite_upgrades_total", "hoplite_tunnels_closed_total",
                       "hoplite_tunnel_bytes_total", "hoplite_timeouts_total"):
            self.assertEqual(metrics.total(family), 0, family)

        counters = self.stop_hoplite(proxy)
        # requests counts complete request heads: all but the malformed one.
        self.assertCounters(counters, accepted=6, requests=7, rejected_4xx=2, errors_5xx=1,
                            upstream_connect_failures=1, tunnels_opened=0)
        self.assertExitCountersAgree(counters, metrics)


    def test_every_rejection_reason(self):
        def refuse_any_connection(peer, index):
            raise AssertionError(f"a refused request reached the backend: {peer.drain(0.5)!r}")

        backend = self.fake_backend(refuse_any_connection)
        proxy = self.hoplite([backend], admin=ADMIN, timeouts={"client_header": "300ms"},
                             limits={"max_header_bytes": 4096, "max_body_bytes": 1000},
                             routes=[{"host": "app.test", "upstream": "app"}])
        cases = [
            (BAD_REQUEST, 400),
            (b"GET / HTTP/1.1\r\nHost: other.test\r\nConnection: close\r\n\r\n", 404),
            (b"CONNECT app.test:443 HTTP/1.1\r\nHost: app.test:443\r\n\r\n", 405),
            (b"POST / HTTP/1.1\r\nHost: app.test\r\nContent-Length: 5000\r\n\r\n", 413),
            (b"GET / HTTP/1.1\r\nHost: app.test\r\nX-Big: " + b"x" * 5000 + b"\r\n\r\n", 431),
            (b"POST / HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
             501),
            (b"GET / HTTP/2.0\r\nHost: app.test\r\n\r\n", 505),
            (b"GET / HTTP/1.1\r\nHost: app.test\r\n", 408),  # the head never ends
        ]
        for request, status in cases:
            with self.subTest(status=status):
                self.assertEqual(self.exchange(proxy, request).status, status)
        metrics = self.settled(proxy)
        self.assertFamily(metrics, "hoplite_rejected_requests_total", ("status", "reason"),
                          {key: 1 for key in REJECTIONS})
        self.assertFamily(metrics, "hoplite_timeouts_total", ("timeout",),
                          {("client_header",): 1})
        self.assertEqual(metrics.total("hoplite_requests_total"), 0)
        self.assertEqual(metrics.total("hoplite_connections_accepted_total"), len(cases))
        counters = self.stop_hoplite(proxy)
        self.assertCounters(counters, accepted=len(cases), rejected_4xx=6, errors_5xx=2,
                            upstream_connects=0, timeout_client_header=1)
        self.assertExitCountersAgree(counters, metrics)


class Tunnels(AdminTestCase):
    def test_bytes_each_way_are_the_frames_on_the_wire(self):
        backend = self.demo_backend()
        log_path = os.path.join(self.tmp, "access.log")
        proxy = self.hoplite([backend], admin=ADMIN, log={"access": log_path})
        client = self.connect(proxy.port)
        key, request = upgrade_request("/echo")
        client.send(request)
        response = client.read_response()
        self.assertEqual(response.status, 101)
        self.assertEqual(response.header("Sec-WebSocket-Accept"), ws_accept(key))
        received = bytes(client.buf)  # anything that came with the 101 head
        client.buf.clear()

        metrics = self.scrape_until(
            proxy, lambda m: m.value("hoplite_tunnels_open", route="0") == 1, "the tunnel")
        self.assertEqual(metrics.total("hoplite_connections_open"), 1)
        self.assertFamily(metrics, "hoplite_upgrades_total", ("route", "protocol", "result"),
                          {("0", "websocket", "granted"): 1})
        self.assertFamily(metrics, "hoplite_requests_total", ("route", "code"), {("0", "1xx"): 1})
        self.assertFamily(metrics, "hoplite_upstream_requests_total",
                          ("upstream", "server", "code"), {("app", backend.address, "1xx"): 1})
        self.assertEqual(metrics.histogram("hoplite_tunnel_duration_seconds", route="0"), 0)
        self.assertEqual(self.status(proxy)["tunnels_open"], 1)

        # Every length encoding: 7-bit, 16-bit and 64-bit.
        sent = b""
        for size in (0, 13, 125, 126, 4000, 65536, 70001):
            payload = os.urandom(size)
            frame = client_frame(payload)
            client.send(frame)
            sent += frame
            echo = server_frame(payload)
            self.assertEqual(client.read_exact(len(echo)), echo, f"{size} B")
            received += echo
        metrics = self.scrape_until(
            proxy, lambda m: m.value("hoplite_tunnel_bytes_total", route="0",
                                     direction="from_upstream") >= len(received),
            "the echoed bytes to be counted")
        self.assertEqual(metrics.value("hoplite_tunnel_bytes_total", route="0",
                                       direction="from_client"), len(sent))
        self.assertEqual(metrics.value("hoplite_tunnel_bytes_total", route="0",
                                       direction="from_upstream"), len(received))

        # The closing handshake: the backend answers the close frame, then closes the TCP
        # connection first (RFC 6455 §7.1.1); the client closes after it.
        close = client_frame(b"\x03\xe8", opcode=0x8)
        client.send(close)
        sent += close
        self.assertEqual(client.read_exact(4), server_frame(b"\x03\xe8", opcode=0x8))
        received += server_frame(b"\x03\xe8", opcode=0x8)
        self.assertEqual(client.closed_by_peer(), b"")
        client.close()

        metrics = self.settled(proxy, "the tunnel to close")
        self.assertFamily(metrics, "hoplite_tunnel_bytes_total", ("route", "direction"), {
            ("0", "from_client"): len(sent), ("0", "from_upstream"): len(received)})
        self.assertFamily(metrics, "hoplite_tunnels_closed_total", ("route", "reason"),
                          {("0", "both_finished"): 1})
        self.assertEqual(metrics.histogram("hoplite_tunnel_duration_seconds", route="0"), 1)
        self.assertEqual(metrics.value("hoplite_tunnels_open", route="0"), 0)
        self.assertEqual(metrics.total("hoplite_timeouts_total"), 0)
        counters = self.stop_hoplite(proxy)
        self.assertCounters(counters, accepted=1, tunnels_opened=1, tunnels_closed=1)
        self.assertExitCountersAgree(counters, metrics)
        # The access log's tunnel line says the same.
        _, tunnel = read_lines(log_path)
        self.assertEqual((tunnel["bytes_from_client"], tunnel["bytes_from_upstream"],
                          tunnel["closed_by"], tunnel["close_reason"]),
                         (len(sent), len(received), "upstream", "both_finished"))

    def test_close_reasons_agree_with_the_access_log(self):
        def script(peer, index):
            accept_upgrade(peer)
            data = peer.read_until(b"\n")
            peer.send(data.upper())
            try:
                peer.read_to_eof()
            except ConnectionResetError:
                pass

        backend = self.fake_backend(script)
        log_path = os.path.join(self.tmp, "access.log")
        proxy = self.hoplite([backend], admin=ADMIN, log={"access": log_path})

        def tunnel():
            client = self.connect(proxy.port)
            client.send(upgrade_request("/t")[1])
            self.assertEqual(client.read_response().status, 101)
            client.send(b"hello tunnel\n")
            self.assertEqual(client.read_exact(13), b"HELLO TUNNEL\n")
            return client

        # The client finishes first (FIN); the backend follows.
        graceful = tunnel()
        graceful.shutdown_write()
        self.assertEqual(graceful.closed_by_peer(), b"")
        graceful.close()
        self.settled(proxy, "the first tunnel to close")
        # The client resets its connection.
        tunnel().reset()
        metrics = self.settled(proxy, "the second tunnel to close")
        self.assertFamily(metrics, "hoplite_tunnels_closed_total", ("route", "reason"), {
            ("0", "both_finished"): 1, ("0", "client_reset"): 1})
        self.assertFamily(metrics, "hoplite_tunnel_bytes_total", ("route", "direction"), {
            ("0", "from_client"): 26, ("0", "from_upstream"): 26})
        self.assertEqual(metrics.histogram("hoplite_tunnel_duration_seconds", route="0"), 2)
        self.assertFamily(metrics, "hoplite_upgrades_total", ("route", "protocol", "result"),
                          {("0", "websocket", "granted"): 2})
        counters = self.stop_hoplite(proxy)
        self.assertExitCountersAgree(counters, metrics)
        reasons = [line["close_reason"] for line in read_lines(log_path)
                   if line["type"] == "tunnel"]
        self.assertEqual(reasons, ["both_finished", "client_reset"])

    def test_tunnel_idle_is_a_close_reason_and_a_timeout(self):
        def script(peer, index):
            accept_upgrade(peer)
            peer.read_to_eof()

        backend = self.fake_backend(script)
        proxy = self.hoplite([backend], admin=ADMIN, timeouts={"tunnel_idle": "200ms"})
        client = self.connect(proxy.port)
        client.send(upgrade_request()[1])
        self.assertEqual(client.read_response().status, 101)
        self.assertEqual(client.closed_by_peer(), b"")
        metrics = self.settled(proxy, "the idle tunnel to close")
        self.assertFamily(metrics, "hoplite_tunnels_closed_total", ("route", "reason"),
                          {("0", "tunnel_idle"): 1})
        self.assertFamily(metrics, "hoplite_timeouts_total", ("timeout",), {("tunnel_idle",): 1})
        self.assertFamily(metrics, "hoplite_tunnel_bytes_total", ("route", "direction"), {})
        self.assertFamily(metrics, "hoplite_upgrades_total", ("route", "protocol", "result"),
                          {("0", "websocket", "granted"): 1})
        counters = self.stop_hoplite(proxy)
        self.assertCounters(counters, timeout_tunnel_idle=1, tunnels_opened=1, tunnels_closed=1)
        self.assertExitCountersAgree(counters, metrics)

    def test_every_upgrade_result(self):
        targets = []

        def script(peer, index):
            while True:  # hoplite may send the next request on a pooled connection
                try:
                    request = peer.read_request()
                except EOFError:
                    return
                targets.append(request.target)
                if request.target == "/not-switched":
                    peer.send(build_response(200, "OK", [("Content-Length", "2")], b"no"))
                elif request.target == "/invalid-101":
                    peer.send(build_response(101, "Switching Protocols", [
                        ("Upgrade", "websocket"), ("Connection", "Upgrade"),
                        ("Sec-WebSocket-Accept", ws_accept(ws_key()))]))
                    peer.drain(2.0)
                    return
                elif request.target == "/other-protocol":
                    # Not allowed, so it came as plain HTTP: no Upgrade field left.
                    assert request.header("Upgrade") is None, request.headers
                    peer.send(build_response(200, "OK", [("Content-Length", "5")], b"plain"))
                else:
                    raise AssertionError(f"unexpected {request.start_line}")

        backend = self.fake_backend(script)
        proxy = self.hoplite([backend], admin=ADMIN, routes=[
            {"name": "closed", "host": "closed.test", "upstream": "app", "upgrade": {"allow": []}},
            {"host": "*", "upstream": "app"}])

        def attempt(target, upgrade="websocket", version="13", host="app.test"):
            return self.exchange(proxy, build_request("GET", target, [
                ("Host", host), ("Upgrade", upgrade), ("Connection", "Upgrade, close"),
                ("Sec-WebSocket-Key", ws_key()), ("Sec-WebSocket-Version", version)]))

        self.assertEqual(attempt("/not-switched").status, 200)
        self.assertEqual(attempt("/invalid-101").status, 502)
        self.assertEqual(attempt("/other-protocol", upgrade="bogus/1").status, 200)
        # websocket where this route allows no upgrade: refused, as protocol "other".
        self.assertEqual(attempt("/other-protocol", host="closed.test").status, 200)
        rejected = attempt("/rejected", version="8")
        self.assertEqual((rejected.status, rejected.header("Sec-WebSocket-Version")), (426, "13"))
        # The 426 never went upstream.
        self.assertEqual(targets, ["/not-switched", "/invalid-101", "/other-protocol",
                                   "/other-protocol"])

        metrics = self.settled(proxy)
        self.assertFamily(metrics, "hoplite_upgrades_total", ("route", "protocol", "result"), {
            ("1", "websocket", "not_switched"): 1, ("1", "websocket", "invalid_101"): 1,
            ("1", "other", "refused"): 1, ("1", "websocket", "rejected"): 1,
            ("closed", "other", "refused"): 1})
        self.assertFamily(metrics, "hoplite_requests_total", ("route", "code"), {
            ("1", "2xx"): 2, ("1", "4xx"): 1, ("1", "5xx"): 1, ("closed", "2xx"): 1})
        self.assertEqual(metrics.total("hoplite_rejected_requests_total"), 0)
        self.assertEqual(metrics.total("hoplite_tunnels_closed_total"), 0)
        self.assertEqual(metrics.histogram("hoplite_request_duration_seconds", route="1"), 4)
        self.assertEqual(metrics.histogram("hoplite_request_duration_seconds", route="closed"), 1)
        counters = self.stop_hoplite(proxy)
        self.assertCounters(counters, tunnels_opened=0, accepted=5)
        self.assertExitCountersAgree(counters, metrics)


class HealthzDrain(AdminTestCase):
    def check_drain(self, workers):
        release = []

        def script(peer, index):
            accept_upgrade(peer)
            release.append(peer.read_to_eof())

        backend = self.fake_backend(script)
        proxy = self.hoplite([backend], admin=ADMIN, workers=workers,
                             timeouts={"shutdown_drain": "5s"})
        client = self.connect(proxy.port)
        client.send(upgrade_request()[1])
        self.assertEqual(client.read_response().status, 101)
        self.scrape_until(proxy, lambda m: m.total("hoplite_tunnels_open") == 1, "the tunnel")
        response = self.admin(proxy, "GET", "/healthz")
        self.assertEqual((response.status, response.body), (200, b"ok\n"))
        self.assertFalse(self.status(proxy)["draining"])

        proxy.send_signal(signal.SIGTERM)
        harness.wait_until(lambda: self.admin(proxy, "GET", "/healthz").status == 503,
                           what="/healthz to answer 503", interval=0.02)
        response = self.admin(proxy, "GET", "/healthz")
        self.assertEqual((response.status, response.body), (503, b"draining\n"))
        head = self.admin(proxy, "HEAD", "/healthz")
        self.assertEqual((head.status, head.body), (503, b""))
        status = self.status(proxy)
        self.assertEqual((status["draining"], status["tunnels_open"]), (True, 1))
        self.assertEqual(self.scrape(proxy).total("hoplite_tunnels_open"), 1)
        self.assertTrue(proxy.running(), "hoplite exited with a tunnel open")

        client.shutdown_write()  # the backend sees EOF and closes: the tunnel ends
        self.assertEqual(client.closed_by_peer(), b"")
        self.assertEqual(proxy.wait(harness.STOP_TIMEOUT), 0, proxy.stderr.text())
        counters = self.stop_hoplite(proxy)
        self.assertCounters(counters, tunnels_opened=1, tunnels_closed=1,
                            timeout_shutdown_drain=0)
        self.assertEqual(release, [b""])
        self.assertTrue(harness.listener_refuses(proxy.admin_port),
                        "the admin listener outlived hoplite")

    def test_healthz_is_503_from_sigterm_until_exit(self):
        self.check_drain(workers=None)

    def test_healthz_is_503_from_sigterm_until_exit_with_workers(self):
        self.check_drain(workers=2)


class WorkersSum(AdminTestCase):
    def test_every_scrape_is_the_sum_over_both_workers(self):
        backend = self.demo_backend()
        proxy = self.hoplite([backend], admin=ADMIN, workers=2)
        for number in (1, 2):
            proxy.wait_for_line(rf"^hoplite: worker {number}: pid \d+$")
        # 40 new connections land on both workers except with probability 2 * 2^-40.
        for i in range(40):
            response = self.get(proxy, f"/n/{i}")
            self.assertEqual(response.status, 200)
            self.assertEqual(response.json()["target"], f"/n/{i}")
        self.assertEqual(self.exchange(proxy, BAD_REQUEST).status, 400)

        metrics = self.settled(proxy)
        listener = f"127.0.0.1:{proxy.port}"
        self.assertEqual(metrics.value("hoplite_workers"), 2)
        self.assertEqual(metrics.value("hoplite_connections_accepted_total", listener=listener), 41)
        self.assertFamily(metrics, "hoplite_requests_total", ("route", "code"), {("0", "2xx"): 40})
        self.assertFamily(metrics, "hoplite_rejected_requests_total", ("status", "reason"),
                          {("400", "bad_request"): 1})
        self.assertFamily(metrics, "hoplite_upstream_requests_total",
                          ("upstream", "server", "code"), {("app", backend.address, "2xx"): 40})
        self.assertEqual(metrics.histogram("hoplite_request_duration_seconds", route="0"), 40)
        self.assertEqual(metrics.histogram("hoplite_upstream_header_seconds", upstream="app"), 40)
        # Scraping again counts nothing twice.
        again = self.scrape(proxy)
        for name in ("hoplite_connections_accepted_total", "hoplite_requests_total",
                     "hoplite_rejected_requests_total", "hoplite_upstream_requests_total"):
            self.assertEqual(again.family(name), metrics.family(name), name)
        status = self.status(proxy)
        self.assertEqual((status["workers"], status["connections_open"], status["draining"]),
                         (2, 0, False))

        counters = self.stop_hoplite(proxy)
        per_worker = harness.parse_worker_counters(proxy.stderr.text())
        self.assertEqual(sorted(per_worker), [1, 2])
        for number, worker in per_worker.items():
            self.assertGreater(worker["accepted"], 0, f"worker {number} accepted nothing")
        self.assertEqual(sum(w["accepted"] for w in per_worker.values()), 41)
        self.assertCounters(counters, accepted=41, requests=40, rejected_4xx=1)
        self.assertExitCountersAgree(counters, metrics)


class Promtool(AdminTestCase):
    def check_with_promtool(self, workers):
        self.assertTrue(os.access(PROMTOOL, os.X_OK),
                        f"{PROMTOOL} is missing: install Debian's prometheus package")
        backend = self.demo_backend()
        refused, holder = harness.refused_address()
        self.addCleanup(holder.close)
        proxy = self.hoplite([backend], admin=ADMIN, workers=workers, upstreams={
            "app": {"servers": [backend.address]}, "down": {"servers": [refused]}}, routes=[
            {"name": "down", "host": "down.test", "upstream": "down"},
            {"name": "app-v1", "host": "app.test", "upstream": "app"}])
        for i in range(5):
            self.assertEqual(self.get(proxy, f"/p/{i}").status, 200)
        self.assertEqual(self.get(proxy, "/", "down.test").status, 502)
        self.assertEqual(self.get(proxy, "/", "nowhere.test").status, 404)
        self.assertEqual(self.exchange(proxy, BAD_REQUEST).status, 400)
        client = self.connect(proxy.port)
        client.send(upgrade_request("/chat")[1])
        self.assertEqual(client.read_response().status, 101)
        client.send(client_frame(b"promtool", opcode=0x1))
        self.assertEqual(client.read_exact(10), server_frame(b"promtool", opcode=0x1))
        self.scrape_until(proxy, lambda m: m.total("hoplite_tunnels_open") == 1, "the tunnel")

        text = self.admin(proxy, "GET", "/metrics").body
        Metrics(text.decode("utf-8"))  # its own structural checks
        result = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True,
                                timeout=30)
        self.assertEqual((result.returncode, result.stdout, result.stderr), (0, b"", b""))
        client.close()
        self.stop_hoplite(proxy)

    def test_promtool_finds_no_problem(self):
        self.check_with_promtool(workers=None)

    def test_promtool_finds_no_problem_with_workers(self):
        self.check_with_promtool(workers=2)


class Status(AdminTestCase):
    def test_status_after_traffic(self):
        backend = self.demo_backend()
        refused, holder = harness.refused_address()
        self.addCleanup(holder.close)
        proxy = self.hoplite([backend], admin=ADMIN, upstreams={
            "app": {"servers": [backend.address]}, "down": {"servers": [refused]}}, routes=[
            {"host": "down.test", "upstream": "down"}, {"host": "*", "upstream": "app"}])
        status = self.status(proxy)
        self.assertEqual(list(status), STATUS_KEYS)
        self.assertEqual(status["upstreams"], {
            "app": {"servers": [{"address": backend.address, "state": "unknown",
                                 "last_connected": None, "last_failed": None,
                                 "checks_failing": False, "ejections": 0}]},
            "down": {"servers": [{"address": refused, "state": "unknown",
                                  "last_connected": None, "last_failed": None,
                                  "checks_failing": False, "ejections": 0}]}})

        self.assertEqual(self.get(proxy, "/", "down.test").status, 502)
        # Held open: a keep-alive client between requests, and a tunnel.
        idle = self.connect(proxy.port)
        idle.send(build_request("GET", "/kept", [("Host", "app.test")]))
        self.assertEqual(idle.read_response().status, 200)
        tunnel = self.connect(proxy.port)
        tunnel.send(upgrade_request("/chat")[1])
        self.assertEqual(tunnel.read_response().status, 101)
        metrics = self.scrape_until(proxy, lambda m: m.total("hoplite_tunnels_open") == 1 and
                                    m.total("hoplite_connections_open") == 2, "two connections")

        status = self.status(proxy)
        self.assertEqual(list(status), STATUS_KEYS)
        self.assertEqual(status["version"], metrics.series("hoplite_build_info")[0]["version"])
        self.assertEqual(status["config_file"], proxy.config_path)
        self.assertRegex(status["config_loaded"], TS)
        self.assertIsInstance(status["uptime_seconds"], (int, float))
        self.assertGreaterEqual(status["uptime_seconds"], 0)
        self.assertEqual((status["workers"], status["draining"], status["connections_open"],
                          status["tunnels_open"]), (1, False, 2, 1))
        app, down = (status["upstreams"][name]["servers"] for name in ("app", "down"))
        self.assertEqual(sorted(status["upstreams"]), ["app", "down"])
        self.assertEqual(len(app), 1)
        self.assertEqual(len(down), 1)
        self.assertEqual((app[0]["address"], app[0]["state"], app[0]["last_failed"]),
                         (backend.address, "up", None))
        self.assertRegex(app[0]["last_connected"], TS)
        self.assertEqual((down[0]["address"], down[0]["state"], down[0]["last_connected"]),
                         (refused, "down", None))
        self.assertRegex(down[0]["last_failed"], TS)
        self.assertGreaterEqual(app[0]["last_connected"], status["config_loaded"])
        json.dumps(status)  # plain JSON values only

        idle.close()
        tunnel.close()
        self.settled(proxy)
        status = self.status(proxy)
        self.assertEqual((status["connections_open"], status["tunnels_open"]), (0, 0))
        self.stop_hoplite(proxy)


if __name__ == "__main__":
    unittest.main()
