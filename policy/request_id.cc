#include "policy/request_id.h"

#include <algorithm>

namespace hoplite::policy {

void RequestId::assign(std::string_view value) {
  size_ = std::min(value.size(), bytes_.size());
  std::copy_n(value.data(), size_, bytes_.data());
}

void RequestId::assignFresh(const std::array<uint8_t, 16>& random) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (size_t i = 0; i < random.size(); ++i) {
    bytes_[2 * i] = kHex[random[i] >> 4];
    bytes_[2 * i + 1] = kHex[random[i] & 0x0f];
  }
  size_ = 2 * random.size();
}

bool isAcceptableRequestId(std::string_view value) {
  if (value.empty() || value.size() > kMaxRequestIdBytes) return false;
  for (const char c : value) {
    if (c < 0x21 || c > 0x7e) return false;  // controls, space, DEL and non-ASCII
    if (c == '"' || c == ',' || c == ';' || c == '\\') return false;
  }
  return true;
}

std::optional<std::string_view> keptRequestId(const parser::HeaderList& headers,
                                              std::string_view fieldName, bool peerTrusted) {
  if (!peerTrusted) return std::nullopt;
  std::optional<std::string_view> found;
  for (const parser::HeaderField& field : headers) {
    if (!parser::equalsIgnoreCase(field.name, fieldName)) continue;
    if (found) return std::nullopt;  // two IDs: neither is the request's
    found = field.value;
  }
  if (found && !isAcceptableRequestId(*found)) return std::nullopt;
  return found;
}

}  // namespace hoplite::policy
