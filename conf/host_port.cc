#include "conf/host_port.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <nlohmann/json.hpp>

#include "conf/config_loader.h"

namespace hoplite::conf {

namespace {

bool isDigit(char c) {
  return c >= '0' && c <= '9';
}

// A JSON string literal for `text`, as the user would have written it in the config.
std::string quote(std::string_view text) {
  return nlohmann::json(std::string(text))
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

// A DNS name or IPv4 literal: dot-separated labels of letters, digits, "-" and "_". A name made
// only of digits and dots must be a valid IPv4 address ("300.1.1.1" is a typo, not a name).
bool isHostName(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  bool numeric = true;
  size_t labelLength = 0;
  for (char c : host) {
    if (c == '.') {
      if (labelLength == 0) return false;
      labelLength = 0;
      continue;
    }
    const bool ok = std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_';
    if (!ok || ++labelLength > 63) return false;
    if (!isDigit(c)) numeric = false;
  }
  if (labelLength == 0) return false;  // empty last label: "example.com." or "a..b"
  if (numeric) {
    const auto address = IpAddress::fromText(host);
    return address && address->family == IpAddress::Family::V4;
  }
  return true;
}

// Contract: see the header.
bool isIpv6Literal(std::string_view text) {
  // fromText maps ::ffff:a.b.c.d to IPv4, but it is still an IPv6 literal; the ':' tells them
  // apart.
  return text.find(':') != std::string_view::npos && IpAddress::fromText(text).has_value();
}

// Contract: see the header. Brackets are required around IPv6 so that the last ":" is always the
// port separator; the problem phrases are meant to follow the quoted input in a message.
HostPortParse splitHostPort(std::string_view text) {
  HostPortParse result;
  std::string_view host;
  std::string_view port;
  if (text.empty()) {
    result.problem = "is empty";
    return result;
  }
  if (text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos) {
      result.problem = "has no closing \"]\"";
      return result;
    }
    host = text.substr(1, close - 1);
    if (!isIpv6Literal(host)) {
      result.problem = "has no IPv6 address inside its brackets";
      return result;
    }
    const std::string_view rest = text.substr(close + 1);
    if (rest.empty()) {
      result.problem = "has no port";
      return result;
    }
    if (rest.front() != ':') {
      result.problem = "has something other than \":port\" after \"]\"";
      return result;
    }
    port = rest.substr(1);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      result.problem = "has no port";
      return result;
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      result.problem = "is an IPv6 address without brackets (write \"[" + std::string(host) +
                       "]:" + std::string(port) + "\")";
      return result;
    }
    if (!isHostName(host)) {
      result.problem = "has " + quote(host) + ", which is not a host name or IP address";
      return result;
    }
  }
  if (port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), isDigit)) {
    result.problem = port.empty() ? "has no port" : "has port " + quote(port) + ", not a number";
    if (port.size() > 5 && std::all_of(port.begin(), port.end(), isDigit)) {
      result.problem = "has port " + std::string(port) + ", which is out of range";
    }
    return result;
  }
  uint32_t number = 0;
  std::from_chars(port.data(), port.data() + port.size(), number);
  if (number > 65535) {
    result.problem = "has port " + std::to_string(number) + ", which is out of range";
    return result;
  }
  result.value = HostPort{std::string(host), static_cast<uint16_t>(number)};
  return result;
}

// Contract: see config_loader.h; the host keeps its case and loses its brackets.
std::optional<HostPort> parseHostPort(std::string_view text) {
  return splitHostPort(text).value;
}

bool listensIpv6Only(const std::vector<HostPort>& listen, size_t index) {
  const HostPort& self = listen.at(index);
  if (self.port == 0 || self.host.find(':') == std::string::npos) return false;
  for (const HostPort& other : listen) {
    if (other.port == self.port && other.host.find(':') == std::string::npos) return true;
  }
  return false;
}

}  // namespace hoplite::conf
