// Request-target forms (RFC 9112 §3.2) and Host values, reduced to what the proxy forwards.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "parser/http_message.h"

namespace hoplite::parser {

struct NormalisedTarget {
  std::string target;     // origin-form ("/p?q") or "*"
  std::string authority;  // set only for an absolute-form target
  bool absoluteForm = false;
};

// Turns a request target that already passed the raw-byte checks (visible ASCII, no '#') into
// origin-form. Accepts origin-form, "*" for OPTIONS, and absolute-form http/https URIs without
// userinfo. authority-form is CONNECT only, which the caller refuses earlier. On failure returns
// the 400 error to answer with.
std::optional<ParseError> normaliseTarget(std::string_view method, std::string_view raw,
                                          NormalisedTarget& out);

// True when `host` is a plausible uri-host [":" port] (RFC 9110 §7.2): reg-name, IPv4 or a
// bracketed IP literal, with an optional decimal port. Empty is allowed (RFC 9110 §7.2).
bool isValidHostValue(std::string_view host);

}  // namespace hoplite::parser
