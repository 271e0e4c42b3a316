// Golden transcripts for RequestParser: input bytes -> event log, identical for every split.
#include <catch2/catch.hpp>

#include "parser/message_parser.h"
#include "transcript.h"

namespace hoplite::parser {
namespace {

using testing::allSplits;
using testing::requestTranscript;
using testing::TranscriptOptions;

// Replays `input` whole, split at every offset and byte by byte; every run must log `expected`.
void checkEverySplit(const std::string& input, const std::string& expected,
                     const TranscriptOptions& options = {}) {
  for (const std::vector<std::string>& chunks : allSplits(input)) {
    CAPTURE(chunks.size(), chunks.front().size());
    REQUIRE(requestTranscript(chunks, options) == expected);
  }
}

TEST_CASE("parser: request transcripts are the same for every split", "[parser]") {
  auto [name, input, expected] = GENERATE(table<const char*, std::string, std::string>({
      {"simple GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", "head GET / host=a | complete"},
      {"query kept", "GET /p?q=1&r HTTP/1.1\r\nHost: a:8080\r\n\r\n",
       "head GET /p?q=1&r host=a:8080 | complete"},
      {"content-length body", "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
       "head POST /x host=a len=5 | body hello | complete"},
      {"content-length zero", "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
       "head POST /x host=a len=0 | complete"},
      {"chunked body de-chunked",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
       "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
       "head POST / host=a chunked | body hello world | complete"},
      {"chunked with upper-case hex and extension",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n"
       "A;name=value\r\n0123456789\r\n0\r\n\r\n",
       "head POST / host=a chunked | body 0123456789 | complete"},
      {"chunked with trailers kept apart",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
       "3\r\nabc\r\n0\r\nX-Checksum: 42\r\nX-Other:  b \r\n\r\n",
       "head POST / host=a chunked | body abc | complete trailers X-Checksum:42 X-Other:b"},
      {"leading empty lines skipped", "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
       "head GET / host=a | complete"},
      {"HTTP/1.0 closes by default", "GET / HTTP/1.0\r\n\r\n",
       "head GET / host= 1.0 close | complete"},
      {"HTTP/1.0 keep-alive", "GET / HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\n\r\n",
       "head GET / host=a 1.0 | complete"},
      {"HTTP/1.0 keep-alive then close wins",
       "GET / HTTP/1.0\r\nHost: a\r\nConnection: keep-alive, close\r\n\r\n",
       "head GET / host=a 1.0 close | complete"},
      {"HTTP/1.1 Connection: close", "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
       "head GET / host=a close | complete"},
      {"absolute-form rewritten",
       "GET http://example.com:8080/p/q?x=1 HTTP/1.1\r\nHost: other\r\n\r\n",
       "head GET /p/q?x=1 host=example.com:8080 | complete"},
      {"absolute-form without path", "GET http://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n",
       "head GET / host=example.com | complete"},
      {"absolute-form query only", "GET HTTP://Example.com?x HTTP/1.1\r\nHost: x\r\n\r\n",
       "head GET /?x host=Example.com | complete"},
      {"absolute-form https", "GET https://[::1]:8443/ HTTP/1.1\r\nHost: x\r\n\r\n",
       "head GET / host=[::1]:8443 | complete"},
      {"OPTIONS asterisk", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
       "head OPTIONS * host=a | complete"},
      {"expect 100-continue",
       "PUT /f HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 2\r\n\r\nok",
       "head PUT /f host=a len=2 continue | body ok | complete"},
      {"pipelined three requests",
       "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nPOST /2 HTTP/1.1\r\nHost: b\r\nContent-Length: "
       "3\r\n\r\nxyz"
       "GET /3 HTTP/1.1\r\nHost: c\r\n\r\n",
       "head GET /1 host=a | complete | head POST /2 host=b len=3 | body xyz | complete | "
       "head GET /3 host=c | complete"},
      {"pipelined after chunked",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nz\r\n0\r\n\r\n"
       "GET /n HTTP/1.1\r\nHost: a\r\n\r\n",
       "head POST / host=a chunked | body z | complete | head GET /n host=a | complete"},
      {"CRLF between pipelined requests",
       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nz\r\nGET /n HTTP/1.1\r\nHost: "
       "a\r\n\r\n",
       "head POST / host=a len=1 | body z | complete | head GET /n host=a | complete"},
      {"websocket upgrade pauses",
       "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
       "head GET /ws host=a upgrade | complete paused"},
      {"upgrade then more HTTP",
       "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: h2c\r\n\r\n"
       "GET /next HTTP/1.1\r\nHost: a\r\n\r\n",
       "head GET /ws host=a upgrade | complete paused | head GET /next host=a | complete"},
      {"HTTP/1.0 upgrade is signalled",
       "GET /ws HTTP/1.0\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
       "head GET /ws host=a 1.0 close upgrade | complete paused"},
      {"Proxy-Connection upgrade is signalled",
       "GET / HTTP/1.1\r\nHost: a\r\nProxy-Connection: upgrade\r\nUpgrade: x\r\n\r\n",
       "head GET / host=a upgrade | complete paused"},
      {"upgrade with a body pauses after the body",
       "POST /u HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: x\r\nContent-Length: "
       "2\r\n\r\nhi",
       "head POST /u host=a len=2 upgrade | body hi | complete paused"},
      {"Upgrade without Connection is no signal",
       "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n", "head GET / host=a | complete"},
      {"obs-text allowed in values", "GET / HTTP/1.1\r\nHost: a\r\nX: caf\xc3\xa9\r\n\r\n",
       "head GET / host=a | complete"},
      {"empty header value", "GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\n\r\n",
       "head GET / host=a | complete"},
      {"expect ignored in HTTP/1.0",
       "PUT /f HTTP/1.0\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n",
       "head PUT /f host=a 1.0 len=0 close | complete"},
      {"unknown but registered method", "PROPFIND /d HTTP/1.1\r\nHost: a\r\n\r\n",
       "head PROPFIND /d host=a | complete"},
  }));
  CAPTURE(name);
  checkEverySplit(input, expected);
}

TEST_CASE("parser: request heads keep field order, name case, and trim values", "[parser]") {
  RequestParser parser;
  const std::string input =
      "GET / HTTP/1.1\r\nHost:  a.example \r\nX-MiXeD:\tv1 \t\r\nx-mixed: v2\r\nEmpty:\r\n\r\n";
  const FeedResult r = parser.feed(input);
  REQUIRE(r.status == ParseStatus::HeadComplete);
  REQUIRE(r.consumed == input.size());
  const HeaderList expected{
      {"Host", "a.example"}, {"X-MiXeD", "v1"}, {"x-mixed", "v2"}, {"Empty", ""}};
  CHECK(parser.head().headers == expected);
  CHECK(parser.head().host == "a.example");
  CHECK(parser.head().versionMajor == 1);
  CHECK(parser.head().versionMinor == 1);
  REQUIRE(parser.feed({}).status == ParseStatus::MessageComplete);
}

TEST_CASE("parser: feed returns at each event with consumed ending at its boundary", "[parser]") {
  RequestParser parser;
  std::string body;
  parser.setBodyHandler([&body](std::string_view s) { body.append(s); });
  const std::string first = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n";
  const std::string second = "GET /2 HTTP/1.1\r\nHost: a\r\n\r\n";
  std::string input = first + "abc" + second;
  REQUIRE(parser.betweenMessages());

  FeedResult r = parser.feed(input);
  REQUIRE(r.status == ParseStatus::HeadComplete);
  REQUIRE(r.consumed == first.size());
  REQUIRE(body.empty());
  REQUIRE_FALSE(parser.betweenMessages());
  input.erase(0, r.consumed);

  r = parser.feed(input);
  REQUIRE(r.status == ParseStatus::MessageComplete);
  REQUIRE(r.consumed == 3);
  REQUIRE(body == "abc");
  REQUIRE(parser.betweenMessages());
  input.erase(0, r.consumed);

  r = parser.feed(input);
  REQUIRE(r.status == ParseStatus::HeadComplete);
  REQUIRE(parser.head().target == "/2");
  r = parser.feed({});
  REQUIRE(r.status == ParseStatus::MessageComplete);
  REQUIRE(r.consumed == 0);
  r = parser.feed({});
  REQUIRE(r.status == ParseStatus::NeedMore);
  REQUIRE(parser.finish().status == ParseStatus::NeedMore);
}

TEST_CASE("parser: upgrade pause leaves the following bytes unconsumed", "[parser]") {
  const std::string head =
      "GET /chat HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\nUpgrade: "
      "websocket\r\n\r\n";
  SECTION("transcript, every split") {
    TranscriptOptions options;
    options.stopAtUpgrade = true;
    checkEverySplit(head + "\x81\x05hello",
                    "head GET /chat host=a upgrade | complete paused | rest \x81\x05hello",
                    options);
  }
  SECTION("exact positions") {
    RequestParser parser;
    const std::string input = head + "FRAME";
    FeedResult r = parser.feed(input);
    REQUIRE(r.status == ParseStatus::HeadComplete);
    REQUIRE(r.consumed == head.size());
    REQUIRE(parser.head().upgradeSignalled);
    r = parser.feed("FRAME");
    REQUIRE(r.status == ParseStatus::MessageComplete);
    REQUIRE(r.consumed == 0);
    REQUIRE(parser.upgradePaused());
    REQUIRE(parser.betweenMessages());
    // The proxy declined the upgrade: the held bytes are parsed as HTTP and refused.
    r = parser.feed("FRAME\r\n");
    REQUIRE(r.status == ParseStatus::Error);
    REQUIRE_FALSE(parser.upgradePaused());
  }
}

TEST_CASE("parser: finish inside a message is a truncation error", "[parser]") {
  auto [input, expected] = GENERATE(table<std::string, std::string>({
      {"", "eof"},
      {"\r\n", "eof"},
      {"GET / HTTP/1.1\r\nHost: a\r\n\r\n", "head GET / host=a | complete | eof"},
      {"GET / HTTP/1.1\r\nHost: a\r\n", "error 400"},
      {"G", "error 400"},
      {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nabc",
       "head POST / host=a len=5 | body abc | error 400"},
      {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n",
       "head POST / host=a chunked | body abc | error 400"},
  }));
  CAPTURE(input);
  TranscriptOptions options;
  options.finishAtEnd = true;
  for (const std::vector<std::string>& chunks : allSplits(input)) {
    REQUIRE(requestTranscript(chunks, options) == expected);
  }
}

TEST_CASE("parser: body limit: exactly at the limit passes, one byte more is 413", "[parser]") {
  TranscriptOptions options;
  options.limits.maxBodyBytes = 5;
  checkEverySplit("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
                  "head POST / host=a len=5 | body hello | complete", options);
  checkEverySplit("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\n\r\nhello!", "error 413",
                  options);
  checkEverySplit(
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: "
      "chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
      "head POST / host=a chunked | body abcde | complete", options);
  checkEverySplit(
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: "
      "chunked\r\n\r\n3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n",
      "head POST / host=a chunked | body abcde | error 413", options);
}

TEST_CASE("parser: header limits are inclusive", "[parser]") {
  const std::string head = "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n\r\n";
  TranscriptOptions options;
  options.limits.maxHeaderBytes = head.size();
  options.limits.maxHeaderCount = 2;
  checkEverySplit(head, "head GET / host=a | complete", options);
  options.limits.maxHeaderBytes = head.size() - 1;
  checkEverySplit(head, "error 431", options);
  options.limits.maxHeaderBytes = 16384;
  options.limits.maxHeaderCount = 1;
  checkEverySplit(head, "error 431", options);
}

TEST_CASE("parser: 431 is reported at the first byte over the limit, whatever the split",
          "[parser]") {
  // Empty lines before the request line are not part of the head and do not count.
  auto [why, input, limit, errorAt] = GENERATE(table<const char*, std::string, uint64_t, size_t>({
      {"inside a field value", "GET / HTTP/1.1\r\nHost: a\r\nX: 12345678\r\n\r\n", 30, 30},
      {"on the CR of a line end", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 23, 23},
      {"on the LF of a line end", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 24, 24},
      {"on the final LF", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 26, 26},
      {"after skipped empty lines", "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n\r\n", 24, 28},
  }));
  CAPTURE(why, input, limit);
  ParserLimits limits;
  limits.maxHeaderBytes = limit;
  for (const std::vector<std::string>& chunks : allSplits(input)) {
    CAPTURE(chunks.size(), chunks.front().size());
    RequestParser parser(limits);
    size_t offset = 0;
    FeedResult r;
    for (const std::string& chunk : chunks) {
      r = parser.feed(chunk);
      if (r.status == ParseStatus::Error) break;
      REQUIRE(r.status == ParseStatus::NeedMore);
      offset += chunk.size();
    }
    REQUIRE(r.status == ParseStatus::Error);
    CHECK(parser.error().status == 431);
    CHECK(offset + r.consumed == errorAt);
  }
}

TEST_CASE("parser: the two 431 errors have distinct reasons", "[parser]") {
  ParserLimits bytes;
  bytes.maxHeaderBytes = 20;
  RequestParser a(bytes);
  REQUIRE(a.feed("GET / HTTP/1.1\r\nHost: a\r\n\r\n").status == ParseStatus::Error);
  ParserLimits count;
  count.maxHeaderCount = 1;
  RequestParser b(count);
  REQUIRE(b.feed("GET / HTTP/1.1\r\nHost: a\r\nX: y\r\n\r\n").status == ParseStatus::Error);
  CHECK(a.error().status == 431);
  CHECK(b.error().status == 431);
  CHECK(a.error().reason != b.error().reason);
}

TEST_CASE("parser: a large body streams without being buffered whole", "[parser]") {
  RequestParser parser;
  size_t delivered = 0;
  size_t calls = 0;
  parser.setBodyHandler([&](std::string_view s) {
    delivered += s.size();
    ++calls;
  });
  const std::string head = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000\r\n\r\n";
  REQUIRE(parser.feed(head).status == ParseStatus::HeadComplete);
  const std::string piece(1000, 'x');
  for (int i = 0; i < 999; ++i) {
    const FeedResult r = parser.feed(piece);
    REQUIRE(r.status == ParseStatus::NeedMore);
    REQUIRE(r.consumed == piece.size());
  }
  REQUIRE(delivered == 999000);
  const FeedResult r = parser.feed(piece + "tail");
  REQUIRE(r.status == ParseStatus::MessageComplete);
  REQUIRE(r.consumed == piece.size());
  REQUIRE(delivered == 1000000);
  REQUIRE(calls == 1000);
}

TEST_CASE("parser: trailers are bounded in count and size", "[parser]") {
  const std::string head = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n";
  TranscriptOptions options;
  options.limits.maxHeaderCount = 2;
  checkEverySplit(head + "A: 1\r\nB: 2\r\n\r\n",
                  "head POST / host=a chunked | complete trailers A:1 B:2", options);
  checkEverySplit(head + "A: 1\r\nB: 2\r\nC: 3\r\n\r\n", "head POST / host=a chunked | error 400",
                  options);
  options.limits.maxHeaderCount = 100;
  options.limits.maxHeaderBytes = 80;
  checkEverySplit(head + "A: " + std::string(100, 'x') + "\r\n\r\n",
                  "head POST / host=a chunked | error 400", options);
}

TEST_CASE("parser: empty lines between requests keep the connection between messages", "[parser]") {
  RequestParser parser;
  REQUIRE(parser.feed("GET / HTTP/1.1\r\nHost: a\r\n\r\n").status == ParseStatus::HeadComplete);
  REQUIRE(parser.feed({}).status == ParseStatus::MessageComplete);
  const FeedResult r = parser.feed("\r\n\r\n");
  REQUIRE(r.status == ParseStatus::NeedMore);
  REQUIRE(r.consumed == 4);
  REQUIRE(parser.betweenMessages());
  REQUIRE(parser.feed("G").status == ParseStatus::NeedMore);
  REQUIRE_FALSE(parser.betweenMessages());
}

TEST_CASE("parser: a new head replaces the previous one only when complete", "[parser]") {
  RequestParser parser;
  REQUIRE(parser.feed("GET /one HTTP/1.1\r\nHost: a\r\n\r\n").status == ParseStatus::HeadComplete);
  REQUIRE(parser.feed({}).status == ParseStatus::MessageComplete);
  REQUIRE(parser.feed("GET /two HTTP/1.1\r\n").status == ParseStatus::NeedMore);
  CHECK(parser.head().target == "/one");
  REQUIRE(parser.feed("Host: b\r\n\r\n").status == ParseStatus::HeadComplete);
  CHECK(parser.head().target == "/two");
  CHECK(parser.head().host == "b");
}

}  // namespace
}  // namespace hoplite::parser
