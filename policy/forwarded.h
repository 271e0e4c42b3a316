// X-Forwarded-For/-Proto/-Port/-Host, RFC 7239 Forwarded and Via, for requests sent upstream.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "conf/cidr.h"
#include "conf/config.h"
#include "parser/http_message.h"
#include "policy/hop_by_hop.h"

namespace hoplite::policy {

// Who is on the other end of the client connection, and where it connected to.
struct PeerInfo {
  conf::IpAddress address;
  uint16_t port = 0;            // the client's source port
  uint16_t listenerPort = 0;    // the local port it connected to
  std::string scheme = "http";  // "https" once TLS exists
  // address.toText(), computed once per client connection by proxy/ so that no request pays for
  // inet_ntop; when empty (e.g. a PeerInfo built in a test), applyForwarded formats `address`.
  std::string addressText;
  // The listener's bound address ("127.0.0.1:8080"), for logs; it lives as long as the listener.
  std::string_view listenerName;
};

// Whether `peer` is inside forwarded.trusted_proxies: its forwarding fields (and its request ID)
// are believed.
bool isTrustedPeer(const PeerInfo& peer, const conf::ForwardedSettings& settings);

// Applies the forwarding rules to end-to-end request fields (already stripped of hop-by-hop ones):
// - every field whose name contains '_' is dropped (backends often fold '_' into '-');
// - a peer inside trusted_proxies keeps its X-Forwarded-Proto/-Port/-Host and Forwarded, and the
//   peer address is appended to X-Forwarded-For;
// - any other peer loses every incoming X-Forwarded-* and Forwarded field, and gets fresh ones:
//   X-Forwarded-For = peer, -Proto = scheme, -Port = listener port, -Host = `host`;
// - Forwarded (RFC 7239, IPv6 quoted and bracketed) and "Via: 1.1 hoplite" only when enabled.
// `host` is the request's effective host (RequestHead::host).
//
// Output: the other fields in their order, then the forwarding section in a fixed order
// (X-Forwarded-For, -Proto, -Port, -Host, Forwarded, Via); a trusted peer's fields move there, and
// list-valued ones (X-Forwarded-For, Forwarded, Via) are merged into one field. Forwarded is
// "for=<node>;proto=<scheme>;host=<host>" (host omitted when empty, quoted when not a token).
// With x_forwarded (or forwarded) off nothing of that kind is added, but an untrusted peer's
// incoming fields are still dropped. With via off an incoming Via passes untouched.
parser::HeaderList applyForwarded(parser::HeaderList headers, const std::string& host,
                                  const PeerInfo& peer, const conf::ForwardedSettings& settings);

// The same rules, written straight into a request head without copying the field list: the
// fields of `headers` that `filter` keeps, minus Host (the upstream head writes its own first),
// go through applyForwarded's rules and are appended to `out` as "Name: value\r\n", skipping
// what appendFields would skip. Writes exactly what
//   appendFields(out, applyForwarded(<stripHopByHop(headers) without Host>, host, peer, settings))
// writes. `filter` must have been built over `headers`. Fields named `alsoDrop` (when not
// empty; the request ID field, which the caller writes itself) are left out too.
void appendForwardedFields(std::string& out, const parser::HeaderList& headers,
                           const HopByHopFilter& filter, const std::string& host,
                           const PeerInfo& peer, const conf::ForwardedSettings& settings,
                           std::string_view alsoDrop = {});

}  // namespace hoplite::policy
