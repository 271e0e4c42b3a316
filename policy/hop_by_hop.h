// Removal of hop-by-hop header fields (RFC 9110 §7.6.1), in both directions.
#pragma once

#include <array>
#include <string_view>
#include <vector>

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
// The same test on a field's id.
bool isHopByHopId(parser::HeaderId id);

// The rule of stripHopByHop as a filter, so that a serialiser can write the kept fields straight
// into its output instead of copying the list first: keeps(field) is true exactly for the fields
// stripHopByHop(headers) returns. It holds views into the Connection values of `headers`, which
// must outlive it and stay unchanged.
class HopByHopFilter {
 public:
  explicit HopByHopFilter(const parser::HeaderList& headers);
  HopByHopFilter(const HopByHopFilter&) = delete;
  HopByHopFilter& operator=(const HopByHopFilter&) = delete;

  bool keeps(const parser::HeaderField& field) const {
    if (isHopByHopId(field.id)) return false;
    return count_ == 0 || !isNamed(field);
  }

 private:
  bool isNamed(const parser::HeaderField& field) const;

  // Connection tokens that can remove something: a token naming a field that is hop-by-hop anyway,
  // or Host (protected), is left out, so the usual "Connection: upgrade" or "keep-alive" costs
  // nothing per field. The first few live here; a long list spills into overflow_.
  static constexpr size_t kInlineTokens = 8;
  std::array<std::string_view, kInlineTokens> tokens_{};
  size_t count_ = 0;
  std::vector<std::string_view> overflow_;
};

}  // namespace hoplite::policy
