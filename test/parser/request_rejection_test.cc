// Every request the parser must refuse, one row each, with the status the client gets.
#include <catch2/catch.hpp>

#include "parser/message_parser.h"
#include "transcript.h"

namespace hoplite::parser {
namespace {

using testing::allSplits;
using testing::requestTranscript;

// Feeds `input` whole and expects an Error with `status` (before or after a HeadComplete).
void expectRejected(const std::string& input, int status) {
  const std::string log = requestTranscript({input});
  REQUIRE(log.size() >= 9);
  REQUIRE(log.substr(log.size() - 9) == "error " + std::to_string(status));
  // Any split gives the same verdict.
  for (const std::vector<std::string>& chunks : allSplits(input)) {
    REQUIRE(requestTranscript(chunks) == log);
  }
}

TEST_CASE("parser: line endings other than CRLF are refused", "[parser]") {
  auto [why, input, status] = GENERATE(table<const char*, std::string, int>({
      {"bare LF ending a field line", "GET / HTTP/1.1\r\nHost: a\nX: y\r\n\r\n", 400},
      {"bare LF ending the request line", "GET / HTTP/1.1\nHost: a\r\n\r\n", 400},
      {"bare CR inside a value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400},
      {"bare CR ending the head (loose llhttp accepts)", "GET / HTTP/1.1\r\nHost: a\r\n\rX", 400},
      {"LF-only head", "GET / HTTP/1.1\nHost: a\n\n", 400},
  }));
  CAPTURE(why, input);
  expectRejected(input, status);
}

TEST_CASE("parser: a byte that cannot be part of a method is refused at once", "[parser]") {
  // No line end follows: the verdict must not wait for one (a peer sending WebSocket frames
  // behind a refused upgrade would otherwise hold the connection until client_header expires).
  auto [why, input] = GENERATE(table<const char*, std::string>({
      {"a masked WebSocket text frame", std::string("\x81\x85\x37\xfa\x21\x3d\x7f\x9f", 8)},
      {"a WebSocket close frame", std::string("\x88\x80\x00\x00\x00\x00", 6)},
      {"a TLS ClientHello", std::string("\x16\x03\x01\x02\x00\x01", 6)},
      {"a JSON body", "{\"a\":1}"},
      {"a control character inside the method", std::string("GE\x01T", 4)},
      {"a slash before any space", "GET/"},
  }));
  CAPTURE(why, input);
  expectRejected(input, 400);
}

TEST_CASE("parser: malformed field lines are refused", "[parser]") {
  auto [why, input, status] = GENERATE(table<const char*, std::string, int>({
      {"obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n  b\r\n\r\n", 400},
      {"obs-fold with HTAB", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n\tb\r\n\r\n", 400},
      {"whitespace before the first field", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400},
      {"space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400},
      {"tab before colon", "GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", 400},
      {"space inside a name", "GET / HTTP/1.1\r\nHost: a\r\nX Y: z\r\n\r\n", 400},
      {"empty field name", "GET / HTTP/1.1\r\nHost: a\r\n: z\r\n\r\n", 400},
      {"field line without colon", "GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", 400},
      {"non-token name char", "GET / HTTP/1.1\r\nHost: a\r\nX(y): z\r\n\r\n", 400},
      {"NUL in a value", std::string("GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n", 36), 400},
      {"control char in a value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x01z\r\n\r\n", 400},
      {"DEL in a value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x7fz\r\n\r\n", 400},
  }));
  CAPTURE(why, input);
  expectRejected(input, status);
}

TEST_CASE("parser: malformed request lines are refused with 400, 501, 505 or 405", "[parser]") {
  auto [why, input, status] = GENERATE(table<const char*, std::string, int>({
      {"HTTP/0.9 request", "GET /\r\n\r\n", 400},
      {"textual HTTP/0.9 version", "GET / HTTP/0.9\r\n\r\n", 400},
      {"HTTP/2.0 textual version", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505},
      {"HTTP/1.2", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505},
      {"HTTP/3.0", "GET / HTTP/3.0\r\nHost: a\r\n\r\n", 505},
      {"h2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505},
      {"lower-case version", "GET / http/1.1\r\nHost: a\r\n\r\n", 400},
      {"garbage version", "GET / HTTP/1.x\r\nHost: a\r\n\r\n", 400},
      {"two spaces after method", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"trailing space after version", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400},
      {"space inside target", "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"fragment in target", "GET /a#frag HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"control char in target", "GET /a\x01 HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"non-ASCII in target", "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"tab as separator", "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"method with a slash", "GE/T / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"unknown method", "FROB / HTTP/1.1\r\nHost: a\r\n\r\n", 501},
      {"lower-case method", "get / HTTP/1.1\r\nHost: a\r\n\r\n", 501},
      {"CONNECT", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 405},
      {"asterisk for GET", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"authority-form for GET", "GET example.com:80 HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"relative target", "GET index.html HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"userinfo in absolute-form", "GET http://user:pw@example.com/ HTTP/1.1\r\nHost: a\r\n\r\n",
       400},
      {"empty authority", "GET http:///p HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"ftp scheme", "GET ftp://example.com/ HTTP/1.1\r\nHost: a\r\n\r\n", 400},
  }));
  CAPTURE(why, input);
  expectRejected(input, status);
}

TEST_CASE("parser: missing, repeated or malformed Host is 400", "[parser]") {
  auto [why, input, status] = GENERATE(table<const char*, std::string, int>({
      {"missing Host in HTTP/1.1", "GET / HTTP/1.1\r\nX: y\r\n\r\n", 400},
      {"missing Host with absolute-form", "GET http://a/ HTTP/1.1\r\n\r\n", 400},
      {"two Host fields", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
      {"two identical Host fields", "GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n", 400},
      {"two Host fields in HTTP/1.0", "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", 400},
      {"Host with a path", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400},
      {"Host with userinfo", "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", 400},
      {"Host with a bad port", "GET / HTTP/1.1\r\nHost: a:8x\r\n\r\n", 400},
  }));
  CAPTURE(why, input);
  expectRejected(input, status);
}

TEST_CASE("parser: ambiguous framing is refused", "[parser]") {
  auto [why, input, status] = GENERATE(table<const char*, std::string, int>({
      {"Content-Length with a sign",
       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\nhello", 400},
      {"negative Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400},
      {"hex Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\n", 400},
      {"Content-Length list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\nhello",
       400},
      {"Content-Length with inner space",
       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2\r\n\r\n", 400},
      {"empty Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", 400},
      {"differing Content-Lengths",
       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 400},
      {"repeated equal Content-Lengths",
       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello", 400},
      {"Content-Length overflow",
       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n", 400},
      {"Content-Length and Transfer-Encoding",
       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
       "3\r\nabc\r\n0\r\n\r\n",
       400},
      {"Transfer-Encoding then Content-Length",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
       400},
      {"chunked not final",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400},
      {"chunked twice",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
       "chunked\r\n\r\n",
       400},
      {"gzip only", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 400},
      {"identity only", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n", 400},
      {"gzip then chunked",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
      {"gzip field then chunked field",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: "
       "chunked\r\n\r\n",
       501},
      {"Transfer-Encoding in HTTP/1.0",
       "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
      {"chunked with a suffix", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunkedx\r\n\r\n",
       400},
  }));
  CAPTURE(why, input);
  expectRejected(input, status);
}

TEST_CASE("parser: malformed chunked bodies and trailers are refused", "[parser]") {
  auto [why, input, status] = GENERATE(table<const char*, std::string, int>({
      {"bad chunk size",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
       400},
      {"chunk size with a sign",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n+3\r\nabc\r\n0\r\n\r\n",
       400},
      {"chunk data too long",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n0\r\n\r\n",
       400},
      {"chunk size overflow",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n",
       400},
      {"bare LF after chunk size",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n", 400},
      {"control char in a trailer",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: a\x01\r\n\r\n",
       400},
      {"obs-fold in a trailer",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: a\r\n b\r\n\r\n",
       400},
  }));
  CAPTURE(why, input);
  expectRejected(input, status);
}

TEST_CASE("parser: nothing is parsed after a non-persistent request", "[parser]") {
  auto [why, input, status] = GENERATE(table<const char*, std::string, int>({
      {"request after Connection: close",
       "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
       400},
      {"request after an HTTP/1.0 request", "GET / HTTP/1.0\r\n\r\nGET / HTTP/1.0\r\n\r\n", 400},
  }));
  CAPTURE(why, input);
  expectRejected(input, status);
}

TEST_CASE("parser: rejections carry a short reason", "[parser]") {
  auto [input, reason] = GENERATE(table<std::string, std::string>({
      {"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", "obsolete line folding"},
      {"GET / HTTP/1.1\r\nX: y\r\n\r\n", "missing Host field"},
      {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "multiple Host fields"},
      {"GET / HTTP/2.0\r\n\r\n", "HTTP version not supported"},
      {"CONNECT a:1 HTTP/1.1\r\nHost: a:1\r\n\r\n", "CONNECT is not supported"},
      {"GET / HTTP/1.1\r\nHost : a\r\n\r\n", "whitespace before colon"},
  }));
  CAPTURE(input);
  RequestParser parser;
  REQUIRE(parser.feed(input).status == ParseStatus::Error);
  CHECK(parser.error().reason == reason);
}

TEST_CASE("parser: chunk extensions are bounded per message", "[parser]") {
  ParserLimits limits;
  limits.maxChunkExtensionBytes = 16;
  const std::string head = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
  testing::TranscriptOptions options;
  options.limits = limits;
  // 8 + 8 bytes of extension names and values: exactly at the limit.
  for (const auto& chunks : allSplits(head + "1;abcd=efgh\r\nx\r\n1;ijkl=mnop\r\ny\r\n0\r\n\r\n")) {
    REQUIRE(requestTranscript(chunks, options) ==
            "head POST / host=a chunked | body xy | complete");
  }
  for (const auto& chunks :
       allSplits(head + "1;abcd=efgh\r\nx\r\n1;ijkl=mnopq\r\ny\r\n0\r\n\r\n")) {
    REQUIRE(requestTranscript(chunks, options) ==
            "head POST / host=a chunked | body x | error 400");
  }
}

}  // namespace
}  // namespace hoplite::parser
