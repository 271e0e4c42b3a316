// X-Forwarded-*, RFC 7239 Forwarded and Via on requests sent upstream.
#include "policy/forwarded.h"

#include <catch2/catch.hpp>
#include <string>

#include "policy/text.h"
#include "test/policy/policy_test_util.h"

namespace hoplite::policy {
namespace {

// "xff,fwd,via" switches; "" turns all three off.
conf::ForwardedSettings settingsFor(std::string_view switches, std::string_view trusted) {
  conf::ForwardedSettings settings;
  settings.xForwarded = switches.find("xff") != std::string_view::npos;
  settings.forwarded = switches.find("fwd") != std::string_view::npos;
  settings.via = switches.find("via") != std::string_view::npos;
  for (std::string_view cidr : splitCommaList(trusted)) {
    std::optional<conf::Cidr> parsed = conf::Cidr::fromText(cidr);
    REQUIRE(parsed);
    settings.trustedProxies.push_back(*parsed);
  }
  return settings;
}

PeerInfo peerAt(std::string_view address) {
  PeerInfo peer;
  std::optional<conf::IpAddress> parsed = conf::IpAddress::fromText(address);
  REQUIRE(parsed);
  peer.address = *parsed;
  peer.port = 50000;
  peer.listenerPort = 8080;
  return peer;
}

// Every table below has these columns:
// peer, trusted_proxies, switches, effective host, incoming fields, outgoing fields.
using Row =
    std::tuple<std::string, std::string, std::string, std::string, std::string, std::string>;

void checkForwarded(const Row& row) {
  const auto& [peer, trusted, switches, host, input, expected] = row;
  CAPTURE(peer, trusted, switches, host, input);
  const parser::HeaderList out =
      applyForwarded(test::fields(input), host, peerAt(peer), settingsFor(switches, trusted));
  CHECK(test::text(out) == expected);
  // proxy/ fills addressText once per connection: the result must be the same as formatting
  // the address per request.
  PeerInfo precomputed = peerAt(peer);
  precomputed.addressText = precomputed.address.toText();
  const parser::HeaderList outPrecomputed =
      applyForwarded(test::fields(input), host, precomputed, settingsFor(switches, trusted));
  CHECK(test::text(outPrecomputed) == expected);
  // The upstream head writer applies the same rules without building a list first.
  const parser::HeaderList in = test::fields(input);
  const HopByHopFilter filter(in);
  std::string direct;
  appendForwardedFields(direct, in, filter, host, peerAt(peer), settingsFor(switches, trusted));
  CHECK(direct == (expected.empty() ? std::string() : test::crlf(expected) + "\r\n"));
}

TEST_CASE("policy: untrusted peers lose incoming X-Forwarded-* and get fresh ones",
          "[policy][forwarded]") {
  const Row row =
      GENERATE(table<std::string, std::string, std::string, std::string, std::string, std::string>({
          // An untrusted client gets fresh X-Forwarded-* fields after its own.
          {"203.0.113.7", "", "xff", "example.com", "Accept: */*",
           "Accept: */*\nX-Forwarded-For: 203.0.113.7\nX-Forwarded-Proto: http\n"
           "X-Forwarded-Port: 8080\nX-Forwarded-Host: example.com"},
          // Whatever an untrusted client claims about itself is dropped, Forwarded included.
          {"203.0.113.7", "10.0.0.0/8", "xff", "example.com",
           "X-Forwarded-For: 1.2.3.4\nX-Forwarded-Proto: https\nAccept: a\n"
           "X-Forwarded-Host: evil\nx-forwarded-port: 443\nForwarded: for=1.2.3.4\n"
           "X-Forwarded-Prefix: /x",
           "Accept: a\nX-Forwarded-For: 203.0.113.7\nX-Forwarded-Proto: http\n"
           "X-Forwarded-Port: 8080\nX-Forwarded-Host: example.com"},
      }));
  checkForwarded(row);
}

TEST_CASE("policy: trusted peers append to X-Forwarded-For and keep Proto, Port and Host",
          "[policy][forwarded]") {
  const Row row =
      GENERATE(table<std::string, std::string, std::string, std::string, std::string, std::string>({
          // A trusted proxy's chain is extended and its Proto/Port/Host are believed.
          {"10.0.0.5", "10.0.0.0/8", "xff", "internal:8080",
           "X-Forwarded-For: 198.51.100.1\nX-Forwarded-Proto: https\nX-Forwarded-Port: 443\n"
           "X-Forwarded-Host: www.example.com\nAccept: a",
           "Accept: a\nX-Forwarded-For: 198.51.100.1, 10.0.0.5\nX-Forwarded-Proto: https\n"
           "X-Forwarded-Port: 443\nX-Forwarded-Host: www.example.com"},
          // A trusted peer that sent nothing gets the same fresh fields as anyone.
          {"10.0.0.5", "10.0.0.0/8", "xff", "example.com", "Accept: a",
           "Accept: a\nX-Forwarded-For: 10.0.0.5\nX-Forwarded-Proto: http\n"
           "X-Forwarded-Port: 8080\nX-Forwarded-Host: example.com"},
          // Several X-Forwarded-For fields of a trusted peer are one list.
          {"10.0.0.5", "10.0.0.0/8", "xff", "example.com",
           "X-Forwarded-For: 1.1.1.1\nX-Forwarded-For: 2.2.2.2, 3.3.3.3",
           "X-Forwarded-For: 1.1.1.1, 2.2.2.2, 3.3.3.3, 10.0.0.5\nX-Forwarded-Proto: http\n"
           "X-Forwarded-Port: 8080\nX-Forwarded-Host: example.com"},
          // A trusted peer's own Proto is kept; the fields it did not send are filled in.
          {"10.0.0.5", "10.0.0.0/8", "xff", "example.com", "X-Forwarded-Proto: https",
           "X-Forwarded-For: 10.0.0.5\nX-Forwarded-Proto: https\nX-Forwarded-Port: 8080\n"
           "X-Forwarded-Host: example.com"},
          // A trusted peer's other X-Forwarded-* fields stay where they were.
          {"10.0.0.5", "10.0.0.0/8", "", "example.com", "X-Forwarded-Prefix: /app\nAccept: a",
           "X-Forwarded-Prefix: /app\nAccept: a"},
      }));
  checkForwarded(row);
}

TEST_CASE("policy: a peer is trusted only inside a trusted_proxies block of its family",
          "[policy][forwarded]") {
  const Row row =
      GENERATE(table<std::string, std::string, std::string, std::string, std::string, std::string>({
          // IPv6 trusted ranges work, and the chain gets the unbracketed address.
          {"2001:db8::7", "2001:db8::/32", "xff", "example.com", "X-Forwarded-For: 1.2.3.4",
           "X-Forwarded-For: 1.2.3.4, 2001:db8::7\nX-Forwarded-Proto: http\n"
           "X-Forwarded-Port: 8080\nX-Forwarded-Host: example.com"},
          // An IPv4 range never trusts an IPv6 peer.
          {"2001:db8::7", "0.0.0.0/0", "xff", "example.com", "X-Forwarded-For: 1.2.3.4",
           "X-Forwarded-For: 2001:db8::7\nX-Forwarded-Proto: http\nX-Forwarded-Port: 8080\n"
           "X-Forwarded-Host: example.com"},
          // A v4-mapped peer from a dual-stack listener is its IPv4 address.
          {"::ffff:10.1.2.3", "10.0.0.0/8", "xff", "example.com", "X-Forwarded-For: 1.2.3.4",
           "X-Forwarded-For: 1.2.3.4, 10.1.2.3\nX-Forwarded-Proto: http\n"
           "X-Forwarded-Port: 8080\nX-Forwarded-Host: example.com"},
      }));
  checkForwarded(row);
}

TEST_CASE("policy: header names with an underscore are dropped from any peer",
          "[policy][forwarded]") {
  const Row row =
      GENERATE(table<std::string, std::string, std::string, std::string, std::string, std::string>({
          // Underscore names are dropped from anyone, as nginx does.
          {"10.0.0.5", "10.0.0.0/8", "", "example.com",
           "X_Forwarded_For: 1.1.1.1\nMy_Header: x\nAccept: a", "Accept: a"},
          // An untrusted client's X_Forwarded_For cannot pose as the chain.
          {"203.0.113.7", "", "xff", "example.com", "X_Forwarded_For: 1.1.1.1\nAccept: a",
           "Accept: a\nX-Forwarded-For: 203.0.113.7\nX-Forwarded-Proto: http\n"
           "X-Forwarded-Port: 8080\nX-Forwarded-Host: example.com"},
          // A trusted proxy's underscore spelling is not appended to either.
          {"10.0.0.5", "10.0.0.0/8", "xff", "example.com", "X_Forwarded_Proto: https",
           "X-Forwarded-For: 10.0.0.5\nX-Forwarded-Proto: http\nX-Forwarded-Port: 8080\n"
           "X-Forwarded-Host: example.com"},
      }));
  checkForwarded(row);
}

TEST_CASE("policy: x_forwarded off adds nothing", "[policy][forwarded]") {
  const Row row =
      GENERATE(table<std::string, std::string, std::string, std::string, std::string, std::string>({
          // Nothing is added, and an untrusted client's claims still go.
          {"203.0.113.7", "", "", "example.com", "X-Forwarded-For: 1.2.3.4\nAccept: a",
           "Accept: a"},
          // A trusted proxy's fields pass unchanged.
          {"10.0.0.5", "10.0.0.0/8", "", "example.com",
           "X-Forwarded-For: 1.2.3.4\nX-Forwarded-Proto: https",
           "X-Forwarded-For: 1.2.3.4\nX-Forwarded-Proto: https"},
          // The other switches do not bring X-Forwarded-* back.
          {"203.0.113.7", "", "fwd,via", "example.com", "X-Forwarded-For: 1.2.3.4",
           "Forwarded: for=203.0.113.7;proto=http;host=example.com\nVia: 1.1 hoplite"},
      }));
  checkForwarded(row);
}

TEST_CASE("policy: Forwarded quotes and brackets IPv6 and quotes a host with a port",
          "[policy][forwarded]") {
  const Row row =
      GENERATE(table<std::string, std::string, std::string, std::string, std::string, std::string>({
          // RFC 7239 Forwarded for an IPv4 client.
          {"192.0.2.60", "", "fwd", "example.com", "Accept: a",
           "Accept: a\nForwarded: for=192.0.2.60;proto=http;host=example.com"},
          // RFC 7239 §6: an IPv6 node is bracketed and quoted.
          {"2001:db8::1", "", "fwd", "example.com", "",
           "Forwarded: for=\"[2001:db8::1]\";proto=http;host=example.com"},
          // A host with a port is not a token, so it is quoted.
          {"192.0.2.60", "", "fwd", "example.com:8080", "",
           "Forwarded: for=192.0.2.60;proto=http;host=\"example.com:8080\""},
      }));
  checkForwarded(row);
}

TEST_CASE("policy: Forwarded from a trusted proxy is extended, from anyone else replaced",
          "[policy][forwarded]") {
  const Row row =
      GENERATE(table<std::string, std::string, std::string, std::string, std::string, std::string>({
          // A trusted proxy's Forwarded elements come first, ours is appended.
          {"10.0.0.5", "10.0.0.0/8", "fwd", "example.com", "Forwarded: for=192.0.2.43",
           "Forwarded: for=192.0.2.43, for=10.0.0.5;proto=http;host=example.com"},
          // An untrusted client's Forwarded is replaced.
          {"192.0.2.60", "10.0.0.0/8", "fwd", "example.com", "Forwarded: for=127.0.0.1;by=admin",
           "Forwarded: for=192.0.2.60;proto=http;host=example.com"},
      }));
  checkForwarded(row);
}

TEST_CASE("policy: Via is appended only when enabled", "[policy][forwarded]") {
  const Row row =
      GENERATE(table<std::string, std::string, std::string, std::string, std::string, std::string>({
          // Via is set when absent...
          {"192.0.2.60", "", "via", "example.com", "Accept: a", "Accept: a\nVia: 1.1 hoplite"},
          // ...and appended to, moved to the forwarding section, when present.
          {"192.0.2.60", "", "via", "example.com", "Via: 1.0 fred\nAccept: a\nVia: 1.1 p.example",
           "Accept: a\nVia: 1.0 fred, 1.1 p.example, 1.1 hoplite"},
          // With via off an incoming Via stays untouched, in place.
          {"192.0.2.60", "", "xff", "example.com", "Via: 1.0 fred\nAccept: a",
           "Via: 1.0 fred\nAccept: a\nX-Forwarded-For: 192.0.2.60\nX-Forwarded-Proto: http\n"
           "X-Forwarded-Port: 8080\nX-Forwarded-Host: example.com"},
      }));
  checkForwarded(row);
}

TEST_CASE("policy: without a Host nothing names the host", "[policy][forwarded]") {
  const Row row =
      GENERATE(table<std::string, std::string, std::string, std::string, std::string, std::string>({
          // HTTP/1.0 without Host: no X-Forwarded-Host and no host= parameter.
          {"192.0.2.60", "", "xff,fwd", "", "",
           "X-Forwarded-For: 192.0.2.60\nX-Forwarded-Proto: http\nX-Forwarded-Port: 8080\n"
           "Forwarded: for=192.0.2.60;proto=http"},
          // An untrusted client cannot supply the missing host either.
          {"192.0.2.60", "", "xff", "", "X-Forwarded-Host: evil",
           "X-Forwarded-For: 192.0.2.60\nX-Forwarded-Proto: http\nX-Forwarded-Port: 8080"},
      }));
  checkForwarded(row);
}

TEST_CASE("policy: the forwarding section follows the other fields in a fixed order",
          "[policy][forwarded]") {
  const Row row =
      GENERATE(table<std::string, std::string, std::string, std::string, std::string, std::string>({
          // Everything on, from an untrusted peer.
          {"203.0.113.7", "", "xff,fwd,via", "example.com", "Accept: a\nVia: 1.0 fred",
           "Accept: a\nX-Forwarded-For: 203.0.113.7\nX-Forwarded-Proto: http\n"
           "X-Forwarded-Port: 8080\nX-Forwarded-Host: example.com\n"
           "Forwarded: for=203.0.113.7;proto=http;host=example.com\n"
           "Via: 1.0 fred, 1.1 hoplite"},
          // Everything on, from a trusted proxy: its fields move into the section, merged.
          {"10.0.0.5", "10.0.0.0/8", "xff,fwd,via", "example.com",
           "Via: 1.0 lb\nX-Forwarded-For: 198.51.100.1\nAccept: a\nForwarded: for=198.51.100.1",
           "Accept: a\nX-Forwarded-For: 198.51.100.1, 10.0.0.5\nX-Forwarded-Proto: http\n"
           "X-Forwarded-Port: 8080\nX-Forwarded-Host: example.com\n"
           "Forwarded: for=198.51.100.1, for=10.0.0.5;proto=http;host=example.com\n"
           "Via: 1.0 lb, 1.1 hoplite"},
      }));
  checkForwarded(row);
}

// appendForwardedFields must write exactly what the list pipeline it replaces writes:
// appendFields(applyForwarded(stripHopByHop(headers) without Host)). Rows mix in what the filter
// and the serialiser remove: hop-by-hop fields, Connection-named fields, Host, bad names, CR/LF.
TEST_CASE("policy: forwarding fields written straight into a head match the list pipeline",
          "[policy][forwarded]") {
  const Row row =
      GENERATE(table<std::string, std::string, std::string, std::string, std::string, std::string>({
          {"203.0.113.7", "", "xff", "example.com",
           "Host: example.com\nConnection: keep-alive, X-Secret\nX-Secret: 1\nAccept: a\n"
           "Keep-Alive: 5\nTE: trailers\nX-Forwarded-For: 1.1.1.1",
           "Accept: a\nX-Forwarded-For: 203.0.113.7\nX-Forwarded-Proto: http\n"
           "X-Forwarded-Port: 8080\nX-Forwarded-Host: example.com"},
          // A trusted peer's kept fields can be named by Connection too, and then they go.
          {"10.0.0.5", "10.0.0.0/8", "xff,fwd,via", "h",
           "Connection: x-forwarded-proto, VIA\nX-Forwarded-Proto: https\nVia: 1.0 lb\n"
           "X-Forwarded-Port: 443\nX-Forwarded-Host: a\nx-forwarded-host: b\nHOST: h",
           "X-Forwarded-For: 10.0.0.5\nX-Forwarded-Proto: http\nX-Forwarded-Port: 443\n"
           "X-Forwarded-Host: a\nx-forwarded-host: b\nForwarded: for=10.0.0.5;proto=http;host=h\n"
           "Via: 1.1 hoplite"},
          // More Connection tokens than the filter keeps inline.
          {"203.0.113.7", "", "", "h",
           "Connection: a, b, c, d, e, f, g, h, i, j, k\nA: 1\nK: 2\nJ: 3\nL: 4\nE: 5", "L: 4"},
          // Names that are not tokens and values with CR or LF are never written.
          {"203.0.113.7", "", "", "h", "Bad Name: 1\nX-Bad: a\rb\nX-Good: c\nX\"Q: d", "X-Good: c"},
      }));
  const auto& [peer, trusted, switches, host, input, expected] = row;
  CAPTURE(peer, trusted, switches, host, input);
  const PeerInfo info = peerAt(peer);
  const conf::ForwardedSettings settings = settingsFor(switches, trusted);
  const parser::HeaderList in = test::fields(input);
  parser::HeaderList stripped = stripHopByHop(in);
  std::erase_if(stripped, [](const parser::HeaderField& field) {
    return parser::equalsIgnoreCase(field.name, "Host");
  });
  std::string viaList;
  appendFields(viaList, applyForwarded(std::move(stripped), host, info, settings));
  const HopByHopFilter filter(in);
  std::string direct;
  appendForwardedFields(direct, in, filter, host, info, settings);
  CHECK(direct == viaList);
  CHECK(direct == (expected.empty() ? std::string() : test::crlf(expected) + "\r\n"));
}

}  // namespace
}  // namespace hoplite::policy
