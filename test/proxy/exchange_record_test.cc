// The access log's JSON line: every key in order, null for what is unknown, and escaping that
// keeps any request's bytes inside their string.
#include "proxy/observe/exchange_record.h"

#include <catch2/catch.hpp>
#include <string>
#include <tuple>

namespace hoplite::proxy::observe {
namespace {

TEST_CASE("proxy: the access log's timestamp is RFC 3339 UTC with milliseconds",
          "[proxy][access_log]") {
  auto [unixMs, text] = GENERATE(table<int64_t, std::string>({
      {0, "1970-01-01T00:00:00.000Z"},
      {1796298310123, "2026-12-03T11:45:10.123Z"},
      {951782400999, "2000-02-29T00:00:00.999Z"},
  }));
  std::string out;
  appendRfc3339(out, unixMs);
  CHECK(out == text);
}

TEST_CASE("proxy: a refused request's line has nulls where nothing is known",
          "[proxy][access_log]") {
  ExchangeRecord record;
  record.startUnixMs = 1796298310123;
  record.clientAddress = "2001:db8::7";
  record.clientPort = 51234;
  record.listener = "[::]:80";
  record.status = 400;
  record.bytesIn = 35;
  record.bytesOut = 134;
  record.error = "bad_request";
  std::string line;
  appendJsonLine(line, record);
  CHECK(line ==
        "{\"ts\":\"2026-12-03T11:45:10.123Z\",\"type\":\"http\",\"request_id\":null,"
        "\"client\":\"[2001:db8::7]:51234\",\"listener\":\"[::]:80\",\"method\":null,"
        "\"host\":null,\"target\":null,\"proto\":null,\"status\":400,\"bytes_in\":35,"
        "\"bytes_out\":134,\"duration_ms\":0.000,\"route\":null,\"upstream\":null,"
        "\"upstream_addr\":null,\"upstream_status\":null,\"upstream_connect_ms\":null,"
        "\"upstream_header_ms\":null,\"reused\":false,\"user_agent\":null,"
        "\"error\":\"bad_request\"}\n");
}

TEST_CASE("proxy: a proxied exchange's line carries every fact", "[proxy][access_log]") {
  ExchangeRecord record;
  record.startUnixMs = 1796298310000;
  record.requestId = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
  record.clientAddress = "203.0.113.7";
  record.clientPort = 40000;
  record.listener = "0.0.0.0:80";
  record.method = "GET";
  record.host = "app.test";
  record.target = "/a?b=1";
  record.versionMinor = 0;
  record.status = 200;
  record.bytesIn = 100;
  record.bytesOut = 2000;
  record.durationMs = 1.23456;
  record.route = 2;
  record.routeName = "api";  // logged instead of the index
  record.upstream = "app";
  record.upstreamAddress = "10.0.0.11:8000";
  record.upstreamStatus = 200;
  record.upstreamHeaderMs = 0.5;
  record.reused = true;
  record.userAgent = "curl/7.88.1";
  std::string line;
  appendJsonLine(line, record);
  CHECK(line ==
        "{\"ts\":\"2026-12-03T11:45:10.000Z\",\"type\":\"http\","
        "\"request_id\":\"0f1e2d3c4b5a69788796a5b4c3d2e1f0\",\"client\":\"203.0.113.7:40000\","
        "\"listener\":\"0.0.0.0:80\",\"method\":\"GET\",\"host\":\"app.test\","
        "\"target\":\"/a?b=1\",\"proto\":\"HTTP/1.0\",\"status\":200,\"bytes_in\":100,"
        "\"bytes_out\":2000,\"duration_ms\":1.235,\"route\":\"api\",\"upstream\":\"app\","
        "\"upstream_addr\":\"10.0.0.11:8000\",\"upstream_status\":200,"
        "\"upstream_connect_ms\":null,\"upstream_header_ms\":0.500,\"reused\":true,"
        "\"user_agent\":\"curl/7.88.1\",\"error\":null}\n");
}

TEST_CASE("proxy: strings in the access log are escaped, and bytes that are not UTF-8 too",
          "[proxy][access_log]") {
  auto [agent, escaped] = GENERATE(table<std::string, std::string>({
      {"plain", "\"plain\""},
      {"say \"hi\" \\ bye", "\"say \\\"hi\\\" \\\\ bye\""},
      {"tab\there\x01\x7f", "\"tab\\u0009here\\u0001\\u007f\""},
      {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
       "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\""},
      {"\xff\xfe", "\"\\u00ff\\u00fe\""},                        // not UTF-8 at all
      {"\xc3", "\"\\u00c3\""},                                   // cut short
      {"\xc0\xaf", "\"\\u00c0\\u00af\""},                        // overlong
      {"\xed\xa0\x80", "\"\\u00ed\\u00a0\\u0080\""},             // a surrogate
      {"\xf4\x90\x80\x80", "\"\\u00f4\\u0090\\u0080\\u0080\""},  // above U+10FFFF
      {"}\n{\"forged\":1}", "\"}\\u000a{\\\"forged\\\":1}\""},
  }));
  CAPTURE(agent);
  ExchangeRecord record;
  record.userAgent = agent;
  std::string line;
  appendJsonLine(line, record);
  const std::string key = ",\"user_agent\":";
  const size_t start = line.find(key) + key.size();
  const size_t end = line.rfind(",\"error\":");
  CHECK(line.substr(start, end - start) == escaped);
  CHECK(line.find('\n') == line.size() - 1);  // one line, whatever the agent holds
}

TEST_CASE("proxy: the elb line has that load balancer's fields in its order",
          "[proxy][access_log]") {
  ExchangeRecord record;
  record.startUnixMs = 1796298310123;
  record.clientAddress = "203.0.113.7";
  record.clientPort = 40000;
  record.listener = "0.0.0.0:8080";
  record.method = "GET";
  record.host = "app.test";
  record.target = "/a?b=1";
  record.status = 200;
  record.upstreamStatus = 200;
  record.bytesIn = 100;
  record.bytesOut = 2000;
  record.durationMs = 3.5;
  record.requestSentMs = 0.25;
  record.upstreamHeaderMs = 3.0;
  record.upstreamAddress = "10.0.0.11:8000";
  record.userAgent = "say \"hi\"\x01";
  std::string line;
  appendElbLine(line, record);
  CHECK(line ==
        "2026-12-03T11:45:10.123000Z hoplite 203.0.113.7:40000 10.0.0.11:8000 0.000250 0.003000 "
        "0.000250 200 200 100 2000 \"GET http://app.test:8080/a?b=1 HTTP/1.1\" "
        "\"say \\\"hi\\\"\\x01\" - -\n");

  // Answered by hoplite before dispatch, a Host with its own port, an IPv6 client.
  ExchangeRecord refused;
  refused.startUnixMs = 1796298310000;
  refused.clientAddress = "2001:db8::7";
  refused.clientPort = 51234;
  refused.listener = "[::]:80";
  refused.method = "POST";
  refused.host = "[2001:db8::1]:81";
  refused.target = "/";
  refused.status = 404;
  line.clear();
  appendElbLine(line, refused);
  CHECK(line ==
        "2026-12-03T11:45:10.000000Z hoplite [2001:db8::7]:51234 - -1 -1 -1 404 - 0 0 "
        "\"POST http://[2001:db8::1]:81/ HTTP/1.1\" \"-\" - -\n");

  // Refused before its head was parsed.
  ExchangeRecord unparsed;
  unparsed.clientAddress = "127.0.0.1";
  unparsed.clientPort = 1;
  unparsed.status = 400;
  line.clear();
  appendElbLine(line, unparsed);
  CHECK(line ==
        "1970-01-01T00:00:00.000000Z hoplite 127.0.0.1:1 - -1 -1 -1 400 - 0 0 \"- - - \" \"-\" - "
        "-\n");
}

TEST_CASE("proxy: a tunnel's line says who closed it, why, and the bytes each way",
          "[proxy][access_log]") {
  TunnelRecord record;
  record.requestId = "abc";
  record.clientAddress = "203.0.113.7";
  record.clientPort = 40000;
  record.host = "chat.test";
  record.target = "/ws";
  record.route = 1;
  record.upstreamAddress = "10.0.0.21:9000";
  record.protocol = "websocket";
  record.openedUnixMs = 1796298310000;
  record.bytesFromClient = 12;
  record.bytesFromUpstream = 3400;
  std::string line;
  appendTunnelJsonLine(line, record, 1796298370500, 60500.25, "upstream", "both_finished");
  CHECK(line ==
        "{\"ts\":\"2026-12-03T11:46:10.500Z\",\"type\":\"tunnel\",\"request_id\":\"abc\","
        "\"client\":\"203.0.113.7:40000\",\"host\":\"chat.test\",\"target\":\"/ws\","
        "\"route\":1,\"upstream_addr\":\"10.0.0.21:9000\",\"protocol\":\"websocket\","
        "\"opened\":\"2026-12-03T11:45:10.000Z\",\"duration_ms\":60500.250,"
        "\"bytes_from_client\":12,\"bytes_from_upstream\":3400,\"closed_by\":\"upstream\","
        "\"close_reason\":\"both_finished\"}\n");
}

}  // namespace
}  // namespace hoplite::proxy::observe
