#include "policy/text.h"

namespace hoplite::policy {

std::string toLowerAscii(std::string_view text) {
  std::string lower(text);
  for (char& c : lower) c = toLowerAscii(c);
  return lower;
}

std::string_view trimOws(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

std::vector<std::string_view> splitCommaList(std::string_view value) {
  std::vector<std::string_view> elements;
  while (true) {
    const size_t comma = value.find(',');
    std::string_view element = trimOws(value.substr(0, comma));
    // RFC 9110 §5.6.1: a recipient accepts and ignores empty list elements ("a, , b").
    if (!element.empty()) elements.push_back(element);
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return elements;
}

bool endsWithIgnoreCase(std::string_view text, std::string_view suffix) {
  if (suffix.size() > text.size()) return false;
  text.remove_prefix(text.size() - suffix.size());
  for (size_t i = 0; i < suffix.size(); ++i) {
    if (toLowerAscii(text[i]) != toLowerAscii(suffix[i])) return false;
  }
  return true;
}

bool isSafeFieldValue(std::string_view value) {
  for (char c : value) {
    if (c == '\r' || c == '\n' || c == '\0') return false;
  }
  return true;
}

void appendFields(std::string& out, const parser::HeaderList& fields) {
  for (const parser::HeaderField& field : fields) {
    if (!parser::isToken(field.name) || !isSafeFieldValue(field.value)) continue;
    appendField(out, field.name, field.value);
  }
}

}  // namespace hoplite::policy
