// Proves the llhttp linked into hoplite is the strict build, and that the wrapper never loosens it.
#include <llhttp.h>

#include <catch2/catch.hpp>
#include <string>

#include "parser/message_parser.h"

namespace hoplite::parser {
namespace {

TEST_CASE("parser: the linked llhttp is the strict parser", "[parser]") {
  STATIC_REQUIRE(LLHTTP_STRICT_MODE == 1);
  // Loose llhttp accepts a lone CR ending the head and treats X as the next message; strict
  // llhttp refuses it (HPE_STRICT). This runs the very library hoplite links, without the wrapper.
  const std::string input = "GET / HTTP/1.1\r\nHost: a\r\n\rX";
  llhttp_settings_t settings;
  llhttp_settings_init(&settings);
  llhttp_t parser;
  llhttp_init(&parser, HTTP_REQUEST, &settings);
  CHECK(llhttp_execute(&parser, input.data(), input.size()) == HPE_STRICT);

  // Also strict-only: whitespace between a field name and its colon.
  const std::string spaced = "GET / HTTP/1.1\r\nHost : a\r\n\r\n";
  llhttp_init(&parser, HTTP_REQUEST, &settings);
  CHECK(llhttp_execute(&parser, spaced.data(), spaced.size()) == HPE_INVALID_HEADER_TOKEN);
}

TEST_CASE("parser: the wrapper refuses the loose-only vector too", "[parser]") {
  RequestParser parser;
  REQUIRE(parser.feed("GET / HTTP/1.1\r\nHost: a\r\n\rX").status == ParseStatus::Error);
  CHECK(parser.error().status == 400);
}

}  // namespace
}  // namespace hoplite::parser
