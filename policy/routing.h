// Route selection: the first route whose host pattern and path prefix match.
#pragma once

#include <string_view>
#include <vector>

#include "conf/config.h"

namespace hoplite::policy {

// `host` is the request's effective host, possibly with ":port" (stripped here) and any case;
// IPv6 literals come bracketed ("[::1]:8080"). `target` is the origin-form request target; its
// query string does not take part in prefix matching. Returns nullptr when nothing matches.
const conf::Route* selectRoute(const std::vector<conf::Route>& routes, std::string_view host,
                               std::string_view target);

}  // namespace hoplite::policy
