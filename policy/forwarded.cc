#include "policy/forwarded.h"

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

bool startsWithIgnoreCase(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() &&
         parser::equalsIgnoreCase(text.substr(0, prefix.size()), prefix);
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

}  // namespace

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
  const bool trusted = isTrusted(peer.address, settings);
  std::string formatted;  // only when proxy/ did not precompute the text
  if (peer.addressText.empty()) formatted = peer.address.toText();
  const std::string_view peerText = peer.addressText.empty() ? formatted : peer.addressText;

  std::string forwardedFor;                          // merged X-Forwarded-For of a trusted peer
  std::string forwarded;                             // merged Forwarded of a trusted peer
  std::string via;                                   // merged Via
  parser::HeaderList keptProto, keptPort, keptHost;  // a trusted peer's, as sent

  parser::HeaderList out;
  out.reserve(headers.size() + 6);
  for (parser::HeaderField& field : headers) {
    // nginx's underscores_in_headers off: many backends (CGI, PHP, Django) map '_' and '-' to the
    // same variable, so X_Forwarded_For could shadow the real X-Forwarded-For.
    if (field.name.find('_') != std::string::npos) continue;

    if (parser::equalsIgnoreCase(field.name, "Via")) {
      if (settings.via) {
        appendListElement(via, field.value);
        continue;
      }
      out.push_back(std::move(field));
      continue;
    }
    const bool isXForwarded = startsWithIgnoreCase(field.name, "X-Forwarded-");
    const bool isForwarded = parser::equalsIgnoreCase(field.name, "Forwarded");
    if (!isXForwarded && !isForwarded) {
      out.push_back(std::move(field));
      continue;
    }
    if (!trusted) continue;  // a client's own claims about itself are never forwarded
    if (isForwarded) {
      appendListElement(forwarded, field.value);
    } else if (parser::equalsIgnoreCase(field.name, "X-Forwarded-For")) {
      appendListElement(forwardedFor, field.value);
    } else if (parser::equalsIgnoreCase(field.name, "X-Forwarded-Proto")) {
      keptProto.push_back(std::move(field));
    } else if (parser::equalsIgnoreCase(field.name, "X-Forwarded-Port")) {
      keptPort.push_back(std::move(field));
    } else if (parser::equalsIgnoreCase(field.name, "X-Forwarded-Host")) {
      keptHost.push_back(std::move(field));
    } else {
      out.push_back(std::move(field));  // e.g. X-Forwarded-Prefix from a trusted proxy
    }
  }

  // The kept fields of a trusted peer, or ours when it sent none. With x_forwarded off, a trusted
  // peer's fields pass unchanged and nothing is added.
  auto emit = [&out](parser::HeaderList& kept, std::string_view name, std::string value, bool add) {
    if (!kept.empty()) {
      for (parser::HeaderField& field : kept) out.push_back(std::move(field));
    } else if (add) {
      out.push_back({std::string(name), std::move(value)});
    }
  };
  if (settings.xForwarded) appendListElement(forwardedFor, peerText);
  if (!forwardedFor.empty()) out.push_back({"X-Forwarded-For", std::move(forwardedFor)});
  emit(keptProto, "X-Forwarded-Proto", peer.scheme, settings.xForwarded);
  emit(keptPort, "X-Forwarded-Port", std::to_string(peer.listenerPort), settings.xForwarded);
  // HTTP/1.0 without Host has no effective host: there is nothing true to say.
  emit(keptHost, "X-Forwarded-Host", host, settings.xForwarded && !host.empty());

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
  if (!forwarded.empty()) out.push_back({"Forwarded", std::move(forwarded)});

  if (settings.via) {
    // RFC 9110 §7.6.3: each intermediary appends its own received-protocol and pseudonym.
    appendListElement(via, kViaSelf);
    out.push_back({"Via", std::move(via)});
  }
  return out;
}

}  // namespace hoplite::policy
