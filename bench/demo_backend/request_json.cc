#include "bench/demo_backend/request_json.h"

#include <cstdio>

namespace hoplite::demo {

void appendJsonString(std::string& out, std::string_view text) {
  out.push_back('"');
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (byte >= 0x20 && byte < 0x7F) {
      out.push_back(c);
    } else {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(byte));
      out.append(escaped);
    }
  }
  out.push_back('"');
}

std::string renderRequestJson(const ReceivedRequest& request) {
  const parser::RequestHead& head = *request.head;
  std::string out = "{\n  \"method\": ";
  appendJsonString(out, head.method);
  out.append(",\n  \"target\": ");
  appendJsonString(out, head.target);
  out.append(",\n  \"version\": \"HTTP/");
  out.append(std::to_string(head.versionMajor))
      .append(".")
      .append(std::to_string(head.versionMinor));
  out.append("\",\n  \"headers\": [");
  bool first = true;
  for (const parser::HeaderField& field : head.headers) {
    out.append(first ? "\n    [" : ",\n    [");
    first = false;
    appendJsonString(out, field.name);
    out.append(", ");
    appendJsonString(out, field.value);
    out.push_back(']');
  }
  out.append(first ? "],\n" : "\n  ],\n");
  out.append("  \"body_length\": ").append(std::to_string(request.bodyLength));
  out.append(",\n  \"body_sha256\": ");
  appendJsonString(out, request.bodySha256);
  out.append(",\n  \"peer\": {\"address\": ");
  appendJsonString(out, request.peerAddress);
  out.append(", \"port\": ").append(std::to_string(request.peerPort));
  out.append("},\n  \"connection\": {\"id\": ").append(std::to_string(request.connectionId));
  out.append(", \"request\": ").append(std::to_string(request.requestIndex));
  out.append("}\n}\n");
  return out;
}

}  // namespace hoplite::demo
