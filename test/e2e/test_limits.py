"""max_connections: beyond the cap hoplite stops accepting (connections wait in the kernel's
backlog, unanswered) and resumes as soon as a client connection closes. listen_backlog: the size
of that backlog, as the kernel reports it for each listening socket. Memory: the heap that a
burst of connections freed is given back once no connection has ended for a second."""

import subprocess
import time
import unittest

import harness
from harness import build_request


def get(peer, path):
    peer.send(build_request("GET", path, [("Host", "app.test")]))
    return peer.read_response()


class ConnectionCap(harness.E2ETestCase):
    def test_connections_beyond_the_cap_wait_until_a_slot_frees(self):
        backend = self.demo_backend()
        proxy = self.hoplite([backend], limits={"max_connections": 2})
        first, second = self.connect(proxy.port), self.connect(proxy.port)
        self.assertEqual(get(first, "/one").status, 200)
        self.assertEqual(get(second, "/two").status, 200)

        # The third connection completes in the kernel's backlog, but hoplite does not take it:
        # its request gets no answer while both slots are held by idle keep-alive connections.
        third = self.connect(proxy.port)
        third.send(build_request("GET", "/three", [("Host", "app.test")]))
        self.assertTrue(third.nothing_arrives(0.5), "a connection beyond the cap was served")

        # Closing one client frees a slot: the waiting connection is accepted and answered.
        first.close()
        response = third.read_response()
        self.assertEqual(response.status, 200)
        self.assertEqual(response.json()["target"], "/three")
        # The connection that stayed open is still served.
        self.assertEqual(get(second, "/again").status, 200)

        counters = self.stop_hoplite(proxy)
        self.assertCounters(counters, accepted=3, requests=4)


def listen_backlogs(port):
    """The backlog of every TCP socket listening on `port`, as the kernel reports it (`ss` shows
    a listening socket's backlog in its Send-Q column), sorted."""
    out = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True,
                         check=True, timeout=harness.IO_TIMEOUT).stdout
    return sorted(int(line.split()[2]) for line in out.splitlines())


def somaxconn():
    with open("/proc/sys/net/core/somaxconn") as f:
        return int(f.read())


class ListenBacklog(harness.E2ETestCase):
    def test_the_listening_socket_has_the_configured_backlog(self):
        backend = self.demo_backend()
        proxy = self.hoplite([backend], limits={"listen_backlog": 7})
        self.assertEqual(listen_backlogs(proxy.port), [7])
        self.stop_hoplite(proxy)

    def test_the_default_backlog_is_511_as_in_nginx(self):
        backend = self.demo_backend()
        proxy = self.hoplite([backend])
        # Linux lowers a backlog above net.core.somaxconn to it.
        self.assertEqual(listen_backlogs(proxy.port), [min(511, somaxconn())])
        self.stop_hoplite(proxy)

    def test_each_worker_socket_has_the_configured_backlog(self):
        backend = self.demo_backend()
        proxy = self.hoplite([backend], workers=2, limits={"listen_backlog": 9})
        self.assertEqual(listen_backlogs(proxy.port), [9, 9])
        self.stop_hoplite(proxy)


class HeapTrim(harness.E2ETestCase):
    def test_heap_is_trimmed_once_connections_stop_ending(self):
        backend = self.demo_backend()
        proxy = self.hoplite([backend], debug=True)
        trimmed = r"^hoplite: heap trimmed after a quiet period"
        # Connections end every 0.2 s for 1.6 s: never a quiet second, so no trim yet.
        for i in range(8):
            peer = self.connect(proxy.port)
            self.assertEqual(get(peer, f"/burst/{i}").status, 200)
            peer.close()
            time.sleep(0.2)  # pacing: the gap between connections is what is under test
        self.assertIsNone(proxy.stderr.wait_for(trimmed, 0.0), "trimmed while connections ended")
        last_end = time.monotonic()
        self.assertIsNotNone(proxy.stderr.wait_for(trimmed, 5.0), "no trim after the burst")
        self.assertElapsedBetween(time.monotonic() - last_end, 0.6, 5.0, "the trim")
        self.stop_hoplite(proxy)


if __name__ == "__main__":
    unittest.main()
