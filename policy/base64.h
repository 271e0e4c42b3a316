// Base64 (RFC 4648 §4, standard alphabet, with padding), as RFC 6455 uses it for
// Sec-WebSocket-Key and Sec-WebSocket-Accept.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace hoplite::policy {

std::string base64Encode(std::string_view bytes);

// Strict decoding: the length is a multiple of 4, only the standard alphabet, '=' only as the
// final one or two characters, and the unused bits of the last symbol are zero (RFC 4648 §3.5 lets
// a decoder reject non-canonical input). Anything else is std::nullopt.
std::optional<std::string> base64Decode(std::string_view text);

}  // namespace hoplite::policy
