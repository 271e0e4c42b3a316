#include "parser/header_id.h"

namespace hoplite::parser {

namespace {

// `name` equals `lower` (all lower-case, same length checked by the caller's switch) ignoring the
// case of `name`.
bool matchesLower(std::string_view name, std::string_view lower) {
  for (size_t i = 0; i < lower.size(); ++i) {
    if (kLowerAscii[static_cast<unsigned char>(name[i])] != static_cast<unsigned char>(lower[i])) {
      return false;
    }
  }
  return true;
}

constexpr std::string_view kXForwardedPrefix = "x-forwarded-";

}  // namespace

// Contract: see header_id.h. The switch on the length is the hash; every case compares against
// lower-case literals of exactly that length.
HeaderId classifyHeaderName(std::string_view name) {
  HeaderId id = HeaderId::Other;
  switch (name.size()) {
    case 2:
      if (matchesLower(name, "te")) id = HeaderId::TE;
      break;
    case 3:
      if (matchesLower(name, "via")) id = HeaderId::Via;
      break;
    case 4:
      if (matchesLower(name, "host")) id = HeaderId::Host;
      break;
    case 6:
      if (matchesLower(name, "expect")) id = HeaderId::Expect;
      break;
    case 7:
      if (matchesLower(name, "upgrade")) {
        id = HeaderId::Upgrade;
      } else if (matchesLower(name, "trailer")) {
        id = HeaderId::Trailer;
      }
      break;
    case 9:
      if (matchesLower(name, "forwarded")) id = HeaderId::Forwarded;
      break;
    case 10:
      if (matchesLower(name, "connection")) {
        id = HeaderId::Connection;
      } else if (matchesLower(name, "keep-alive")) {
        id = HeaderId::KeepAlive;
      }
      break;
    case 14:
      if (matchesLower(name, "content-length")) {
        id = HeaderId::ContentLength;
      } else if (matchesLower(name, "http2-settings")) {
        id = HeaderId::Http2Settings;
      }
      break;
    case 15:
      if (matchesLower(name, "x-forwarded-for")) id = HeaderId::XForwardedFor;
      break;
    case 16:
      if (matchesLower(name, "proxy-connection")) {
        id = HeaderId::ProxyConnection;
      } else if (matchesLower(name, "x-forwarded-host")) {
        id = HeaderId::XForwardedHost;
      } else if (matchesLower(name, "x-forwarded-port")) {
        id = HeaderId::XForwardedPort;
      }
      break;
    case 17:
      if (matchesLower(name, "transfer-encoding")) {
        id = HeaderId::TransferEncoding;
      } else if (matchesLower(name, "x-forwarded-proto")) {
        id = HeaderId::XForwardedProto;
      } else if (matchesLower(name, "sec-websocket-key")) {
        id = HeaderId::SecWebSocketKey;
      }
      break;
    case 18:
      if (matchesLower(name, "proxy-authenticate")) id = HeaderId::ProxyAuthenticate;
      break;
    case 19:
      if (matchesLower(name, "proxy-authorization")) id = HeaderId::ProxyAuthorization;
      break;
    case 20:
      if (matchesLower(name, "sec-websocket-accept")) id = HeaderId::SecWebSocketAccept;
      break;
    case 21:
      if (matchesLower(name, "sec-websocket-version")) id = HeaderId::SecWebSocketVersion;
      break;
    case 22:
      if (matchesLower(name, "sec-websocket-protocol")) id = HeaderId::SecWebSocketProtocol;
      break;
    case 24:
      if (matchesLower(name, "sec-websocket-extensions")) id = HeaderId::SecWebSocketExtensions;
      break;
    default:
      break;
  }
  if (id == HeaderId::Other && name.size() >= kXForwardedPrefix.size() &&
      matchesLower(name, kXForwardedPrefix)) {
    id = HeaderId::XForwardedOther;
  }
  return id;
}

std::string_view headerIdName(HeaderId id) {
  switch (id) {
    case HeaderId::Other:
    case HeaderId::XForwardedOther:
      return "";
    case HeaderId::Host:
      return "Host";
    case HeaderId::Connection:
      return "Connection";
    case HeaderId::KeepAlive:
      return "Keep-Alive";
    case HeaderId::ProxyConnection:
      return "Proxy-Connection";
    case HeaderId::TE:
      return "TE";
    case HeaderId::Trailer:
      return "Trailer";
    case HeaderId::TransferEncoding:
      return "Transfer-Encoding";
    case HeaderId::Upgrade:
      return "Upgrade";
    case HeaderId::Http2Settings:
      return "HTTP2-Settings";
    case HeaderId::ContentLength:
      return "Content-Length";
    case HeaderId::Expect:
      return "Expect";
    case HeaderId::Via:
      return "Via";
    case HeaderId::Forwarded:
      return "Forwarded";
    case HeaderId::XForwardedFor:
      return "X-Forwarded-For";
    case HeaderId::XForwardedProto:
      return "X-Forwarded-Proto";
    case HeaderId::XForwardedPort:
      return "X-Forwarded-Port";
    case HeaderId::XForwardedHost:
      return "X-Forwarded-Host";
    case HeaderId::SecWebSocketKey:
      return "Sec-WebSocket-Key";
    case HeaderId::SecWebSocketVersion:
      return "Sec-WebSocket-Version";
    case HeaderId::SecWebSocketAccept:
      return "Sec-WebSocket-Accept";
    case HeaderId::SecWebSocketProtocol:
      return "Sec-WebSocket-Protocol";
    case HeaderId::SecWebSocketExtensions:
      return "Sec-WebSocket-Extensions";
    case HeaderId::ProxyAuthenticate:
      return "Proxy-Authenticate";
    case HeaderId::ProxyAuthorization:
      return "Proxy-Authorization";
  }
  return "";
}

}  // namespace hoplite::parser
