#include "policy/forwarded.h"

#include <charconv>
#include <string_view>

#include "policy/text.h"

namespace hoplite::policy {

namespace {

constexpr std::string_view kViaSelf = "1.1 hoplite";

bool isTrusted(const conf::IpAddress& address, const conf::ForwardedSettings& settings) {
  for (const conf::Cidr& cidr : settings.trustedProxies) {
    if (cidr.contains(address)) return true;
  }
  return false;
}

// Appends `element` to a comma-separated list value.
void appendListElement(std::string& list, std::string_view element) {
  if (!list.empty()) list.append(", ");
  list.append(element);
}

// RFC 7239 §4: a parameter value is a token or a quoted-string. Appends it to `out`.
void appendTokenOrQuoted(std::string& out, std::string_view value) {
  if (parser::isToken(value)) {
    out.append(value);
    return;
  }
  out.push_back('"');
  for (char c : value) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
}

// RFC 7239 §6: an IPv6 node is bracketed, and since ':' and '[' are not tchar, quoted.
// `text` is address.toText().
void appendForwardedNode(std::string& out, const conf::IpAddress& address, std::string_view text) {
  if (address.family == conf::IpAddress::Family::V6) {
    out.append("\"[");
    out.append(text);
    out.append("]\"");
    return;
  }
  out.append(text);
}

// The rules of applyForwarded over the fields of `headers` that `keep` accepts, without copying
// any: emit(name, value) is called for each output field, in output order. The forwarding
// section is found by id; a trusted peer's kept X-Forwarded-Proto/-Port/-Host fields are found
// again by a second walk over `headers`, so nothing is stored on the way.
template <typename Keep, typename Emit>
void forwardFields(const parser::HeaderList& headers, Keep keep, const std::string& host,
                   const PeerInfo& peer, const conf::ForwardedSettings& settings, Emit emit) {
  using parser::HeaderId;
  const bool trusted = isTrusted(peer.address, settings);
  std::string formatted;  // only when proxy/ did not precompute the text
  if (peer.addressText.empty()) formatted = peer.address.toText();
  const std::string_view peerText = peer.addressText.empty() ? formatted : peer.addressText;

  std::string forwardedFor;  // merged X-Forwarded-For of a trusted peer
  std::string forwarded;     // merged Forwarded of a trusted peer
  std::string via;           // merged Via
  bool keptProto = false, keptPort = false, keptHost = false;  // a trusted peer sent them

  for (const parser::HeaderField& field : headers) {
    if (!keep(field)) continue;
    // nginx's underscores_in_headers off: many backends (CGI, PHP, Django) map '_' and '-' to the
    // same variable, so X_Forwarded_For could shadow the real X-Forwarded-For.
    if (field.name.find('_') != std::string::npos) continue;
    switch (field.id) {
      case HeaderId::Via:
        if (settings.via) {
          appendListElement(via, field.value);
        } else {
          emit(field.name, field.value);
        }
        break;
      // A client's own claims about itself are never forwarded; a trusted peer's move to the
      // forwarding section.
      case HeaderId::Forwarded:
        if (trusted) appendListElement(forwarded, field.value);
        break;
      case HeaderId::XForwardedFor:
        if (trusted) appendListElement(forwardedFor, field.value);
        break;
      case HeaderId::XForwardedProto:
        keptProto = keptProto || trusted;
        break;
      case HeaderId::XForwardedPort:
        keptPort = keptPort || trusted;
        break;
      case HeaderId::XForwardedHost:
        keptHost = keptHost || trusted;
        break;
      case HeaderId::XForwardedOther:
        if (trusted) emit(field.name, field.value);  // e.g. X-Forwarded-Prefix from a trusted proxy
        break;
      default:
        emit(field.name, field.value);
        break;
    }
  }

  // The kept fields of a trusted peer, or ours when it sent none. With x_forwarded off, a trusted
  // peer's fields pass unchanged and nothing is added.
  auto emitKept = [&](bool kept, HeaderId id, std::string_view value, bool add) {
    if (kept) {
      for (const parser::HeaderField& field : headers) {
        if (field.id == id && keep(field)) emit(field.name, field.value);
      }
    } else if (add) {
      emit(parser::headerIdName(id), value);
    }
  };
  if (settings.xForwarded) appendListElement(forwardedFor, peerText);
  if (!forwardedFor.empty()) emit("X-Forwarded-For", forwardedFor);
  emitKept(keptProto, HeaderId::XForwardedProto, peer.scheme, settings.xForwarded);
  char port[8];
  const auto [portEnd, ec] = std::to_chars(port, port + sizeof port, peer.listenerPort);
  (void)ec;  // a uint16_t always fits in 8 characters
  emitKept(keptPort, HeaderId::XForwardedPort, std::string_view(port, portEnd - port),
           settings.xForwarded);
  // HTTP/1.0 without Host has no effective host: there is nothing true to say.
  emitKept(keptHost, HeaderId::XForwardedHost, host, settings.xForwarded && !host.empty());

  if (settings.forwarded) {
    // RFC 7239 §4: parameters of one element are joined by ';', elements of hops by ','.
    if (!forwarded.empty()) forwarded.append(", ");
    forwarded.append("for=");
    appendForwardedNode(forwarded, peer.address, peerText);
    forwarded.append(";proto=");
    appendTokenOrQuoted(forwarded, peer.scheme);
    if (!host.empty()) {
      forwarded.append(";host=");
      appendTokenOrQuoted(forwarded, host);
    }
  }
  if (!forwarded.empty()) emit("Forwarded", forwarded);

  if (settings.via) {
    // RFC 9110 §7.6.3: each intermediary appends its own received-protocol and pseudonym.
    appendListElement(via, kViaSelf);
    emit("Via", via);
  }
}

}  // namespace

bool isTrustedPeer(const PeerInfo& peer, const conf::ForwardedSettings& settings) {
  return isTrusted(peer.address, settings);
}

// Contract: see forwarded.h. The output is the input's other fields in their order, followed by
// the forwarding section in a fixed order: X-Forwarded-For, -Proto, -Port, -Host, Forwarded, Via.
// Fields a trusted peer sent are moved into that section (so the upstream sees one canonical
// place); list-valued ones (X-Forwarded-For, Forwarded, Via) are merged into a single field.
//
// With x_forwarded=false nothing X-Forwarded-* is added, but an untrusted peer's incoming
// X-Forwarded-* fields are still dropped: a backend that reads them must never see values a client
// made up. The same holds for Forwarded with forwarded=false. Via is not a trust claim (it only
// lists protocols and hops, RFC 9110 §7.6.3), so an incoming Via is kept either way.
parser::HeaderList applyForwarded(parser::HeaderList headers, const std::string& host,
                                  const PeerInfo& peer, const conf::ForwardedSettings& settings) {
  parser::HeaderList out;
  out.reserve(headers.size() + 6);
  forwardFields(
      headers, [](const parser::HeaderField&) { return true; }, host, peer, settings,
      [&out](std::string_view name, std::string_view value) {
        out.emplace_back(std::string(name), std::string(value));
      });
  return out;
}

// Contract: see forwarded.h.
void appendForwardedFields(std::string& out, const parser::HeaderList& headers,
                           const HopByHopFilter& filter, const std::string& host,
                           const PeerInfo& peer, const conf::ForwardedSettings& settings,
                           std::string_view alsoDrop) {
  forwardFields(
      headers,
      [&filter, alsoDrop](const parser::HeaderField& field) {
        return field.id != parser::HeaderId::Host && filter.keeps(field) &&
               (alsoDrop.empty() || !parser::equalsIgnoreCase(field.name, alsoDrop));
      },
      host, peer, settings,
      [&out](std::string_view name, std::string_view value) {
        if (parser::isToken(name) && isSafeFieldValue(value)) appendField(out, name, value);
      });
}

}  // namespace hoplite::policy
