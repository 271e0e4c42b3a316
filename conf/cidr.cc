#include "conf/cidr.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace hoplite::conf {

namespace {
constexpr std::array<uint8_t, 12> kV4MappedPrefix = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

size_t addressBits(IpAddress::Family family) {
  return family == IpAddress::Family::V4 ? 32 : 128;
}
}  // namespace

std::optional<IpAddress> IpAddress::fromText(std::string_view text) {
  // inet_pton needs a NUL-terminated string; the longest textual IPv6 address is 45 characters.
  if (text.empty() || text.size() > 45) return std::nullopt;
  char buffer[46];
  std::memcpy(buffer, text.data(), text.size());
  buffer[text.size()] = '\0';

  IpAddress address;
  if (inet_pton(AF_INET, buffer, address.bytes.data()) == 1) {
    address.family = Family::V4;
    return address;
  }
  if (inet_pton(AF_INET6, buffer, address.bytes.data()) == 1) {
    address.family = Family::V6;
    if (std::memcmp(address.bytes.data(), kV4MappedPrefix.data(), kV4MappedPrefix.size()) == 0) {
      // A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d; treat them as the IPv4 peer.
      IpAddress v4;
      v4.family = Family::V4;
      std::memcpy(v4.bytes.data(), address.bytes.data() + 12, 4);
      return v4;
    }
    return address;
  }
  return std::nullopt;
}

std::string IpAddress::toText() const {
  char buffer[INET6_ADDRSTRLEN];
  const int af = family == Family::V4 ? AF_INET : AF_INET6;
  if (inet_ntop(af, bytes.data(), buffer, sizeof buffer) == nullptr) return {};
  return buffer;
}

std::optional<Cidr> Cidr::fromText(std::string_view text) {
  const size_t slash = text.find('/');
  std::optional<IpAddress> network = IpAddress::fromText(text.substr(0, slash));
  if (!network) return std::nullopt;
  // A v4-mapped network written in IPv6 notation would have a /96+ prefix meant for IPv6; keep
  // such an entry simple by refusing it with a prefix rather than guessing.
  const size_t maxBits = addressBits(network->family);
  size_t prefix = maxBits;
  if (slash != std::string_view::npos) {
    std::string_view digits = text.substr(slash + 1);
    if (digits.empty() || digits.size() > 3) return std::nullopt;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
    if (ec != std::errc() || end != digits.data() + digits.size() || prefix > maxBits) {
      return std::nullopt;
    }
    if (network->family == IpAddress::Family::V4 &&
        text.substr(0, slash).find(':') != std::string_view::npos) {
      return std::nullopt;
    }
  }
  Cidr cidr{*network, static_cast<uint8_t>(prefix)};
  // Host bits below the prefix must be zero: "10.0.0.1/8" is usually a typo for something else.
  IpAddress masked = cidr.network;
  for (size_t bit = prefix; bit < maxBits; ++bit) {
    masked.bytes[bit / 8] &= static_cast<uint8_t>(~(0x80u >> (bit % 8)));
  }
  if (!(masked == cidr.network)) return std::nullopt;
  return cidr;
}

bool Cidr::contains(const IpAddress& address) const {
  if (address.family != network.family) return false;
  const size_t fullBytes = prefixLength / 8;
  if (std::memcmp(address.bytes.data(), network.bytes.data(), fullBytes) != 0) return false;
  const size_t restBits = prefixLength % 8;
  if (restBits == 0) return true;
  const uint8_t mask = static_cast<uint8_t>(0xffu << (8 - restBits));
  return (address.bytes[fullBytes] & mask) == (network.bytes[fullBytes] & mask);
}

std::string Cidr::toText() const {
  return network.toText() + "/" + std::to_string(prefixLength);
}

}  // namespace hoplite::conf
