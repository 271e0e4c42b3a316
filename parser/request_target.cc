#include "parser/request_target.h"

namespace hoplite::parser {

namespace {

bool isAlpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool isDigit(char c) {
  return c >= '0' && c <= '9';
}

// RFC 3986 §3.2.2 reg-name characters: unreserved / pct-encoded / sub-delims.
bool isRegNameChar(char c) {
  if (isAlpha(c) || isDigit(c)) return true;
  switch (c) {
    case '-':
    case '.':
    case '_':
    case '~':
    case '%':
    case '!':
    case '$':
    case '&':
    case '\'':
    case '(':
    case ')':
    case '*':
    case '+':
    case ',':
    case ';':
    case '=':
      return true;
    default:
      return false;
  }
}

ParseError badTarget(std::string reason) {
  return ParseError{400, std::move(reason)};
}

}  // namespace

bool isValidHostValue(std::string_view host) {
  if (host.empty()) return true;
  std::string_view port;
  if (host.front() == '[') {
    const size_t close = host.find(']');
    if (close == std::string_view::npos || close == 1) return false;
    for (char c : host.substr(1, close - 1)) {
      if (!(isDigit(c) || isAlpha(c) || c == ':' || c == '.' || c == '%' || c == '-' || c == '_' ||
            c == '~')) {
        return false;
      }
    }
    const std::string_view rest = host.substr(close + 1);
    if (rest.empty()) return true;
    if (rest.front() != ':') return false;
    port = rest.substr(1);
  } else {
    const size_t colon = host.find(':');
    const std::string_view name = host.substr(0, colon);
    if (name.empty()) return false;
    for (char c : name) {
      if (!isRegNameChar(c)) return false;
    }
    if (colon == std::string_view::npos) return true;
    port = host.substr(colon + 1);
  }
  // An empty port after ':' is allowed by RFC 3986 but useless; refuse it along with non-digits.
  if (port.empty() || port.size() > 5) return false;
  for (char c : port) {
    if (!isDigit(c)) return false;
  }
  return true;
}

std::optional<ParseError> normaliseTarget(std::string_view method, std::string_view raw,
                                          NormalisedTarget& out) {
  // Strings are built by construction and moved in: GCC 12 at -O3 reports a false -Wrestrict
  // on assigning short literals to a std::string (GCC bug 105329).
  out = NormalisedTarget{};
  if (raw == "*") {
    if (method != "OPTIONS") return badTarget("asterisk-form target is for OPTIONS only");
    out.target = std::string(raw);
    return std::nullopt;
  }
  if (!raw.empty() && raw.front() == '/') {
    out.target = std::string(raw);
    return std::nullopt;
  }
  // absolute-form: scheme "://" authority path-abempty [ "?" query ] (RFC 9112 §3.2.2).
  const size_t sep = raw.find("://");
  if (sep == std::string_view::npos || sep == 0) return badTarget("invalid request target");
  const std::string_view scheme = raw.substr(0, sep);
  if (!equalsIgnoreCase(scheme, "http") && !equalsIgnoreCase(scheme, "https")) {
    return badTarget("unsupported scheme in request target");
  }
  const std::string_view afterScheme = raw.substr(sep + 3);
  const size_t pathStart = afterScheme.find_first_of("/?");
  const std::string_view authority = afterScheme.substr(0, pathStart);
  if (authority.find('@') != std::string_view::npos) {
    // Userinfo in a request URI is deprecated (RFC 9110 §4.2.4) and a phishing vector.
    return badTarget("userinfo in request target");
  }
  if (authority.empty() || !isValidHostValue(authority)) {
    return badTarget("invalid authority in request target");
  }
  out.authority = std::string(authority);
  out.absoluteForm = true;
  const std::string_view rest =
      pathStart == std::string_view::npos ? std::string_view() : afterScheme.substr(pathStart);
  std::string target;
  target.reserve(rest.size() + 1);
  if (rest.empty() || rest.front() == '?') target.push_back('/');
  target.append(rest);
  out.target = std::move(target);
  return std::nullopt;
}

}  // namespace hoplite::parser
