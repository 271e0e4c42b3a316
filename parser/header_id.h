// HeaderId: the header field names hoplite's rules look at, recognised once per field when the
// parser stores it, so that policy/ compares a byte instead of a string (the idea of nginx's
// header hash and of h2o's token table).
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace hoplite::parser {

// Every name a rule in parser/ or policy/ tests for. Other is everything else. Names are matched
// ASCII case-insensitively and whole, except XForwardedOther, which is any other name that
// starts with "X-Forwarded-".
enum class HeaderId : uint8_t {
  Other = 0,
  Host,
  Connection,
  KeepAlive,
  ProxyConnection,
  TE,
  Trailer,
  TransferEncoding,
  Upgrade,
  Http2Settings,
  ContentLength,
  Expect,
  Via,
  Forwarded,
  XForwardedFor,
  XForwardedProto,
  XForwardedPort,
  XForwardedHost,
  XForwardedOther,
  SecWebSocketKey,
  SecWebSocketVersion,
  SecWebSocketAccept,
  SecWebSocketProtocol,
  SecWebSocketExtensions,
  ProxyAuthenticate,
  ProxyAuthorization,
};

// ASCII lower-case of every byte value; other bytes map to themselves (RFC 9110 §5.1: field names
// are case-insensitive ASCII, and nothing here depends on the locale).
inline constexpr std::array<unsigned char, 256> kLowerAscii = [] {
  std::array<unsigned char, 256> table{};
  for (int c = 0; c < 256; ++c) {
    table[static_cast<size_t>(c)] =
        static_cast<unsigned char>((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c);
  }
  return table;
}();

// The id of a field name. Costs one switch on the length and at most three short comparisons.
HeaderId classifyHeaderName(std::string_view name);

// The canonical spelling of an id ("Sec-WebSocket-Key"); "" for Other and XForwardedOther.
std::string_view headerIdName(HeaderId id);

}  // namespace hoplite::parser
