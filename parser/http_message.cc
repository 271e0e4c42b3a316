#include "parser/http_message.h"

namespace hoplite::parser {

namespace {
char toLowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
}  // namespace

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (toLowerAscii(a[i]) != toLowerAscii(b[i])) return false;
  }
  return true;
}

const std::string* findHeader(const HeaderList& headers, std::string_view name) {
  for (const HeaderField& field : headers) {
    if (equalsIgnoreCase(field.name, name)) return &field.value;
  }
  return nullptr;
}

}  // namespace hoplite::parser
