// Removal of hop-by-hop header fields (RFC 9110 §7.6.1), in both directions.
#pragma once

#include "parser/http_message.h"

namespace hoplite::policy {

// Returns `headers` without: Connection, every field named by a Connection token, Keep-Alive,
// Proxy-Connection, TE, Trailer, Transfer-Encoding, Upgrade, HTTP2-Settings, and Content-Length
// (the proxy re-frames every body and writes its own framing fields). A Connection token can never
// remove Host or a field the proxy adds afterwards, since those are written after stripping.
// The order of the remaining fields is kept.
parser::HeaderList stripHopByHop(const parser::HeaderList& headers);

// True for a field name that is hop-by-hop by itself (the fixed list above, case-insensitive).
bool isHopByHopName(std::string_view name);

}  // namespace hoplite::policy
