// Renders a received request as the JSON document the demo backend answers with, so a user (or a
// test) sees exactly what reached the backend: X-Forwarded-*, stripped hop-by-hop fields, and so
// on.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "parser/http_message.h"

namespace hoplite::demo {

struct ReceivedRequest {
  const parser::RequestHead* head = nullptr;
  uint64_t bodyLength = 0;
  std::string bodySha256;   // lower-case hex of the de-chunked body
  std::string peerAddress;  // e.g. "127.0.0.1"
  uint16_t peerPort = 0;
  uint64_t connectionId = 0;  // 1 for the first connection the backend accepted, and so on
  uint64_t requestIndex = 0;  // 1 for the first request on that connection
};

// The document, pretty-printed, ending in a newline:
//   {"method", "target", "version", "headers": [[name, value], ...] (arrival order, original case),
//    "body_length", "body_sha256", "peer": {"address", "port"}, "connection": {"id", "request"}}
std::string renderRequestJson(const ReceivedRequest& request);

// Appends `text` as a JSON string literal. Header bytes are not necessarily UTF-8, so every byte
// outside printable ASCII is written as \u00XX (read as Latin-1, as RFC 9110 §5.5 obs-text was):
// the output is always valid JSON.
void appendJsonString(std::string& out, std::string_view text);

}  // namespace hoplite::demo
