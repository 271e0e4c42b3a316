// The ASCII helpers the policy rules share.
#include "policy/text.h"

#include <catch2/catch.hpp>
#include <string>

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

}  // namespace
}  // namespace hoplite::policy
