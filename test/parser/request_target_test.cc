#include "parser/request_target.h"

#include <catch2/catch.hpp>

#include "parser/head_validator.h"

namespace hoplite::parser {
namespace {

TEST_CASE("parser: request targets normalise to origin-form", "[parser]") {
  auto [method, raw, target, authority] =
      GENERATE(table<std::string, std::string, std::string, std::string>({
          {"GET", "/", "/", ""},
          {"GET", "/a/b?c=d", "/a/b?c=d", ""},
          {"OPTIONS", "*", "*", ""},
          {"GET", "http://h", "/", "h"},
          {"GET", "http://h:81/x", "/x", "h:81"},
          {"GET", "HTTPS://H.example/?q", "/?q", "H.example"},
          {"GET", "http://h?q", "/?q", "h"},
          {"GET", "http://[2001:db8::1]:8080/p", "/p", "[2001:db8::1]:8080"},
      }));
  CAPTURE(method, raw);
  NormalisedTarget out;
  REQUIRE_FALSE(normaliseTarget(method, raw, out).has_value());
  CHECK(out.target == target);
  CHECK(out.authority == authority);
  CHECK(out.absoluteForm == !authority.empty());
}

TEST_CASE("parser: bad request targets are 400", "[parser]") {
  auto [method, raw] = GENERATE(table<std::string, std::string>({
      {"GET", "*"},
      {"GET", "a/b"},
      {"GET", "http://"},
      {"GET", "http://u@h/"},
      {"GET", "http://h:port/"},
      {"GET", "mailto://x"},
      {"GET", "://h/"},
      {"GET", "http://h:/"},
  }));
  CAPTURE(method, raw);
  NormalisedTarget out;
  const auto err = normaliseTarget(method, raw, out);
  REQUIRE(err.has_value());
  CHECK(err->status == 400);
}

TEST_CASE("parser: Host values", "[parser]") {
  auto [host, ok] = GENERATE(table<std::string, bool>({
      {"", true},
      {"example.com", true},
      {"example.com:8080", true},
      {"127.0.0.1:1", true},
      {"[::1]", true},
      {"[::1]:443", true},
      {"a b", false},
      {"a/b", false},
      {"u@h", false},
      {"h:", false},
      {"h:123456", false},
      {"[::1", false},
      {"[::1]x", false},
      {":80", false},
  }));
  CAPTURE(host);
  CHECK(isValidHostValue(host) == ok);
}

TEST_CASE("parser: token and field-value character classes", "[parser]") {
  CHECK(isToken("Content-Type"));
  CHECK(isToken("!#$%&'*+-.^_`|~09azAZ"));
  CHECK_FALSE(isToken(""));
  CHECK_FALSE(isToken("a b"));
  CHECK_FALSE(isToken("a:b"));
  CHECK_FALSE(isToken("a\"b"));
  CHECK(isFieldValueChar('\t'));
  CHECK(isFieldValueChar(' '));
  CHECK(isFieldValueChar(0x80));
  CHECK_FALSE(isFieldValueChar(0x7f));
  CHECK_FALSE(isFieldValueChar('\r'));
  CHECK_FALSE(isFieldValueChar('\0'));
}

// isFieldValue checks eight bytes at a time: every byte value must be judged the same at every
// position of a word, and in the tail after the last whole word.
TEST_CASE("parser: isFieldValue agrees with isFieldValueChar at every position", "[parser]") {
  const unsigned char probe = GENERATE(as<unsigned char>{}, 0x00, 0x01, '\t', '\n', '\r', 0x1f, ' ',
                                       'a', '~', 0x7f, 0x80, 0xc3, 0xff);
  const size_t length = GENERATE(as<size_t>{}, 1, 7, 8, 9, 16, 23);
  for (size_t at = 0; at < length; ++at) {
    std::string value(length, 'v');
    value[at] = static_cast<char>(probe);
    CAPTURE(static_cast<int>(probe), length, at);
    CHECK(isFieldValue(value) == isFieldValueChar(probe));
  }
  CHECK(isFieldValue(""));
  CHECK(isFieldValue("text/html; charset=\xe9t\xe9\tq=0.9"));
}

}  // namespace
}  // namespace hoplite::parser
