// The ASCII helpers the policy rules share.
#include "policy/text.h"

#include <catch2/catch.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace hoplite::policy {
namespace {

// isSafeFieldValue checks eight bytes at a time: CR, LF and NUL must be found at every position
// of a word and in the tail, and every other byte (HTAB, other controls, obs-text) let through.
TEST_CASE("policy: isSafeFieldValue refuses CR, LF and NUL wherever they are", "[policy][text]") {
  auto [probe, safe] = GENERATE(table<unsigned char, bool>({
      {'\r', false},
      {'\n', false},
      {0x00, false},
      {'\t', true},
      {0x01, true},
      {0x0b, true},
      {0x0e, true},
      {0x1f, true},
      {' ', true},
      {0x7f, true},
      {0x80, true},
      {0xff, true},
  }));
  const size_t length = GENERATE(as<size_t>{}, 1, 7, 8, 9, 16, 23);
  for (size_t at = 0; at < length; ++at) {
    std::string value(length, 'v');
    value[at] = static_cast<char>(probe);
    CAPTURE(static_cast<int>(probe), length, at);
    CHECK(isSafeFieldValue(value) == safe);
  }
  CHECK(isSafeFieldValue(""));
}

TEST_CASE("policy: appendField writes one CRLF-terminated field line", "[policy][text]") {
  std::string out = "X";
  appendField(out, "Name", "value");
  appendField(out, "Empty", "");
  CHECK(out == "XName: value\r\nEmpty: \r\n");
}

// RFC 9110 §5.6.1: elements are trimmed of OWS, empty ones are skipped, case and inner spaces
// are kept. "|" separates the expected elements.
TEST_CASE("policy: comma lists are walked element by element", "[policy][text]") {
  auto [value, expected] = GENERATE(table<std::string, std::string>({
      {"", ""},
      {"a", "a"},
      {"a,b", "a|b"},
      {" a , b ", "a|b"},
      {"a, , b", "a|b"},
      {",,a,,", "a"},
      {"\tUpgrade,\tKeep-Alive", "Upgrade|Keep-Alive"},
      {"websocket/13, h2c", "websocket/13|h2c"},
      {"a b, c", "a b|c"},
      {" , ,", ""},
  }));
  CAPTURE(value);
  std::string walked;
  forEachListElement(value, [&](std::string_view element) {
    if (!walked.empty()) walked.append("|");
    walked.append(element);
  });
  CHECK(walked == expected);
  std::string split;
  for (std::string_view element : splitCommaList(value)) {
    if (!split.empty()) split.append("|");
    split.append(element);
  }
  CHECK(split == expected);
}

TEST_CASE("policy: findListElement stops at the first element it is looking for",
          "[policy][text]") {
  std::vector<std::string_view> seen;
  const bool found = findListElement("a, upgrade, b", [&](std::string_view element) {
    seen.push_back(element);
    return element == "upgrade";
  });
  CHECK(found);
  CHECK(seen == std::vector<std::string_view>{"a", "upgrade"});
  seen.clear();
  CHECK_FALSE(findListElement("a, , b", [&](std::string_view element) {
    seen.push_back(element);
    return false;
  }));
  CHECK(seen == std::vector<std::string_view>{"a", "b"});
}

}  // namespace
}  // namespace hoplite::policy
