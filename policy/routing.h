// Route selection: the first route whose host pattern and path prefix match.
#pragma once

#include <string_view>
#include <vector>

#include "conf/config.h"

namespace hoplite::policy {

// `host` is the request's effective host, possibly with ":port" (stripped here) and any case;
// IPv6 literals come bracketed ("[::1]:8080"). `target` is the origin-form request target; its
// query string does not take part in prefix matching. Returns nullptr when nothing matches.
//
// Matching rules, first match in `routes` order wins:
// - host: "*" or empty matches any host (also an empty one, HTTP/1.0 without Host);
//   "*.example.com" matches "a.example.com" and "a.b.example.com" but not "example.com";
//   anything else matches exactly. ASCII case-insensitive, port ignored, one trailing dot
//   ("example.com.") ignored, IPv6 literals compared without brackets ("[::1]" or "::1" in the
//   config both match "[::1]:8080").
// - path_prefix is segment-aware (like Envoy's path_separated_prefix): "/api" matches "/api",
//   "/api/x" and "/api?q", never "/apix". A prefix that ends in "/" ("/api/") is a plain string
//   prefix, so it matches "/api/x" but not "/api". "/" matches every target, "*" included.
//   Comparison is byte-exact and case-sensitive on the path as sent: no percent-decoding, no
//   dot-segment or slash merging, so routing is not an access-control mechanism.
const conf::Route* selectRoute(const std::vector<conf::Route>& routes, std::string_view host,
                               std::string_view target);

}  // namespace hoplite::policy
