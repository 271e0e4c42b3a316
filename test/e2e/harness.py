"""Shared harness for hoplite's end-to-end tests.

Everything runs over loopback with real processes: the `hoplite` binary (HOPLITE_BIN) started on a
generated JSON config with `listen: ["127.0.0.1:0"]`, the demo backend (DEMO_BACKEND_BIN), scripted
fake backends in this file, and raw-socket, curl and python3-websockets clients.

Rules every test follows (see /work/shared/style.md, "What a good test file looks like"):
- ports are always 0 and read back (hoplite and the demo backend print them on stderr);
- every wait is bounded: sockets time out after IO_TIMEOUT, readiness is polled with a deadline,
  and nothing sleeps to synchronise;
- every process a test starts is stopped by its PID in a cleanup, which runs even when the test
  fails; hoplite is stopped with SIGTERM and must exit 0, printing its counters;
- fake backends assert what they receive in their own thread; their failures fail the test.
"""

import base64
import contextlib
import dataclasses
import hashlib
import json
import os
import re
import resource
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import traceback
import unittest

HOPLITE_BIN = os.environ.get("HOPLITE_BIN", "")
DEMO_BACKEND_BIN = os.environ.get("DEMO_BACKEND_BIN", "")

IO_TIMEOUT = 5.0  # every socket operation
STARTUP_TIMEOUT = 5.0  # a process's "listening"/"ready" lines
STOP_TIMEOUT = 15.0  # SIGTERM to exit
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

COUNTER_KEYS = (
    "accepted requests upstream_connects upstream_reused upstream_retries tunnels_opened "
    "tunnels_closed rejected_4xx errors_5xx timeout_client_header timeout_client_idle "
    "timeout_client_body timeout_upstream_connect timeout_upstream_response timeout_tunnel_idle "
    "timeout_shutdown_drain upstream_connect_failures log_lines_dropped"
).split()


def _raise_fd_limit():
    # A thousand tunnels need ~2000 descriptors here and ~2000 in hoplite, which inherits the limit.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 8192 if hard == resource.RLIM_INFINITY else min(hard, 8192)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


_raise_fd_limit()


