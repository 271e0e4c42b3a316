// Parsing of the Connection header field (RFC 9110 §7.6.1): a comma-separated list of tokens that
// may be spread over several fields, with optional whitespace and any letter case.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "parser/http_message.h"

namespace hoplite::policy {

// Every token of every Connection field, lower-cased, in order, empty list elements skipped.
std::vector<std::string> connectionTokens(const parser::HeaderList& headers);

// True when `token` (lower-case) is among the Connection tokens.
bool hasConnectionToken(const parser::HeaderList& headers, std::string_view token);

}  // namespace hoplite::policy
