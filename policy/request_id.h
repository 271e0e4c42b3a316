// Request IDs: one per request, sent upstream and back to the client under one field name
// ("request_id", X-Request-Id by default), so that a user's report, the backend's log and
// hoplite's can be matched.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "parser/http_message.h"

namespace hoplite::policy {

// Whether an incoming ID may be kept: 1 to kMaxRequestIdBytes visible ASCII characters, none of
// them a quote, comma, semicolon or backslash, so that it stays one opaque token in logs and in
// list-valued fields (what nginx's $request_id and Envoy's x-request-id carry are of this kind).
constexpr size_t kMaxRequestIdBytes = 128;
bool isAcceptableRequestId(std::string_view value);

// One request's ID, held without an allocation per request.
class RequestId {
 public:
  // `value` must be at most kMaxRequestIdBytes long (isAcceptableRequestId, or a fresh ID).
  void assign(std::string_view value);
  // 128 random bits as 32 lower-case hex digits.
  void assignFresh(const std::array<uint8_t, 16>& random);
  void clear() { size_ = 0; }
  std::string_view view() const { return {bytes_.data(), size_}; }
  bool empty() const { return size_ == 0; }

 private:
  std::array<char, kMaxRequestIdBytes> bytes_;
  size_t size_ = 0;
};

// The incoming ID to keep, or nothing (the proxy then sets a fresh one): kept only from a peer
// inside trusted_proxies (`peerTrusted`), which sent exactly one `fieldName` field with an
// acceptable value. An untrusted peer's ID is replaced, so a client cannot make its requests
// look like someone else's in the backend's logs.
std::optional<std::string_view> keptRequestId(const parser::HeaderList& headers,
                                              std::string_view fieldName, bool peerTrusted);

}  // namespace hoplite::policy
