"""Request IDs (`request_id`, X-Request-Id by default): the same ID reaches the backend and comes
back to the client; a fresh random one per request, unless a trusted proxy sent one; hoplite's own
answers carry it too; "off" leaves the field alone.

The backend side reads the demo backend's JSON, which lists every field it received in order.
"""

import re
import unittest

import harness
from harness import build_request

FRESH_ID = re.compile(r"^[0-9a-f]{32}$")


def ids_received(response):
    """The values of every X-Request-Id field the demo backend received."""
    assert response.status == 200, (response.start_line, response.body[:500])
    return [value for name, value in response.json()["headers"] if name.lower() == "x-request-id"]


class RequestIds(harness.E2ETestCase):
    def exchange(self, proxy, headers=(), source="127.0.0.1", target="/id"):
        client = self.connect(proxy.port, source)
        client.send(build_request("GET", target, [("Host", "app.test"), *headers]))
        response = client.read_response()
        client.close()
        return response

    def test_a_fresh_id_reaches_the_backend_and_comes_back_to_the_client(self):
        backend = self.demo_backend()
        proxy = self.hoplite([backend])
        seen = set()
        for _ in range(5):
            response = self.exchange(proxy)
            received = ids_received(response)
            self.assertEqual(len(received), 1, received)
            self.assertRegex(received[0], FRESH_ID)
            self.assertEqual(response.values("X-Request-Id"), received)
            seen.add(received[0])
        self.assertEqual(len(seen), 5, "every request gets its own ID")
        self.stop_hoplite(proxy)

    def test_an_untrusted_client_cannot_choose_its_id(self):
        backend = self.demo_backend()
        proxy = self.hoplite([backend])
        response = self.exchange(proxy, [("X-Request-Id", "forged-by-client"),
                                         ("x-request-id", "and-again")])
        received = ids_received(response)
        self.assertEqual(len(received), 1, received)
        self.assertRegex(received[0], FRESH_ID)
        self.assertEqual(response.values("X-Request-Id"), received)
        self.stop_hoplite(proxy)

    def test_a_trusted_proxy_keeps_its_id_unless_it_is_malformed(self):
        backend = self.demo_backend()
        proxy = self.hoplite([backend], forwarded={"trusted_proxies": ["127.0.0.2"]})
        response = self.exchange(proxy, [("X-Request-Id", "lb-7f3a:1")], source="127.0.0.2")
        self.assertEqual(ids_received(response), ["lb-7f3a:1"])
        self.assertEqual(response.values("X-Request-Id"), ["lb-7f3a:1"])
        # Two IDs, or one with a space in it, are not kept.
        for headers in ([("X-Request-Id", "a"), ("X-Request-Id", "b")],
                        [("X-Request-Id", "two words")]):
            received = ids_received(self.exchange(proxy, headers, source="127.0.0.2"))
            self.assertEqual(len(received), 1, received)
            self.assertRegex(received[0], FRESH_ID)
        # The same ID from an address outside trusted_proxies is replaced.
        received = ids_received(self.exchange(proxy, [("X-Request-Id", "lb-7f3a:1")]))
        self.assertRegex(received[0], FRESH_ID)
        self.stop_hoplite(proxy)

    def test_hoplites_own_answers_carry_the_id(self):
        address, holder = harness.refused_address()
        self.addCleanup(holder.close)
        proxy = self.hoplite([address])
        client = self.connect(proxy.port)
        client.send(build_request("GET", "/down", [("Host", "app.test")]))
        response = client.read_response()
        self.assertEqual(response.status, 502)
        self.assertRegex(response.header("X-Request-Id"), FRESH_ID)
        self.stop_hoplite(proxy)

    def test_another_field_name_and_off(self):
        backend = self.demo_backend()
        proxy = self.hoplite([backend], request_id="X-Correlation-Id")
        response = self.exchange(proxy, [("X-Request-Id", "passes")])
        fields = [(n.lower(), v) for n, v in response.json()["headers"]]
        self.assertIn(("x-request-id", "passes"), fields)
        correlation = [v for n, v in fields if n == "x-correlation-id"]
        self.assertEqual(len(correlation), 1, fields)
        self.assertRegex(correlation[0], FRESH_ID)
        self.assertEqual(response.values("X-Correlation-Id"), correlation)
        self.stop_hoplite(proxy)

        proxy = self.hoplite([backend], request_id="off")
        response = self.exchange(proxy, [("X-Request-Id", "theirs")])
        self.assertEqual(ids_received(response), ["theirs"])
        self.assertEqual(response.values("X-Request-Id"), [])
        self.stop_hoplite(proxy)


if __name__ == "__main__":
    unittest.main()
