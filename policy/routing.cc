#include "policy/routing.h"

#include "parser/http_message.h"
#include "policy/text.h"

namespace hoplite::policy {

namespace {

// "Example.COM:8080" → "Example.COM", "[::1]:8080" → "::1", "example.com." → "example.com".
std::string_view hostWithoutPort(std::string_view host) {
  if (!host.empty() && host.front() == '[') {
    const size_t close = host.find(']');
    if (close == std::string_view::npos) return host;  // not a literal; compare as is
    return host.substr(1, close - 1);
  }
  host = host.substr(0, host.find(':'));
  // A fully qualified name may end in a dot (RFC 1034 §3.1); it names the same host.
  if (host.size() > 1 && host.back() == '.') host.remove_suffix(1);
  return host;
}

// A route's host pattern, with brackets removed from an IPv6 literal so that "[::1]" and "::1"
// in the config both work.
std::string_view patternHost(std::string_view pattern) {
  if (pattern.size() >= 2 && pattern.front() == '[' && pattern.back() == ']') {
    return pattern.substr(1, pattern.size() - 2);
  }
  return pattern;
}

bool hostMatches(std::string_view pattern, std::string_view host) {
  if (pattern.empty() || pattern == "*") return true;
  if (pattern.size() > 2 && pattern.substr(0, 2) == "*.") {
    // "*.example.com": at least one label in front of ".example.com".
    const std::string_view suffix = pattern.substr(1);  // ".example.com"
    return host.size() > suffix.size() && endsWithIgnoreCase(host, suffix);
  }
  return parser::equalsIgnoreCase(patternHost(pattern), host);
}

bool pathMatches(std::string_view prefix, std::string_view path) {
  // The default "/" matches every target, "OPTIONS *" included.
  if (prefix.empty() || prefix == "/") return true;
  if (path.substr(0, prefix.size()) != prefix) return false;
  if (path.size() == prefix.size() || prefix.back() == '/') return true;
  return path[prefix.size()] == '/';
}

}  // namespace

const conf::Route* selectRoute(const std::vector<conf::Route>& routes, std::string_view host,
                               std::string_view target) {
  const std::string_view bareHost = hostWithoutPort(host);
  const std::string_view path = target.substr(0, target.find('?'));
  for (const conf::Route& route : routes) {
    if (hostMatches(route.host, bareHost) && pathMatches(route.pathPrefix, path)) return &route;
  }
  return nullptr;
}

}  // namespace hoplite::policy
