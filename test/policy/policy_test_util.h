// Helpers for the policy tables: heads are written as readable text in the rows.
#pragma once

#include <string>
#include <string_view>

#include "parser/http_message.h"

namespace hoplite::policy::test {

// "Name: value\nOther: value" → fields in that order. A line without ": " is a name with an
// empty value ("Name:"). An empty string is no fields.
inline parser::HeaderList fields(std::string_view text) {
  parser::HeaderList list;
  while (!text.empty()) {
    const size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    const size_t colon = line.find(':');
    std::string_view value = colon == std::string_view::npos ? "" : line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    list.push_back({std::string(line.substr(0, colon)), std::string(value)});
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return list;
}

// The inverse, for comparing field lists as text: "Name: value\n..." without a final newline.
inline std::string text(const parser::HeaderList& list) {
  std::string out;
  for (const parser::HeaderField& field : list) {
    if (!out.empty()) out.push_back('\n');
    out += field.name + ": " + field.value;
  }
  return out;
}

// A framing as a short word, for table rows.
inline const char* framingName(parser::Framing framing) {
  switch (framing) {
    case parser::Framing::None:
      return "none";
    case parser::Framing::Length:
      return "length";
    case parser::Framing::Chunked:
      return "chunked";
    case parser::Framing::UntilClose:
      return "close";
  }
  return "?";
}

// A head written with "\n" line ends → the same with CRLF, which is what the wire carries.
inline std::string crlf(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\n') out.push_back('\r');
    out.push_back(c);
  }
  return out;
}

}  // namespace hoplite::policy::test