def deadline_loop(timeout, what):
    """Yields until `timeout` seconds have passed, then fails naming `what`. Use as
    `for _ in deadline_loop(5, "x"): if cond: break`; each turn waits on something bounded."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        yield
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def wait_until(predicate, timeout=IO_TIMEOUT, what="a condition", interval=0.01):
    """Polls `predicate` until it is true, failing after `timeout`. Polling (not sleeping for a
    guessed duration) keeps tests fast on a quiet machine and correct on a loaded one."""
    end = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= end:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def ws_key():
    return base64.b64encode(os.urandom(16)).decode()


def ws_accept(key):
    """RFC 6455 §4.2.2: base64(SHA-1(key + GUID))."""
    return base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def pattern_bytes(n):
    """What the demo backend's /bytes/N sends: byte i is i % 256."""
    block = bytes(range(256))
    return (block * (n // 256 + 1))[:n]


def transform(data):
    """What scripted backends do to payload, so that a proxy echoing bytes back cannot pass:
    swap ASCII case and reverse (an involution that changes every non-palindromic letter run)."""
    return bytes(reversed(data.swapcase()))


def tokens(value):
    return [t.strip().lower() for t in (value or "").split(",") if t.strip()]


# ------------------------------------------------------------------------------------------------
# HTTP messages on raw sockets


@dataclasses.dataclass
class Message:
    start_line: str
    headers: list  # [(name, value)] in arrival order, original case
    body: bytes = b""
    trailers: list = dataclasses.field(default_factory=list)
    raw_head: bytes = b""

    def values(self, name):
        return [v for n, v in self.headers if n.lower() == name.lower()]

    def header(self, name):
        """The only value of `name`, or None; fails when the field is repeated."""
        found = self.values(name)
        assert len(found) <= 1, f"{name} repeated: {found}"
        return found[0] if found else None

    def names(self):
        return [n.lower() for n, _ in self.headers]


@dataclasses.dataclass
class Request(Message):
    @property
    def method(self):
        return self.start_line.split(" ")[0]

    @property
    def target(self):
        return self.start_line.split(" ")[1]

    @property
    def version(self):
        return self.start_line.split(" ")[2]


@dataclasses.dataclass
class Response(Message):
    @property
    def status(self):
        return int(self.start_line.split(" ")[1])

    @property
    def version(self):
        return self.start_line.split(" ")[0]

    def json(self):
        return json.loads(self.body)


class Peer:
    """A blocking socket with a read buffer and IO_TIMEOUT on every operation. Used for raw
    clients and for the server side of fake backends."""

    def __init__(self, sock, timeout=IO_TIMEOUT):
        self.sock = sock
        self.sock.settimeout(timeout)
        self.buf = bytearray()
        self.eof = False

    def send(self, data):
        self.sock.sendall(data)

    def shutdown_write(self):
        self.sock.shutdown(socket.SHUT_WR)

    def close(self):
        with contextlib.suppress(OSError):
            self.sock.close()

    def reset(self):
        """Closes with RST instead of FIN (SO_LINGER 0), as a crashed or killed peer would."""
        with contextlib.suppress(OSError):
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.sock.close()

    def _fill(self):
        if self.eof:
            raise EOFError("peer closed the connection")
        chunk = self.sock.recv(256 * 1024)
        if not chunk:
            self.eof = True
            raise EOFError("peer closed the connection")
        self.buf += chunk

    def read_until(self, delimiter, limit=1 << 20):
        while True:
            index = self.buf.find(delimiter)
            if index >= 0:
                end = index + len(delimiter)
                out = bytes(self.buf[:end])
                del self.buf[:end]
                return out
            if len(self.buf) > limit:
                raise AssertionError(f"no {delimiter!r} within {limit} bytes")
            self._fill()

    def read_exact(self, n):
        while len(self.buf) < n:
            self._fill()
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def read_some(self):
        """At least one byte (whatever is buffered or arrives next)."""
        if not self.buf:
            self._fill()
        out = bytes(self.buf)
        self.buf.clear()
        return out

    def read_to_eof(self, limit=1 << 30):
        while not self.eof:
            try:
                self._fill()
            except EOFError:
                break
            if len(self.buf) > limit:
                raise AssertionError(f"more than {limit} bytes before EOF")
        out = bytes(self.buf)
        self.buf.clear()
        return out

    def closed_by_peer(self, timeout=IO_TIMEOUT):
        """Waits up to `timeout` for the peer to close; returns the bytes that arrived before the
        close (a reset counts as a close). Fails if the connection stays open."""
        old = self.sock.gettimeout()
        self.sock.settimeout(timeout)
        try:
            return self.read_to_eof()
        except ConnectionResetError:
            out = bytes(self.buf)
            self.buf.clear()
            self.eof = True
            return out
        except socket.timeout:
            raise AssertionError(f"connection still open after {timeout}s") from None
        finally:
            self.sock.settimeout(old)

    def drain(self, quiet):
        """Whatever arrives until EOF, a reset, or `quiet` seconds without a byte. Only for
        checking what must NOT arrive; never to wait for something that should."""
        old = self.sock.gettimeout()
        self.sock.settimeout(quiet)
        try:
            while not self.eof:
                chunk = self.sock.recv(65536)
                if not chunk:
                    self.eof = True
                self.buf += chunk
        except (socket.timeout, ConnectionResetError):
            pass
        finally:
            self.sock.settimeout(old)
        out = bytes(self.buf)
        self.buf.clear()
        return out

    def nothing_arrives(self, timeout):
        """True when no byte and no EOF arrives within `timeout` (used only to check that something
        does NOT happen, never to wait for something that should)."""
        if self.buf:
            return False
        old = self.sock.gettimeout()
        self.sock.settimeout(timeout)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            return True
        finally:
            self.sock.settimeout(old)
        if chunk:
            self.buf += chunk
        else:
            self.eof = True
        return False

    # -- HTTP/1.1 framing --------------------------------------------------------------------------

    def _read_head(self, limit=1 << 20):
        raw = self.read_until(b"\r\n\r\n", limit)
        lines = raw[:-4].decode("latin-1").split("\r\n")
        headers = []
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            assert sep, f"malformed header line {line!r}"
            headers.append((name, value.strip(" \t")))
        return lines[0], headers, raw

    def _read_chunked(self):
        body = bytearray()
        while True:
            size_line = self.read_until(b"\r\n").decode("latin-1")
            size = int(size_line.split(";")[0].strip(), 16)
            if size == 0:
                break
            body += self.read_exact(size)
            assert self.read_exact(2) == b"\r\n", "chunk not followed by CRLF"
        trailers = []
        while True:
            line = self.read_until(b"\r\n").decode("latin-1")
            if line == "\r\n":
                break
            name, _, value = line[:-2].partition(":")
            trailers.append((name, value.strip()))
        return bytes(body), trailers

    def read_request(self):
        start, headers, raw = self._read_head()
        request = Request(start, headers, raw_head=raw)
        te = request.values("Transfer-Encoding")
        if te:
            assert tokens(",".join(te))[-1] == "chunked", f"bad Transfer-Encoding {te}"
            request.body, request.trailers = self._read_chunked()
        elif request.values("Content-Length"):
            request.body = self.read_exact(int(request.header("Content-Length")))
        return request

    def read_response(self, method="GET", interim=False):
        """Reads one response. 1xx responses are skipped unless `interim` (then the 1xx itself is
        returned, and the caller reads the final one next)."""
        while True:
            start, headers, raw = self._read_head()
            response = Response(start, headers, raw_head=raw)
            if 100 <= response.status < 200:
                if interim or response.status == 101:
                    return response
                continue
            break
        if method == "HEAD" or response.status in (204, 304):
            return response
        te = response.values("Transfer-Encoding")
        if te:
            assert tokens(",".join(te))[-1] == "chunked", f"bad Transfer-Encoding {te}"
            response.body, response.trailers = self._read_chunked()
        elif response.values("Content-Length"):
            response.body = self.read_exact(int(response.header("Content-Length")))
        else:
            response.body = self.read_to_eof()
        return response


def build_request(method, target, headers=(), body=b"", version="HTTP/1.1"):
    """Request bytes: exactly the given fields in order (add Host yourself), then `body` as is."""
    head = f"{method} {target} {version}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers)
    return head.encode("latin-1") + b"\r\n" + body


def build_response(status, reason="OK", headers=(), body=b"", version="HTTP/1.1"):
    head = f"{version} {status} {reason}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers)
    return head.encode("latin-1") + b"\r\n" + body


def connect(port, source="127.0.0.1", timeout=IO_TIMEOUT):
    """A connected Peer; `source` picks the loopback address the client speaks from."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    sock.bind((source, 0))
    sock.connect(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return Peer(sock, timeout)


# ------------------------------------------------------------------------------------------------
# Processes


class _LineReader:
    """Reads a process's stderr on a thread, keeps every line, and lets the test wait for one."""

    def __init__(self, stream):
        self.lines = []
        self._cond = threading.Condition()
        self._done = False
        self._thread = threading.Thread(target=self._run, args=(stream,), daemon=True)
        self._thread.start()

    def _run(self, stream):
        for raw in iter(stream.readline, b""):
            with self._cond:
                self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._done = True
            self._cond.notify_all()

    def wait_for(self, regex, timeout):
        pattern = re.compile(regex)
        end = time.monotonic() + timeout
        with self._cond:
            seen = 0
            while True:
                for line in self.lines[seen:]:
                    match = pattern.search(line)
                    if match:
                        return match
                seen = len(self.lines)
                left = end - time.monotonic()
                if self._done or left <= 0:
                    return None
                self._cond.wait(left)

    def join(self, timeout):
        self._thread.join(timeout)

    def text(self):
        with self._cond:
            return "\n".join(self.lines)


class Process:
    """A child process whose stderr is collected; always stopped by its PID."""

    def __init__(self, name, argv, cwd=None, env=None):
        self.name = name
        self.argv = argv
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            cwd=cwd, env=None if env is None else {**os.environ, **env})
        self.pid = self.proc.pid
        self.stderr = _LineReader(self.proc.stderr)
        self.returncode = None

    def wait_for_line(self, regex, timeout=STARTUP_TIMEOUT):
        match = self.stderr.wait_for(regex, timeout)
        if match is None:
            self.kill()
            raise AssertionError(
                f"{self.name} did not print /{regex}/ within {timeout}s; "
                f"exit={self.proc.poll()}; stderr:\n{self.stderr.text()}")
        return match

    def running(self):
        return self.proc.poll() is None

    def send_signal(self, signum):
        if self.running():
            os.kill(self.pid, signum)

    def wait(self, timeout):
        try:
            self.returncode = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        self.stderr.join(5)
        self.proc.stderr.close()
        return self.returncode

    def stop(self, signum=signal.SIGTERM, timeout=STOP_TIMEOUT):
        """SIGTERM by PID; SIGKILL if it has not exited within `timeout`. Returns the exit code
        (negative for a signal), or raises if even SIGKILL did not end it."""
        if self.returncode is not None:
            return self.returncode
        self.send_signal(signum)
        if self.wait(timeout) is None:
            self.kill()
            raise AssertionError(f"{self.name} ignored signal {signum} for {timeout}s; stderr:\n"
                                 f"{self.stderr.text()}")
        return self.returncode

    def kill(self):
        if self.running():
            os.kill(self.pid, signal.SIGKILL)
        self.wait(5)

    def rss_kib(self):
        with open(f"/proc/{self.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise AssertionError("no VmRSS")


class Hoplite(Process):
    def __init__(self, config, workdir, debug=False):
        path = os.path.join(workdir, "hoplite.json")
        with open(path, "w") as f:
            json.dump(config, f, indent=2)
        self.config = config
        self.config_path = path
        assert HOPLITE_BIN, "HOPLITE_BIN is not set (run the tests through ctest)"
        super().__init__("hoplite", [HOPLITE_BIN, "-c", path], cwd=workdir,
                         env={"HOPLITE_DEBUG": "1"} if debug else None)
        match = self.wait_for_line(r"^hoplite: listening on 127\.0\.0\.1:(\d+)$")
        self.port = int(match.group(1))
        self.wait_for_line(r"^hoplite: ready$")
        # Printed before "ready" when the config has an "admin" section; None without one.
        admin = self.stderr.wait_for(r"^hoplite: admin listening on 127\.0\.0\.1:(\d+)$", 0)
        self.admin_port = int(admin.group(1)) if admin else None
        self.counters = None

    def url(self, path="/"):
        return f"http://127.0.0.1:{self.port}{path}"

    def admin_url(self, path="/"):
        assert self.admin_port is not None, "no admin listener (make_config(admin=...))"
        return f"http://127.0.0.1:{self.admin_port}{path}"

    def stop(self, signum=signal.SIGTERM, timeout=STOP_TIMEOUT):
        code = super().stop(signum, timeout)
        self.counters = parse_counters(self.stderr.text())
        return code


def _counter_items(text):
    counters = {}
    for item in text.split():
        key, _, value = item.partition("=")
        counters[key] = int(value)
    return counters


def parse_worker_counters(text):
    """{worker number: counters} from the `hoplite: worker N: counters: ...` lines."""
    found = {}
    for line in text.splitlines():
        match = re.match(r"^hoplite: worker (\d+): counters:(.*)$", line)
        if match:
            found[int(match.group(1))] = _counter_items(match.group(2))
    return found


def parse_counters(text):
    """The last `hoplite: counters: key=value ...` line as a dict of ints (with workers, the
    supervisor's sum); if there is none (a killed supervisor), the sum of the workers' own
    lines; None when there is no line at all."""
    lines = [line for line in text.splitlines() if line.startswith("hoplite: counters:")]
    if lines:
        return _counter_items(lines[-1][len("hoplite: counters:"):])
    workers = parse_worker_counters(text)
    if not workers:
        return None
    total = {}
    for counters in workers.values():
        for key, value in counters.items():
            total[key] = total.get(key, 0) + value
    return total


class DemoBackend(Process):
    def __init__(self):
        assert DEMO_BACKEND_BIN, "DEMO_BACKEND_BIN is not set (run the tests through ctest)"
        super().__init__("demo_backend", [DEMO_BACKEND_BIN, "--listen", "127.0.0.1:0"])
        match = self.wait_for_line(r"^demo_backend: listening on 127\.0\.0\.1:(\d+)$")
        self.port = int(match.group(1))
        self.address = f"127.0.0.1:{self.port}"


class FakeBackend:
    """A scripted backend: `handler(peer, index)` runs on its own thread for each accepted
    connection (index counts from 1). Handlers assert what they receive and send exact bytes;
    an exception in a handler is recorded and fails the test in check()."""

    def __init__(self, handler, backlog=128, sockopts=(), port=0):
        self.handler = handler
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Set before listen() so that accepted sockets inherit them (buffer sizes need that).
        for level, option, value in sockopts:
            self.listener.setsockopt(level, option, value)
        self.listener.bind(("127.0.0.1", port))  # a fixed port: a backend started again
        self.listener.listen(backlog)
        self.port = self.listener.getsockname()[1]
        self.address = f"127.0.0.1:{self.port}"
        self.accepted = 0
        self.finished = 0
        self.errors = []
        self.requests = []  # handlers may append what they saw, for the test thread to inspect
        self._lock = threading.Lock()
        self._peers = []
        self._threads = []
        self._closing = False
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True)
        self._acceptor.start()

    def _accept_loop(self):
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            with self._lock:
                if self._closing:
                    sock.close()
                    return
                self.accepted += 1
                index = self.accepted
                peer = Peer(sock)
                self._peers.append(peer)
                thread = threading.Thread(target=self._serve, args=(peer, index), daemon=True)
                self._threads.append(thread)
            thread.start()

    def _serve(self, peer, index):
        try:
            self.handler(peer, index)
        except BaseException:  # noqa: B036 - recorded and re-raised on the test thread
            if not self._closing:
                self.errors.append(f"connection {index}:\n{traceback.format_exc()}")
        finally:
            peer.close()
            with self._lock:
                self.finished += 1

    def record(self, item):
        with self._lock:
            self.requests.append(item)

    def stop(self):
        with self._lock:
            self._closing = True
            peers = list(self._peers)
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        for peer in peers:
            with contextlib.suppress(OSError):
                peer.sock.shutdown(socket.SHUT_RDWR)
        self._acceptor.join(5)
        for thread in list(self._threads):
            thread.join(5)

    def check(self):
        if self.errors:
            raise AssertionError("fake backend failed:\n" + "\n".join(self.errors))


def blackhole():
    """A loopback address whose connects hang: a listener with backlog 0 that never accepts,
    its one queue slot filled. Returns (address, [sockets to close])."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    # Fill the accept queue; once full, the kernel drops further SYNs and connect() hangs.
    for _ in range(8):
        filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        filler.settimeout(0.3)
        try:
            filler.connect(("127.0.0.1", port))
            fillers.append(filler)
        except (socket.timeout, OSError):
            filler.close()
            break
    else:
        raise AssertionError("could not fill the listen queue of the blackhole")
    return f"127.0.0.1:{port}", [listener] + fillers


def listener_refuses(port):
    """True once nothing listens on 127.0.0.1:`port`. A probe whose SYN reached a listener just
    as it closed is reset rather than refused (the kernel resets what waits in a closing
    listener's accept queue): not refused yet, so a caller polls again."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.settimeout(1)
    try:
        probe.connect(("127.0.0.1", port))
    except ConnectionRefusedError:
        return True
    except ConnectionResetError:
        return False
    finally:
        probe.close()
    return False


def refused_address():
    """A loopback address that refuses connections: a bound socket that does not listen (kept open
    so that nobody else takes the port)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    return f"127.0.0.1:{sock.getsockname()[1]}", sock


# ------------------------------------------------------------------------------------------------
# Configs and the test base class


def make_config(servers, *, keepalive=None, timeouts=None, limits=None, forwarded=None,
                upgrade=None, routes=None, upstreams=None, workers=None, request_id=None,
                log=None, admin=None):
    """A hoplite config listening on 127.0.0.1:0 with one upstream "app" on `servers`. Tests keep
    shutdown_drain short so that a failing test cannot hang its cleanup."""
    app = {"servers": list(servers)}
    if keepalive is not None:
        app["keepalive"] = keepalive
    config = {
        "listen": ["127.0.0.1:0"],
        "upstreams": upstreams or {"app": app},
        "routes": routes or [{"host": "*", "path_prefix": "/", "upstream": "app"}],
        "timeouts": {"shutdown_drain": "3s"},
    }
    config["timeouts"].update(timeouts or {})
    for key, value in (("limits", limits), ("forwarded", forwarded), ("upgrade", upgrade),
                       ("workers", workers), ("request_id", request_id), ("log", log),
                       ("admin", admin)):
        if value is not None:
            config[key] = value
    return config


class E2ETestCase(unittest.TestCase):
    """Starts processes with cleanups registered before anything can fail, so a failing test never
    leaves a process behind. Cleanups run in reverse order: clients, hoplite, then backends."""

    maxDiff = None

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="hoplite-e2e-")
        self.addCleanup(self._remove_tmp)
        self._clients = []

    def _remove_tmp(self):
        for name in os.listdir(self.tmp):
            os.unlink(os.path.join(self.tmp, name))
        os.rmdir(self.tmp)

    def demo_backend(self):
        backend = DemoBackend()
        self.addCleanup(self._stop_demo, backend)
        return backend

    def _stop_demo(self, backend):
        code = backend.stop()
        self.assertEqual(code, 0, f"demo_backend exited {code}; stderr:\n{backend.stderr.text()}")

    def fake_backend(self, handler, backlog=128, sockopts=(), port=0):
        backend = FakeBackend(handler, backlog, sockopts, port)
        self.addCleanup(self._stop_fake, backend)
        return backend

    def _stop_fake(self, backend):
        backend.stop()
        backend.check()

    def hoplite(self, servers, debug=False, **options):
        """Starts hoplite in front of `servers` (addresses, or backends with an .address);
        `debug` sets HOPLITE_DEBUG=1 (close reasons and heap trims on stderr)."""
        addresses = [s if isinstance(s, str) else s.address for s in servers]
        proxy = Hoplite(make_config(addresses, **options), self.tmp, debug=debug)
        self.addCleanup(self._ensure_stopped, proxy)
        return proxy

    def _ensure_stopped(self, proxy):
        if proxy.returncode is None:
            self.stop_hoplite(proxy)

    def stop_hoplite(self, proxy, timeout=STOP_TIMEOUT, close_clients=True):
        """SIGTERM, require exit 0 and a counters line; returns the counters. First closes every
        client this test opened (unless told not to), as finished clients would: a connection
        hoplite ended but the client never closed is left to hoplite's lingering close."""
        if close_clients:
            for peer in self._clients:
                peer.close()
        code = proxy.stop(timeout=timeout)
        self.assertEqual(code, 0, f"hoplite exited {code}; stderr:\n{proxy.stderr.text()}")
        self.assertIsNotNone(proxy.counters, f"no counters line; stderr:\n{proxy.stderr.text()}")
        missing = [k for k in COUNTER_KEYS if k not in proxy.counters]
        self.assertEqual(missing, [], "counters missing from the last line")
        return proxy.counters

    def connect(self, port, source="127.0.0.1", timeout=IO_TIMEOUT):
        peer = connect(port, source, timeout)
        self._clients.append(peer)
        self.addCleanup(peer.close)
        return peer

    def keep(self, resource_to_close):
        """Closes a socket (or list of them) at cleanup."""
        items = resource_to_close if isinstance(resource_to_close, list) else [resource_to_close]
        for item in items:
            self.addCleanup(item.close)
        return resource_to_close

    def assertCounters(self, counters, **expected):
        actual = {key: counters.get(key) for key in expected}
        self.assertEqual(actual, expected, f"all counters: {counters}")

    def assertElapsedBetween(self, elapsed, low, high, what):
        self.assertGreaterEqual(elapsed, low, f"{what} came too early ({elapsed:.3f}s)")
        self.assertLess(elapsed, high, f"{what} came too late ({elapsed:.3f}s)")
