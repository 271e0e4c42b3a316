// Host names and "host:port" text, with the reason a bad one is bad.
//
// parseHostPort (config_loader.h) only says yes or no; the validator needs to tell the user why,
// so the detailed form lives here.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "conf/config.h"

namespace hoplite::conf {

// A DNS name or IPv4 literal: dot-separated labels (1 to 63 characters) of letters, digits, "-"
// and "_", at most 253 characters, no empty label. A name made only of digits and dots must be a
// valid IPv4 address: "300.1.1.1" is a typo, not a name.
bool isHostName(std::string_view host);

// An IPv6 address without brackets ("::1", "::ffff:10.0.0.1").
bool isIpv6Literal(std::string_view text);

struct HostPortParse {
  std::optional<HostPort> value;
  std::string problem;  // when value is empty: why, as a phrase to follow the quoted text
};

// "host:port" or "[v6]:port" with a port from 0 to 65535 (whether 0 is acceptable is the
// caller's decision).
HostPortParse splitHostPort(std::string_view text);

// Whether the IPv6 listen address at `index` must take IPv6 connections only: exactly when the
// list also has an IPv4 address on the same (non-zero) port. On Linux an IPv6 socket also takes
// IPv4 by default, so "[::]:80" alone serves both; beside "0.0.0.0:80" it would collide with
// it ("address already in use"), and each family then gets its own socket, as in nginx.
bool listensIpv6Only(const std::vector<HostPort>& listen, size_t index);

}  // namespace hoplite::conf
