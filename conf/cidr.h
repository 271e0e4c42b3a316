// IPv4/IPv6 addresses and CIDR blocks, as plain bytes, with parsing and matching.
//
// Used by conf/ to validate "trusted_proxies" and by policy/ to decide whether a peer is trusted.
// No sockets: addresses are parsed from text with inet_pton.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hoplite::conf {

// An IPv4 or IPv6 address. IPv4 is kept in its own family (not v4-mapped) so that a v4 CIDR never
// matches a v6 peer by accident; `fromText` does turn "::ffff:a.b.c.d" into the IPv4 a.b.c.d, since
// that is how a dual-stack listener reports IPv4 peers.
struct IpAddress {
  enum class Family : uint8_t { V4, V6 };
  Family family = Family::V4;
  std::array<uint8_t, 16> bytes{};  // V4 uses the first 4

  static std::optional<IpAddress> fromText(std::string_view text);
  // Canonical text: dotted quad, or RFC 5952 compressed IPv6 without brackets.
  std::string toText() const;
  bool operator==(const IpAddress&) const = default;
};

struct Cidr {
  IpAddress network;  // host bits are zero
  uint8_t prefixLength = 0;

  // "10.0.0.0/8", "::1/128", or a bare address (a /32 or /128). Host bits set below the prefix
  // (e.g. "10.0.0.1/8") are an error, since they usually hide a typo.
  static std::optional<Cidr> fromText(std::string_view text);
  bool contains(const IpAddress& address) const;
  std::string toText() const;
  bool operator==(const Cidr&) const = default;
};

}  // namespace hoplite::conf
