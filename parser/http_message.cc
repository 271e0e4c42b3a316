#include "parser/http_message.h"

namespace hoplite::parser {

const std::string* findHeader(const HeaderList& headers, std::string_view name) {
  for (const HeaderField& field : headers) {
    if (equalsIgnoreCase(field.name, name)) return &field.value;
  }
  return nullptr;
}

const std::string* findHeader(const HeaderList& headers, HeaderId id) {
  for (const HeaderField& field : headers) {
    if (field.id == id) return &field.value;
  }
  return nullptr;
}

}  // namespace hoplite::parser
