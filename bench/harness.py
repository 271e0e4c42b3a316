#!/usr/bin/python3
"""Runs every benchmark scenario of bench/README.md against the backend directly, hoplite, nginx and
HAProxy, interleaved, and writes the raw figures as JSON for bench/report.py.

Started by bench/run.sh, which installs the tools and builds the binaries first. Only loopback
addresses are used. Every process started here is stopped by its PID on exit (normal or not), and
every wait is bounded in time.
"""

import argparse
import datetime
import json
import os
import platform
import re
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

SYSTEMS = ["direct", "hoplite", "nginx", "haproxy"]
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024

# Fixed loopback ports (below the ephemeral range), each checked free before use.
PORT_BASE = 21080
SOURCES = "127.0.0.2-127.0.0.9"  # client source addresses for connection-heavy scenarios


def log(message):
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------------
# Processes: every one we start is registered, and stopped by its PID (and those of its children,
# e.g. nginx's worker) when it is no longer needed or when the harness exits for any reason.

class Processes:
    def __init__(self):
        self.live = []

    def start(self, argv, log_path, stdout=None, stdin=None):
        log_file = open(log_path, "ab")
        proc = subprocess.Popen(argv, stdout=stdout if stdout is not None else log_file,
                                stderr=log_file, stdin=stdin if stdin is not None else subprocess.DEVNULL)
        proc.log_file = log_file
        proc.log_path = log_path
        self.live.append(proc)
        return proc

    def stop(self, proc, sig=signal.SIGTERM, timeout=10.0):
        if proc is None:
            return
        tree = process_tree(proc.pid) if proc.poll() is None else []
        if proc.poll() is None:
            try:
                os.kill(proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        # Children of ours that outlived their parent (e.g. an nginx worker) go by PID too.
        for pid in tree[1:]:
            if os.path.exists(f"/proc/{pid}"):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        proc.log_file.close()
        if proc in self.live:
            self.live.remove(proc)

    def stop_all(self):
        for proc in list(reversed(self.live)):
            try:
                self.stop(proc, timeout=5)
            except Exception as error:  # keep stopping the others
                log(f"could not stop pid {proc.pid}: {error}")


PROCS = Processes()


def process_tree(pid):
    """pid and its descendants, from /proc/PID/task/*/children (bounded depth)."""
    result, frontier = [], [pid]
    for _ in range(4):
        nxt = []
        for p in frontier:
            result.append(p)
            try:
                for task in os.listdir(f"/proc/{p}/task"):
                    with open(f"/proc/{p}/task/{task}/children") as f:
                        nxt.extend(int(c) for c in f.read().split())
            except (FileNotFoundError, ProcessLookupError, PermissionError):
                pass
        frontier = nxt
        if not frontier:
            break
    return result


def rss_kib(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/statm") as f:
                total += int(f.read().split()[1]) * PAGE_KIB
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total


def stat_sum(pids, first, second):
    """The sum over `pids` of two fields of /proc/PID/stat, numbered as in proc(5); a process
    that is gone counts nothing."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()  # fields[0] is field 3, the state
            total += int(fields[first - 3]) + int(fields[second - 3])
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total


def cpu_seconds(pids):
    return stat_sum(pids, 14, 15) / CLK_TCK  # utime, stime


def page_faults(pids):
    return stat_sum(pids, 10, 12)  # minflt, majflt


def machine_busy_jiffies():
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def port_free(port, host="127.0.0.1"):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        if s.connect_ex((host, port)) == 0:
            return False
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def pick_port(start, taken, host="127.0.0.1"):
    for port in range(start, start + 400):
        if port not in taken and port_free(port, host):
            taken.add(port)
            return port
    raise RuntimeError(f"no free loopback port in {start}..{start + 399}")


def wait_listening(port, proc, timeout=15.0, host="127.0.0.1"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"pid {proc.pid} exited with {proc.returncode} before listening; "
                               f"see {proc.log_path}")
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.settimeout(0.2)
            if s.connect_ex((host, port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {host}:{port} after {timeout}s")


def wait_for_log_line(proc, text, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(proc.log_path, "rb") as f:
            if text.encode() in f.read():
                return True
        if proc.poll() is not None:
            return False
        time.sleep(0.05)
    return False


# ------------------------------------------------------------------------------------------------
# Systems under test.

class Setup:
    def __init__(self, args, run_dir):
        self.args = args
        self.run_dir = run_dir
        self.bin = {
            "hoplite": os.path.join(args.build_dir, "hoplite"),
            "demo_backend": os.path.join(args.build_dir, "demo_backend"),
            "ws_load": os.path.join(args.build_dir, "bench", "ws_load", "ws_load"),
        }
        self.nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        self.taken = set()
        self.procs = {}   # system name -> Popen (direct: the backend)
        self.ports = {}
        self.counter = 0

    def fill(self, template, values, out_name):
        with open(os.path.join(HERE, "configs", template)) as f:
            text = f.read()
        for key, value in values.items():
            text = text.replace("{{" + key + "}}", str(value))
        path = os.path.join(self.run_dir, out_name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def start_backend(self, host="127.0.0.1", port=None, tag="backend"):
        port = port or pick_port(PORT_BASE + 20, self.taken, host)
        self.counter += 1
        proc = PROCS.start([self.bin["demo_backend"], "--listen", f"{host}:{port}"],
                           os.path.join(self.run_dir, f"{tag}-{self.counter}.log"))
        wait_listening(port, proc, host=host)
        return proc, port

    def start_origin(self):
        """nginx serving a 3-byte file (scenario 12's origin), in the foreground."""
        port = pick_port(PORT_BASE + 40, self.taken)
        self.counter += 1
        tag = f"origin-{self.counter}"
        tmp = os.path.join(self.run_dir, "origin-tmp")
        www = os.path.join(tmp, "www")
        os.makedirs(www, exist_ok=True)
        with open(os.path.join(www, "small"), "wb") as f:
            f.write(b"ok\n")
        values = {"PORT": port, "RUNDIR": tmp, "WWW": www, "NOFILE": self.nofile,
                  "WORKER_CONNECTIONS": max(1024, self.nofile - 100)}
        cfg = self.fill("nginx-origin.conf", values, f"{tag}.conf")
        proc = PROCS.start(["nginx", "-c", cfg, "-e", os.path.join(tmp, "origin-error.log"),
                            "-g", "daemon off;"], os.path.join(self.run_dir, f"{tag}.log"))
        wait_listening(port, proc)
        return proc, port

    def start_proxy(self, name, backends, maxconn=60000, workers=1, logging=False, binary=None,
                    admin_port=None, upstream_extra="", least_connections=False):
        """Starts a fresh instance of proxy `name` in front of `backends` ("host:port" list),
        with `workers` processes (hoplite, nginx) or threads (HAProxy), and with its access log
        on (`logging`, scenario 13) or off. For hoplite, `binary` replaces the built one and
        `admin_port` turns its admin listener on (scenario 14), and `upstream_extra` adds keys to
        its upstream (scenario 15's balance). `least_connections`: each proxy's own least
        connections balance (scenario 16)."""
        port = pick_port(PORT_BASE + 1, self.taken)
        self.counter += 1
        tag = f"{name}-{self.counter}"
        logp = os.path.join(self.run_dir, f"{tag}.log")
        values = {"PORT": port, "RUNDIR": self.run_dir, "BACKEND": backends[0],
                  "SERVERS": ", ".join(f'"{b}"' for b in backends),
                  "NOFILE": self.nofile, "WORKER_CONNECTIONS": max(1024, self.nofile - 100),
                  "MAXCONN": maxconn, "WORKERS": workers,
                  "HOPLITE_ACCESS_LOG": "off", "NGINX_ACCESS_LOG": "access_log off",
                  "HAPROXY_GLOBAL_LOG": "", "HAPROXY_DEFAULTS_LOG": "",
                  "HOPLITE_ADMIN": "", "UPSTREAM_EXTRA": upstream_extra,
                  "NGINX_SERVERS": " ".join(f"server {b};" for b in backends),
                  "HAPROXY_SERVERS": "".join(f"    server app{i + 1} {b}\n"
                                             for i, b in enumerate(backends)),
                  "NGINX_BALANCE": "", "HAPROXY_BALANCE": ""}
        if least_connections:
            values["UPSTREAM_EXTRA"] += ', "balance": "least_connections"'
            values["NGINX_BALANCE"] = "least_conn; "
            values["HAPROXY_BALANCE"] = "    balance leastconn\n"
        if admin_port:
            values["HOPLITE_ADMIN"] = f'"admin": {{ "listen": "127.0.0.1:{admin_port}" }},'

        if logging:
            # Each to a file, buffered as its operator would: hoplite's own 64 KiB / 100 ms,
            # nginx's buffer=64k flush=100ms, HAProxy's httplog on its standard output (a file).
            access = os.path.join(self.run_dir, f"{tag}-access.log")
            values["HOPLITE_ACCESS_LOG"] = access
            values["NGINX_ACCESS_LOG"] = f"access_log {access} combined buffer=64k flush=100ms"
            values["HAPROXY_GLOBAL_LOG"] = "    log stdout format raw local0\n"
            values["HAPROXY_DEFAULTS_LOG"] = "    log global\n    option httplog\n"
        if name == "hoplite":
            cfg = self.fill("hoplite.json", values, f"{tag}.json")
            proc = PROCS.start([binary or self.bin["hoplite"], "-c", cfg], logp)
            if not wait_for_log_line(proc, "hoplite: ready"):
                raise RuntimeError(f"hoplite did not report ready; see {logp}")
        elif name == "nginx":
            tmp = os.path.join(self.run_dir, "nginx-tmp")
            os.makedirs(tmp, exist_ok=True)
            values["RUNDIR"] = tmp
            cfg = self.fill("nginx.conf", values, f"{tag}.conf")
            proc = PROCS.start(["nginx", "-c", cfg, "-e", os.path.join(tmp, "nginx-error.log"),
                                "-g", "daemon off;"], logp)
        elif name == "haproxy":
            values["MAXCONN"] = min(maxconn, max(256, (self.nofile - 100) // 2))
            cfg = self.fill("haproxy.cfg", values, f"{tag}.cfg")
            proc = PROCS.start(["haproxy", "-db", "-f", cfg], logp)
        else:
            raise ValueError(name)
        wait_listening(port, proc)
        return proc, port

    def start_all(self, workers=1, origin=False, logging=False):
        """The backend (demo_backend, or nginx as the origin) and every proxy in front of it."""
        if origin:
            backend, bport = self.start_origin()
        else:
            backend, bport = self.start_backend(port=pick_port(PORT_BASE, self.taken))
        self.backend = backend
        self.procs["direct"], self.ports["direct"] = backend, bport
        for name in SYSTEMS:
            if name == "direct":
                continue
            self.procs[name], self.ports[name] = self.start_proxy(name, [f"127.0.0.1:{bport}"],
                                                                  workers=workers,
                                                                  logging=logging)
        log(f"listening ({workers} worker(s) each): " +
            ", ".join(f"{n}={self.ports[n]}" for n in SYSTEMS))

    def warm_up(self):
        """One short run per system, so that first-touch costs are not in the figures."""
        for system in SYSTEMS:
            run_wrk(f"http://127.0.0.1:{self.ports[system]}/bytes/128", 50, 1)
            run_ws(self, "echo", self.ports[system], ["--connections", "8", "--duration", "0.5"], 1)

    def stop_all(self):
        for name in reversed(SYSTEMS):
            if name != "direct":
                PROCS.stop(self.procs.pop(name, None))
        PROCS.stop(self.procs.pop("direct", None))
        self.taken.clear()

    def pids(self, name):
        return process_tree(self.procs[name].pid)


# ------------------------------------------------------------------------------------------------
# Load generators.

UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60000.0}
SIZE = {"B": 1, "KB": 1024, "MB": 1024 ** 2, "GB": 1024 ** 3, "TB": 1024 ** 4}


def parse_wrk(text):
    out = {}
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    out["rps"] = float(m.group(1)) if m else 0.0
    m = re.search(r"Transfer/sec:\s+([\d.]+)(\w+)", text)
    out["bytes_per_s"] = float(m.group(1)) * SIZE.get(m.group(2), 1) if m else 0.0
    m = re.search(r"(\d+) requests in ([\d.]+)(\w+)", text)
    out["requests"] = int(m.group(1)) if m else 0
    for pct in ("50", "99"):
        m = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s|m)\s*$", text, re.M)
        out[f"p{pct}_ms"] = float(m.group(1)) * UNITS[m.group(2)] if m else None
    errors = 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if m:
        errors += sum(int(g) for g in m.groups())
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if m:
        errors += int(m.group(1))
    out["errors"] = errors
    return out


def run_wrk(url, connections, duration, extra=(), timeout_slack=30):
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout", "5s",
            *extra, url]
    res = subprocess.run(argv, capture_output=True, text=True, timeout=duration + timeout_slack)
    if res.returncode != 0:
        raise RuntimeError(f"wrk failed ({res.returncode}): {res.stderr.strip()[:300]}")
    return parse_wrk(res.stdout)


def run_ws(setup, mode, port, extra, duration, slack=60):
    argv = [setup.bin["ws_load"], mode, "--target", f"127.0.0.1:{port}", *extra]
    res = subprocess.run(argv, capture_output=True, text=True, timeout=duration + slack)
    lines = [l for l in res.stdout.splitlines() if l.startswith("{")]
    if not lines:
        raise RuntimeError(f"ws_load printed nothing ({res.returncode}): {res.stderr[:300]}")
    return json.loads(lines[-1])


# ------------------------------------------------------------------------------------------------
# Scenarios. Each returns {metric: value} for one system and one repetition.

def http_scenarios(setup, args):
    d = args.duration
    post_lua = os.path.join(setup.run_dir, "post64k.lua")
    with open(post_lua, "w") as f:
        f.write('wrk.method = "POST"\nwrk.body = string.rep("a", 65536)\n'
                'wrk.headers["Content-Type"] = "application/octet-stream"\n')
    return [
        ("s1_small_c50", "1. keep-alive, 128 B response, 50 connections", "/bytes/128", 50, (), True),
        ("s1_small_c200", "1. keep-alive, 128 B response, 200 connections", "/bytes/128", 200, (), True),
        ("s2_16k", "2. keep-alive, 16 KiB response, 50 connections", "/bytes/16384", 50, (), False),
        ("s2_1m", "2. keep-alive, 1 MiB response, 50 connections", "/bytes/1048576", 50, (), False),
        ("s3_close", "3. Connection: close per request, 128 B, 50 connections", "/bytes/128", 50,
         ("-H", "Connection: close"), False),
        ("s4_post64k", "4. POST 64 KiB body (JSON answer), 50 connections", "/post", 50,
         ("-s", post_lua), False),
    ], d


def measure_http(setup, system, path, connections, extra, duration, with_cpu):
    pids = setup.pids(system)
    cpu0 = cpu_seconds(pids)
    r = run_wrk(f"http://127.0.0.1:{setup.ports[system]}{path}", connections, duration, extra)
    cpu1 = cpu_seconds(pids)
    if with_cpu and r["requests"] > 0:
        r["cpu_s_per_100k"] = (cpu1 - cpu0) / r["requests"] * 100000
    return r


def ws_scenarios(args):
    d = args.ws_duration
    common = ["--duration", str(d), "--warmup", str(args.ws_warmup)]
    return [
        ("s5_handshake", "5. WebSocket open + handshake + close, 50 concurrent", "handshake",
         ["--connections", "50", "--sources", SOURCES] + common),
        ("s6_echo", "6. WebSocket echo, 32 B messages, 50 tunnels, one in flight each", "echo",
         ["--connections", "50", "--size", "32"] + common),
        ("s7_bulk_1", "7. WebSocket bulk echo, 1 tunnel, 64 KiB messages, 1 MiB window", "bulk",
         ["--connections", "1", "--size", "64K", "--window", "1M"] + common),
        ("s7_bulk_100", "7. WebSocket bulk echo, 100 tunnels, 64 KiB messages, 256 KiB window", "bulk",
         ["--connections", "100", "--size", "64K", "--window", "256K"] + common),
    ], d + args.ws_warmup


def ws_metrics(mode, r):
    out = {"errors": r["errors"]}
    if mode == "handshake":
        out["rate"] = r["cycles_per_s"]
        out["p50_ms"] = r["p50_us"] / 1000
        out["p99_ms"] = r["p99_us"] / 1000
    elif mode == "echo":
        out["rate"] = r["messages_per_s"]
        out["p50_ms"] = r["p50_us"] / 1000
        out["p99_ms"] = r["p99_us"] / 1000
    else:
        out["bytes_per_s"] = r["bytes_per_s"]
    return out


def run_http_scenario(setup, args, results, key, title, path, conns, extra, duration, with_cpu):
    for rep in range(args.reps):
        for system in SYSTEMS:
            r = measure_http(setup, system, path, conns, extra, duration, with_cpu)
            results.add(key, title, system, r)
            log(f"{key} rep {rep + 1} {system}: {r['rps']:.0f} req/s "
                f"p99 {r['p99_ms']} ms errors {r['errors']}")


def run_ws_scenario(setup, args, results, key, title, mode, extra, duration):
    for rep in range(args.reps):
        for system in SYSTEMS:
            pids = setup.pids(system)
            cpu0 = cpu_seconds(pids)
            raw = run_ws(setup, mode, setup.ports[system], extra, duration)
            r = ws_metrics(mode, raw)
            r["cpu_s"] = cpu_seconds(pids) - cpu0
            # The CPU time covers the warm-up too, and so does all_cycles.
            if mode == "handshake" and raw.get("all_cycles"):
                r["cpu_us_per_cycle"] = r["cpu_s"] / raw["all_cycles"] * 1e6
            results.add(key, title, system, r)
            log(f"{key} rep {rep + 1} {system}: {r}")


def all_cores_scenario(setup, args, results):
    """Scenario 11: scenarios 1 (200 connections) and 5 again, with every proxy given one worker
    per core (hoplite "workers", nginx worker_processes, HAProxy nbthread). The backend stays
    one process, so the direct row still shows its ceiling."""
    cores = os.cpu_count() or 1
    setup.start_all(workers=cores)
    try:
        setup.warm_up()
        http, d = http_scenarios(setup, args)
        for key, title, path, conns, extra, with_cpu in http:
            if key == "s1_small_c200":
                run_http_scenario(setup, args, results, "s11_small_c200",
                                  f"11. all cores ({cores} workers each): keep-alive, 128 B "
                                  f"response, 200 connections", path, conns, extra, d, with_cpu)
        ws, d = ws_scenarios(args)
        for key, title, mode, extra in ws:
            if key == "s5_handshake":
                run_ws_scenario(setup, args, results, "s11_handshake",
                                f"11. all cores ({cores} workers each): WebSocket open + "
                                f"handshake + close, 50 concurrent", mode, extra, d)
    finally:
        setup.stop_all()


def metrics_scenario(setup, args, results):
    """Scenario 14: scenario 1 at 50 connections through two hoplites side by side: the one built
    as shipped, its admin listener on and /metrics scraped every second during the run, and one
    built with the metrics recording compiled out (HOPLITE_WITHOUT_METRICS). Their ratio is what
    collecting the metrics costs. The two take turns within each repetition, so that a drift of
    the machine during the run falls on both."""
    if not os.path.exists(args.nometrics_bin):
        log(f"scenario 14 skipped: {args.nometrics_bin} is not built (bench/run.sh builds it)")
        return
    backend, bport = setup.start_backend(port=pick_port(PORT_BASE, setup.taken))
    admin_port = pick_port(PORT_BASE + 40, setup.taken)
    upstream = [f"127.0.0.1:{bport}"]
    on, on_port = setup.start_proxy("hoplite", upstream, admin_port=admin_port)
    off, off_port = setup.start_proxy("hoplite", upstream, binary=args.nometrics_bin)
    runs = [("s14_metrics_on_c50", on, on_port, True), ("s14_metrics_off_c50", off, off_port, False)]
    title = {"s14_metrics_on_c50": "14. metrics recorded and scraped every second: keep-alive, "
                                   "128 B response, 50 connections",
             "s14_metrics_off_c50": "14. metrics compiled out: keep-alive, 128 B response, "
                                    "50 connections"}
    scrapes = []

    def scrape_every_second(stop):
        while not stop.wait(1.0):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/metrics",
                                            timeout=5) as answer:
                    scrapes.append(len(answer.read()))
            except OSError as error:
                log(f"scenario 14: scrape failed: {error}")

    try:
        for _, _, port, _ in runs:
            run_wrk(f"http://127.0.0.1:{port}/bytes/128", 50, 1)
        for rep_index in range(args.reps):
            order = runs if rep_index % 2 == 0 else list(reversed(runs))
            for key, proc, port, scraped in order:
                pids = process_tree(proc.pid)
                stop = threading.Event()
                scraper = threading.Thread(target=scrape_every_second, args=(stop,))
                if scraped:
                    scraper.start()
                cpu0 = cpu_seconds(pids)
                r = run_wrk(f"http://127.0.0.1:{port}/bytes/128", 50, args.duration)
                cpu1 = cpu_seconds(pids)
                if scraped:
                    stop.set()
                    scraper.join()
                if r["requests"] > 0:
                    r["cpu_s_per_100k"] = (cpu1 - cpu0) / r["requests"] * 100000
                results.add(key, title[key], "hoplite", r)
                log(f"{key} rep {rep_index + 1}: {r['rps']:.0f} req/s p99 {r['p99_ms']} ms "
                    f"errors {r['errors']}")
        log(f"scenario 14: {len(scrapes)} scrapes of /metrics, "
            f"{max(scrapes) if scrapes else 0} bytes each")
    finally:
        PROCS.stop(off)
        PROCS.stop(on)
        PROCS.stop(backend)
        setup.taken.clear()


BALANCES = [
    ("s15_round_robin_c50", "round_robin", ""),
    ("s15_least_connections_c50", "least_connections", ', "balance": "least_connections"'),
    ("s15_hash_c50", "hash", ', "balance": "hash", "hash_key": "header:X-Session"'),
]


def balance_scenario(setup, args, results):
    """Scenario 15: scenario 1 at 50 connections through three hoplites side by side, each in
    front of the same four demo_backend processes, balanced round_robin, least_connections and
    hash (of an X-Session header that wrk's Lua script draws at random for every request, for
    all three alike). Their ratios to round_robin are what choosing a server costs. They take
    turns within each repetition, so that a drift of the machine falls on all three."""
    backends = [setup.start_backend(port=pick_port(PORT_BASE + 20 + n, setup.taken))
                for n in range(4)]
    upstream = [f"127.0.0.1:{port}" for _, port in backends]
    lua = os.path.join(setup.run_dir, "session-header.lua")
    with open(lua, "w") as f:
        f.write('math.randomseed(42)\n'
                'request = function()\n'
                '  return wrk.format(nil, nil, {["X-Session"] = tostring(math.random(1, 1000000))})\n'
                'end\n')
    proxies = []
    try:
        for key, balance, extra in BALANCES:
            proc, port = setup.start_proxy("hoplite", upstream, upstream_extra=extra)
            proxies.append((key, balance, proc, port))
        for _, _, _, port in proxies:
            run_wrk(f"http://127.0.0.1:{port}/bytes/128", 50, 1, ("-s", lua))
        for rep_index in range(args.reps):
            order = proxies if rep_index % 2 == 0 else list(reversed(proxies))
            for key, balance, proc, port in order:
                pids = process_tree(proc.pid)
                cpu0 = cpu_seconds(pids)
                r = run_wrk(f"http://127.0.0.1:{port}/bytes/128", 50, args.duration, ("-s", lua))
                cpu1 = cpu_seconds(pids)
                if r["requests"] > 0:
                    r["cpu_s_per_100k"] = (cpu1 - cpu0) / r["requests"] * 100000
                results.add(key, f"15. balance {balance}: keep-alive, 128 B response, 50 "
                            f"connections, 4 backends", "hoplite", r)
                log(f"{key} rep {rep_index + 1}: {r['rps']:.0f} req/s p99 {r['p99_ms']} ms "
                    f"errors {r['errors']}")
    finally:
        for _, _, proc, _ in proxies:
            PROCS.stop(proc)
        for proc, _ in backends:
            PROCS.stop(proc)
        setup.taken.clear()


def established_to(port):
    """Established TCP connections whose local port is `port` (a backend's side of them)."""
    res = subprocess.run(["ss", "-Htn", "state", "established", f"( sport = :{port} )"],
                         capture_output=True, text=True, timeout=30, check=True)
    return len([line for line in res.stdout.splitlines() if line.strip()])


def tunnel_spread_scenario(setup, args, results):
    """Scenario 16: long-lived WebSocket tunnels opened in 4 bursts through each proxy, balanced
    by its own least connections (hoplite least_connections, nginx least_conn, HAProxy
    leastconn), over four demo_backend processes; then the tunnels each backend holds, and the
    ratio of the most loaded backend to the least loaded (1.0 is even). Fresh processes each
    time."""
    n = args.spread_tunnels
    bursts = 4
    for rep in range(args.reps):
        for system in [s for s in SYSTEMS if s != "direct"]:
            backends = [setup.start_backend(port=pick_port(PORT_BASE + 20 + i, setup.taken),
                                            tag="spread-backend") for i in range(4)]
            proxy = None
            clients = []
            try:
                proxy, port = setup.start_proxy(system, [f"127.0.0.1:{p}" for _, p in backends],
                                                maxconn=n + 1000, least_connections=True)
                established = failed = 0
                for burst in range(bursts):
                    procs, opened, lost = idle_clients(setup, port, n // bursts, [SOURCES],
                                                       f"spread-{system}-{burst}")
                    clients += procs
                    established += opened
                    failed += lost
                time.sleep(0.5)
                per_backend = [established_to(p) for _, p in backends]
                least = min(per_backend)
                r = {"tunnels": n, "established": established, "failed": failed,
                     "per_backend": per_backend,
                     "max_over_min": round(max(per_backend) / least, 3) if least else None}
                results.add("s16_spread", f"16. {n} tunnels in {bursts} bursts over 4 backends, "
                            f"least connections", system, r)
                log(f"s16_spread rep {rep + 1} {system}: {r}")
            finally:
                for c in clients:
                    PROCS.stop(c, timeout=30)
                PROCS.stop(proxy)
                for proc, _ in backends:
                    PROCS.stop(proc)
                setup.taken.clear()


def logging_scenario(setup, args, results):
    """Scenario 13: scenario 1 at 50 connections with every proxy's access log on, to a file
    (hoplite's JSON lines, nginx's combined format with buffer=64k, HAProxy's httplog). Compared
    with scenario 1's row of the same run, it is the cost of logging."""
    setup.start_all(logging=True)
    try:
        setup.warm_up()
        run_http_scenario(setup, args, results, "s13_logging_c50",
                          "13. access log on (to a file): keep-alive, 128 B response, "
                          "50 connections", "/bytes/128", 50, (), args.duration, True)
    finally:
        setup.stop_all()
        for name in os.listdir(setup.run_dir):
            if name.endswith("-access.log"):
                os.remove(os.path.join(setup.run_dir, name))


SWEEP_CONNECTIONS = [50, 200, 1000, 5000]


def origin_scenario(setup, args, results):
    """Scenario 12: nginx as the origin (a 3-byte static file) instead of demo_backend, with
    keep-alive at 50, 200, 1,000 and 5,000 connections, and a new connection per request at 50.
    Each point reports requests/s, p99, the proxy's CPU and page faults per request (/proc), so
    that a cost that grows with connections shows as a rising line (the sweep chart)."""
    setup.start_all(origin=True)
    try:
        for system in SYSTEMS:
            run_wrk(f"http://127.0.0.1:{setup.ports[system]}/small", 200, 1)
        points = [(f"s12_sweep_c{n}", f"12. nginx origin: keep-alive, 3 B file, {n} connections",
                   n, ()) for n in args.sweep]
        points.append(("s12_close", "12. nginx origin: Connection: close per request, 3 B file, "
                       "50 connections", 50, ("-H", "Connection: close")))
        for key, title, conns, extra in points:
            for rep in range(args.reps):
                for system in SYSTEMS:
                    pids = setup.pids(system)
                    cpu0, faults0 = cpu_seconds(pids), page_faults(pids)
                    r = run_wrk(f"http://127.0.0.1:{setup.ports[system]}/small", conns,
                                args.duration, extra)
                    cpu1, faults1 = cpu_seconds(pids), page_faults(pids)
                    if r["requests"] > 0:
                        r["cpu_us_per_request"] = (cpu1 - cpu0) / r["requests"] * 1e6
                        r["faults_per_request"] = (faults1 - faults0) / r["requests"]
                    r["connections"] = conns
                    results.add(key, title, system, r)
                    log(f"{key} rep {rep + 1} {system}: {r['rps']:.0f} req/s, "
                        f"{r.get('cpu_us_per_request', 0):.1f} us CPU, "
                        f"{r.get('faults_per_request', 0):.4f} faults per request, "
                        f"errors {r['errors']}")
    finally:
        setup.stop_all()


def memory_scenario(setup, args, results):
    """Scenario 8: RSS per idle tunnel, each measurement on fresh processes."""
    limit = max(100, (setup.nofile - 200) // 2)   # a proxy holds two sockets per tunnel
    counts = [n for n in args.idle_counts]
    for rep in range(args.mem_reps):
        for n_wanted in counts:
            n = min(n_wanted, limit)
            key = f"s8_idle_{n_wanted}"
            for system in SYSTEMS:
                r = measure_idle(setup, system, n, hold=args.idle_hold)
                r["tunnels_wanted"] = n_wanted
                results.add(key, f"8. RSS per idle WebSocket tunnel, {n_wanted} tunnels", system, r)
                log(f"{key} rep {rep + 1} {system}: {r}")


def keepalive_scenario(setup, args, results):
    """Scenario 10: RSS per idle keep-alive HTTP connection, each measurement on fresh processes.
    Each connection makes one GET (128-byte answer) and then stays open and silent, as a browser
    keeps its connections between page loads."""
    n = args.keepalive_idle
    for rep in range(args.mem_reps):
        for system in SYSTEMS:
            r = measure_keepalive_idle(setup, system, n, hold=args.idle_hold)
            results.add("s10_keepalive_idle", f"10. RSS per idle keep-alive HTTP connection, "
                        f"{n} connections", system, r)
            log(f"s10_keepalive_idle rep {rep + 1} {system}: {r}")


def keepalive_clients(port, n, request=b"GET /bytes/128 HTTP/1.1\r\nHost: bench\r\n\r\n"):
    """n connections that each sent one request and read its whole answer; the open ones."""
    socks = []
    for _ in range(n):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        try:
            sock.sendall(request)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = sock.recv(65536)
                if not chunk:
                    raise ConnectionError("closed before the head")
                data += chunk
            head, body = data.split(b"\r\n\r\n", 1)
            length = int(re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head).group(1))
            while len(body) < length:
                chunk = sock.recv(65536)
                if not chunk:
                    raise ConnectionError("closed inside the body")
                body += chunk
        except (OSError, AttributeError, ConnectionError):
            sock.close()
            continue
        socks.append(sock)
    return socks


def measure_keepalive_idle(setup, system, n, hold):
    backend, bport = setup.start_backend(tag="ka-backend")
    proxy = None
    try:
        if system == "direct":
            port, measured = bport, backend
        else:
            proxy, port = setup.start_proxy(system, [f"127.0.0.1:{bport}"], maxconn=n + 1000)
            measured = proxy
        # Warm up with a few connections, so that lazy initialisation is not counted.
        for sock in keepalive_clients(port, 10):
            sock.close()
        time.sleep(0.3)
        before = rss_kib(process_tree(measured.pid))
        socks = keepalive_clients(port, n)
        time.sleep(hold)
        after = rss_kib(process_tree(measured.pid))
        established = len(socks)
        for sock in socks:
            sock.close()
        return {"connections": n, "open_connections": established, "rss_before_kib": before,
                "rss_after_kib": after,
                "kib_per_connection": (after - before) / established if established else None}
    finally:
        PROCS.stop(proxy)
        PROCS.stop(backend)
        setup.taken.clear()


def idle_clients(setup, port, n, sources, log_tag, host="127.0.0.1"):
    """Starts enough ws_load idle processes for n tunnels (each within the fd limit)."""
    per_proc = max(100, setup.nofile - 200)
    procs, left, i = [], n, 0
    while left > 0 and i < 64:
        count = min(left, per_proc)
        src = sources[i % len(sources)]
        argv = [setup.bin["ws_load"], "idle", "--target", f"{host}:{port}", "--connections",
                str(count), "--sources", src, "--hold", "600", "--open-timeout", "120"]
        procs.append(PROCS.start(argv, os.path.join(setup.run_dir, f"{log_tag}-{i}.log"),
                                 stdout=subprocess.PIPE))
        left -= count
        i += 1
    established = 0
    failed = 0
    for proc in procs:
        line = read_line(proc.stdout, timeout=180)
        if line:
            ready = json.loads(line)
            established += ready["open"]
            failed += ready["failed"]
    return procs, established, failed


def read_line(stream, timeout):
    import select
    deadline = time.monotonic() + timeout
    buf = b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([stream], [], [], 0.5)
        if ready:
            chunk = os.read(stream.fileno(), 4096)
            if not chunk:
                return None
            buf += chunk
            if b"\n" in buf:
                return buf.split(b"\n", 1)[0].decode()
    return None


def measure_idle(setup, system, n, hold, sources=(SOURCES,), backends=1, workers=1):
    backend_procs, backend_addrs = [], []
    for b in range(backends):
        host = "127.0.0.1" if backends == 1 else f"127.0.0.{20 + b}"
        proc, port = setup.start_backend(host=host, tag="mem-backend")
        backend_procs.append(proc)
        backend_addrs.append(f"{host}:{port}")
    proxy = None
    try:
        if system == "direct":
            target_port = int(backend_addrs[0].rsplit(":", 1)[1])
            measured = backend_procs[0]
        else:
            proxy, target_port = setup.start_proxy(system, backend_addrs, maxconn=n + 1000,
                                                   workers=workers)
            measured = proxy
        # Warm up: a few tunnels and requests so that lazy initialisation is not counted.
        run_ws(setup, "echo", target_port, ["--connections", "4", "--duration", "0.3"], 1)
        time.sleep(0.3)
        pids = process_tree(measured.pid)
        before = rss_kib(pids)
        t0 = time.monotonic()
        clients, established, failed = idle_clients(setup, target_port, n, list(sources),
                                                    f"idle-{system}")
        open_s = time.monotonic() - t0
        time.sleep(hold)
        after = rss_kib(process_tree(measured.pid))
        alive = measured.poll() is None
        for c in clients:
            PROCS.stop(c, timeout=30)
        r = {"tunnels": n, "established": established, "failed": failed,
             "rss_before_kib": before, "rss_after_kib": after, "open_seconds": round(open_s, 2),
             "alive": alive, "processes": len(pids)}
        r["kib_per_tunnel"] = (after - before) / established if established else None
        return r
    finally:
        PROCS.stop(proxy)
        for p in backend_procs:
            PROCS.stop(p)
        setup.taken.clear()


def hoplite_50k(setup, args, results):
    n = args.big_idle
    # A tunnel holds two sockets. When one process may not open 2n of them, hoplite runs enough
    # workers (each with its own open-file limit) that the kernel's uneven spread of connections
    # over them stays well inside each one's limit; RSS is then the sum over all its processes.
    per_worker = max(100, (setup.nofile - 200) // 2)
    workers = 1 if 2 * n + 200 <= setup.nofile else -(-n * 10 // (per_worker * 7))
    # Several backends on their own addresses and several source addresses for the clients,
    # so no (source, destination) pair needs more than its ~28k ephemeral ports.
    backends = max(2, -(-n // max(1, setup.nofile - 500)), -(-n // 20000))
    sources = [f"127.0.0.{30 + 8 * i}-127.0.0.{37 + 8 * i}" for i in range(8)]
    r = measure_idle(setup, "hoplite", n, hold=args.idle_hold, sources=sources, backends=backends,
                     workers=workers)
    r["workers"] = workers
    results.add("s8_idle_50k_hoplite", f"8. hoplite holding {n} idle tunnels", "hoplite", r)
    log(f"50k: {r}")


# ------------------------------------------------------------------------------------------------

class Results:
    def __init__(self, meta):
        self.meta = meta
        self.scenarios = {}
        self.order = []

    def add(self, key, title, system, values):
        if key not in self.scenarios:
            self.scenarios[key] = {"id": key, "title": title,
                                   "runs": {s: [] for s in SYSTEMS}}
            self.order.append(key)
        self.scenarios[key]["runs"].setdefault(system, []).append(values)

    def to_json(self):
        return {"meta": self.meta, "scenarios": [self.scenarios[k] for k in self.order]}


def versions(setup):
    def first_line(argv):
        try:
            r = subprocess.run(argv, capture_output=True, text=True, timeout=10)
            return (r.stdout + r.stderr).strip().splitlines()[0]
        except Exception as error:
            return f"unknown ({error})"

    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kib = int(f.readline().split()[1])
    return {
        "cpu": cpu, "cores": os.cpu_count(), "kernel": platform.release(),
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "nofile": setup.nofile,
        "hoplite": first_line([setup.bin["hoplite"], "--version"]),
        "nginx": first_line(["nginx", "-v"]),
        "haproxy": first_line(["haproxy", "-v"]),
        "wrk": first_line(["wrk", "-v"]).split(" Copyright")[0],
        "libuv": first_line(["pkg-config", "--modversion", "libuv"]),
        "compiler": first_line(["c++", "--version"]),
        "gnuplot": first_line(["gnuplot", "--version"]),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--mode", choices=["quick", "full"], default="full")
    ap.add_argument("--build-dir", default=os.path.join(REPO, "build-bench"))
    ap.add_argument("--nometrics-bin",
                    default=os.path.join(REPO, "build-bench-nometrics", "hoplite"),
                    help="hoplite built with HOPLITE_WITHOUT_METRICS, for scenario 14")
    ap.add_argument("--out", help="raw results JSON path")
    ap.add_argument("--scenarios",
                    default="http,ws,allcores,origin,logging,metrics,balance,memory,keepalive,50k",
                    help="comma list of groups: http, ws, allcores, origin, logging, metrics, "
                         "balance, memory, keepalive, 50k")
    ap.add_argument("--sweep", default=",".join(str(n) for n in SWEEP_CONNECTIONS),
                    help="connection counts of scenario 12's keep-alive sweep")
    ap.add_argument("--systems", default=",".join(SYSTEMS),
                    help="comma list, a subset of direct,hoplite,nginx,haproxy (for development)")
    ap.add_argument("--reps", type=int)
    ap.add_argument("--keepalive-idle", type=int, default=0,
                    help="idle keep-alive connections of scenario 10 (default 2000; 500 quick)")
    ap.add_argument("--big-idle", type=int,
                    help="tunnels for hoplite's large idle run (scenario 8; default 50000, "
                         "20000 quick)")
    ap.add_argument("--note", default="", help="free text recorded with the results")
    args = ap.parse_args()
    chosen = args.systems.split(",")
    SYSTEMS[:] = [s for s in list(SYSTEMS) if s in chosen]
    quick = args.mode == "quick"
    args.reps = args.reps or (1 if quick else 3)
    args.duration = 1 if quick else 4
    args.ws_duration = 1 if quick else 3
    args.ws_warmup = 0.2 if quick else 0.5
    args.idle_counts = [1000] if quick else [1000, 10000]
    args.spread_tunnels = 200 if quick else 1000
    args.keepalive_idle = args.keepalive_idle or (500 if quick else 2000)
    # The whole 50,000 takes half a minute to open, a quarter of the quick run's budget; 20,000
    # still needs hoplite's workers where the open-file limit is 20,000.
    args.big_idle = args.big_idle or (20000 if quick else 50000)
    args.mem_reps = 1 if quick else 3
    # Long enough for memory freed after the handshakes to settle (hoplite trims its heap once
    # no connection has ended for a second); the same pause for every system.
    args.idle_hold = 2.0 if quick else 3.0
    groups = set(args.scenarios.split(","))
    args.sweep = [int(n) for n in args.sweep.split(",") if n]

    run_dir = os.path.join(args.build_dir, "bench-run")
    os.makedirs(run_dir, exist_ok=True)
    setup = Setup(args, run_dir)
    for name, path in setup.bin.items():
        if not os.access(path, os.X_OK):
            sys.exit(f"bench: {path} is missing; run bench/run.sh, which builds it")

    def on_signal(signum, _frame):
        PROCS.stop_all()
        sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    commit = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip() or "unknown"
    dirty = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip() != ""
    busy0, total0 = machine_busy_jiffies()
    started = time.time()
    meta = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"),
        "started_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "commit": commit, "dirty": dirty, "mode": args.mode, "reps": args.reps,
        "http_seconds": args.duration, "ws_seconds": args.ws_duration,
        "ws_warmup_seconds": args.ws_warmup, "loadavg_start": open("/proc/loadavg").read().split()[:3],
        "note": args.note, "machine": versions(setup),
    }
    results = Results(meta)
    try:
        if groups & {"http", "ws"}:
            setup.start_all()
            setup.warm_up()
        if "http" in groups:
            scenarios, d = http_scenarios(setup, args)
            for key, title, path, conns, extra, with_cpu in scenarios:
                run_http_scenario(setup, args, results, key, title, path, conns, extra, d,
                                  with_cpu)
        if "ws" in groups:
            scenarios, d = ws_scenarios(args)
            for key, title, mode, extra in scenarios:
                run_ws_scenario(setup, args, results, key, title, mode, extra, d)
        setup.stop_all()
        if "allcores" in groups:
            all_cores_scenario(setup, args, results)
        if "origin" in groups:
            origin_scenario(setup, args, results)
        if "logging" in groups:
            logging_scenario(setup, args, results)
        if "metrics" in groups:
            metrics_scenario(setup, args, results)
        if "balance" in groups:
            balance_scenario(setup, args, results)
            tunnel_spread_scenario(setup, args, results)
        if "memory" in groups:
            memory_scenario(setup, args, results)
        if "keepalive" in groups:
            keepalive_scenario(setup, args, results)
        if "50k" in groups:
            hoplite_50k(setup, args, results)
    finally:
        PROCS.stop_all()
    busy1, total1 = machine_busy_jiffies()
    ours = resource.getrusage(resource.RUSAGE_CHILDREN)
    own = resource.getrusage(resource.RUSAGE_SELF)
    elapsed = time.time() - started
    busy_s = (busy1 - busy0) / CLK_TCK
    our_s = ours.ru_utime + ours.ru_stime + own.ru_utime + own.ru_stime
    cores = os.cpu_count() or 1
    meta["elapsed_seconds"] = round(elapsed, 1)
    meta["loadavg_end"] = open("/proc/loadavg").read().split()[:3]
    # CPU time the rest of the machine used while we ran, as a share of all cores.
    meta["foreign_cpu_share"] = round(max(0.0, busy_s - our_s) / (elapsed * cores), 3)
    out = args.out or os.path.join(run_dir, "raw.json")
    with open(out, "w") as f:
        json.dump(results.to_json(), f, indent=1)
    log(f"raw results: {out} ({elapsed:.0f} s, other processes used "
        f"{meta['foreign_cpu_share'] * 100:.0f}% of the machine meanwhile)")
    print(out)


if __name__ == "__main__":
    try:
        main()
    finally:
        PROCS.stop_all()
