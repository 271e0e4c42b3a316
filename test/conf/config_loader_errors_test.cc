// The loader on invalid input: each error kind with its exact JSON pointer and a hint at what is
// valid, several errors collected at once, broken JSON with its line and column, and no throw.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "conf/config_loader.h"

using hoplite::conf::ConfigError;
using hoplite::conf::LoadResult;
using hoplite::conf::parseConfig;

namespace {

constexpr const char* kMinimal = R"({
  "listen": ["127.0.0.1:8080"],
  "upstreams": { "app": { "servers": ["127.0.0.1:3001"] } },
  "routes": [ { "upstream": "app" } ]
})";

// The minimal valid config with an RFC 7386 merge patch applied (null deletes a key; arrays are
// replaced whole), so each row states only what it breaks.
// A merge patch cannot empty an object, so a patch starting with "=" replaces the whole document.
std::string patched(const std::string& patch) {
  if (patch.starts_with("=")) return patch.substr(1);
  nlohmann::json config = nlohmann::json::parse(kMinimal);
  config.merge_patch(nlohmann::json::parse(patch));
  return config.dump();
}

std::string allErrors(const LoadResult& result) {
  std::string text;
  for (const ConfigError& error : result.errors) text += error.toText() + "\n";
  return text;
}

// Every table below has these columns: what the row breaks, merge patch, expected pointer,
// expected part of the message. The patched config must fail with exactly that one error.
using Row = std::tuple<std::string, std::string, std::string, std::string>;

void checkOneError(const Row& row) {
  const auto& [what, patch, pointer, mentions] = row;
  CAPTURE(what, patch);
  const LoadResult result = parseConfig(patched(patch));
  INFO(allErrors(result));
  CHECK_FALSE(result.config.has_value());
  REQUIRE(result.errors.size() == 1);
  CHECK(result.errors[0].path == pointer);
  CHECK_THAT(result.errors[0].message, Catch::Contains(mentions));
}

}  // namespace

TEST_CASE("conf: the minimal config used by the error rows is valid", "[conf][errors]") {
  const LoadResult result = parseConfig(patched("{}"));
  INFO(allErrors(result));
  CHECK(result.config.has_value());
}

TEST_CASE("conf: an unknown key is an error that suggests the nearest known key",
          "[conf][errors]") {
  const Row row = GENERATE(table<std::string, std::string, std::string, std::string>({
      {"typo at top level", R"({"timeout": {}})", "/timeout", R"(did you mean "timeouts"?)"},
      {"typo in timeouts", R"({"timeouts": {"client_idel": "1s"}})", "/timeouts/client_idel",
       R"(did you mean "client_idle"?)"},
      {"typo in shutdown_delay", R"({"timeouts": {"shutdown_dealy": "1s"}})",
       "/timeouts/shutdown_dealy", R"(did you mean "shutdown_delay"?)"},
      {"camelCase key", R"({"timeouts": {"clientIdle": "1s"}})", "/timeouts/clientIdle",
       R"(did you mean "client_idle"?)"},
      {"far-off key lists the allowed ones", R"({"limits": {"banana": 1}})", "/limits/banana",
       R"(the keys allowed here are "max_header_bytes", "max_header_count")"},
      {"typo in an upstream", R"({"upstreams": {"app": {"server": []}}})", "/upstreams/app/server",
       R"(did you mean "servers"?)"},
      {"typo in a route", R"({"routes": [{"upstream": "app", "path_prefx": "/"}]})",
       "/routes/0/path_prefx", R"(did you mean "path_prefix"?)"},
      {"typo in forwarded", R"({"forwarded": {"trusted_proxes": []}})", "/forwarded/trusted_proxes",
       R"(did you mean "trusted_proxies"?)"},
      {"typo in upgrade", R"({"upgrade": {"alow": []}})", "/upgrade/alow",
       R"(did you mean "allow"?)"},
      {"key with a slash is escaped in the pointer", R"({"a/b~c": 1})", "/a~1b~0c", "unknown key"},
  }));
  checkOneError(row);
}

TEST_CASE("conf: a value of the wrong type names the type to use", "[conf][errors]") {
  const Row row = GENERATE(table<std::string, std::string, std::string, std::string>({
      {"section is not an object", R"({"timeouts": []})", "/timeouts",
       "[] is not an object; use an object such as"},
      {"listen is a string", R"({"listen": "127.0.0.1:8080"})", "/listen",
       R"("127.0.0.1:8080" is not a list; use a list such as ["127.0.0.1:8080"])"},
      {"boolean as a string", R"({"forwarded": {"via": "yes"}})", "/forwarded/via",
       R"("yes" is not a boolean; use true or false)"},
      {"number as a string", R"({"limits": {"max_connections": "1000"}})",
       "/limits/max_connections", R"("1000" is not a number; use a whole number)"},
      {"upstream name is a number", R"({"routes": [{"upstream": 5}]})", "/routes/0/upstream",
       "5 is not a string"},
      {"upstream is a list", R"({"upstreams": {"app": ["127.0.0.1:3001"]}})", "/upstreams/app",
       "is not an object"},
      {"route is a string", R"({"routes": ["app"]})", "/routes/0", R"("app" is not an object)"},
      {"listen entry is a number", R"({"listen": [8080]})", "/listen/0", "8080 is not a string"},
      {"trusted proxies as a string", R"({"forwarded": {"trusted_proxies": "10.0.0.0/8"}})",
       "/forwarded/trusted_proxies", "is not a list"},
      {"allow as a string", R"({"upgrade": {"allow": "websocket"}})", "/upgrade/allow",
       "is not a list"},
  }));
  checkOneError(row);
}

TEST_CASE("conf: a bad duration says how to write one", "[conf][errors]") {
  const Row row = GENERATE(table<std::string, std::string, std::string, std::string>({
      {"bare number", R"({"timeouts": {"client_idle": 60}})", "/timeouts/client_idle",
       R"(60 has no unit; add one, e.g. "60s" (ms, s, m or h), or use "off")"},
      {"bare fraction", R"({"timeouts": {"upstream_connect": 1.5}})", "/timeouts/upstream_connect",
       "has no unit; add one"},
      {"unknown unit", R"({"timeouts": {"tunnel_idle": "10 parsecs"}})", "/timeouts/tunnel_idle",
       R"("10 parsecs" is not a duration; use a number with ms, s, m or h, or "off")"},
      {"days are not a unit",
       R"({"routes": [{"upstream": "app", "timeouts": {"tunnel_idle": "1d"}}]})",
       "/routes/0/timeouts/tunnel_idle", R"("1d" is not a duration)"},
      {"zero duration", R"({"timeouts": {"client_header": "0s"}})", "/timeouts/client_header",
       R"(would expire at once; use a positive duration, or "off")"},
      {"null duration", R"({"timeouts": {"shutdown_drain": false}})", "/timeouts/shutdown_drain",
       "false is not a duration"},
      {"zero shutdown delay", R"({"timeouts": {"shutdown_delay": "0ms"}})",
       "/timeouts/shutdown_delay", R"(would expire at once; use a positive duration, or "off")"},
      {"shutdown delay without a unit", R"({"timeouts": {"shutdown_delay": 5}})",
       "/timeouts/shutdown_delay", R"(5 has no unit; add one, e.g. "5s")"},
  }));
  checkOneError(row);
}

TEST_CASE("conf: shutdown_delay is global: a route may not override it", "[conf][errors]") {
  const Row row = GENERATE(table<std::string, std::string, std::string, std::string>({
      {"a route's shutdown_delay",
       R"({"routes": [{"upstream": "app", "timeouts": {"shutdown_delay": "5s"}}]})",
       "/routes/0/timeouts/shutdown_delay",
       "applies to the whole process, not to one route; set it under /timeouts instead"},
      {"even \"off\"",
       R"({"routes": [{"upstream": "app"}, {"upstream": "app", "timeouts": {"shutdown_delay": "off"}}]})",
       "/routes/1/timeouts/shutdown_delay", "set it under /timeouts instead"},
      {"even a broken value is refused for where it is, not for what it is",
       R"({"routes": [{"upstream": "app", "timeouts": {"shutdown_delay": 5}}]})",
       "/routes/0/timeouts/shutdown_delay", "not to one route"},
  }));
  checkOneError(row);
}

TEST_CASE("conf: limits and keepalive are whole numbers in range", "[conf][errors]") {
  const Row row = GENERATE(table<std::string, std::string, std::string, std::string>({
      {"zero header bytes", R"({"limits": {"max_header_bytes": 0}})", "/limits/max_header_bytes",
       "0 is out of range; use a whole number greater than 0"},
      {"zero header count", R"({"limits": {"max_header_count": 0}})", "/limits/max_header_count",
       "greater than 0"},
      {"zero connections", R"({"limits": {"max_connections": 0}})", "/limits/max_connections",
       "greater than 0"},
      {"zero backlog", R"({"limits": {"listen_backlog": 0}})", "/limits/listen_backlog",
       "0 is out of range; use a whole number from 1 to 65535"},
      {"backlog past 16 bits", R"({"limits": {"listen_backlog": 65536}})", "/limits/listen_backlog",
       "65536 is out of range; use a whole number from 1 to 65535"},
      {"negative body limit", R"({"limits": {"max_body_bytes": -1}})", "/limits/max_body_bytes",
       "-1 is negative; use a whole number, 0 or more"},
      {"fractional limit", R"({"limits": {"max_header_bytes": 1.5}})", "/limits/max_header_bytes",
       "1.5 is not a whole number"},
      {"negative keepalive", R"({"upstreams": {"app": {"keepalive": -1}}})",
       "/upstreams/app/keepalive", "-1 is negative; use a whole number from 0 to 4294967295"},
      {"huge keepalive", R"({"upstreams": {"app": {"keepalive": 4294967296}}})",
       "/upstreams/app/keepalive", "is out of range"},
  }));
  checkOneError(row);
}

TEST_CASE("conf: workers is a count from 1 to 256 or \"auto\"", "[conf][errors]") {
  const Row row = GENERATE(table<std::string, std::string, std::string, std::string>({
      {"zero workers", R"({"workers": 0})", "/workers",
       "0 is out of range; use a whole number from 1 to 256"},
      {"too many workers", R"({"workers": 257})", "/workers", "257 is out of range"},
      {"negative workers", R"({"workers": -2})", "/workers", "-2 is negative"},
      {"fractional workers", R"({"workers": 1.5})", "/workers", "1.5 is not a whole number"},
      {"a word other than auto", R"({"workers": "all"})", "/workers",
       R"("all" is not a worker count; use a whole number from 1 to 256, or "auto" for one per CPU)"},
      {"a number as a string", R"({"workers": "4"})", "/workers", R"("4" is not a worker count)"},
      {"typo of the key", R"({"worker": 2})", "/worker", R"(did you mean "workers"?)"},
  }));
  checkOneError(row);
}

TEST_CASE("conf: a port must be present and from 1 to 65535, or 0 for listen", "[conf][errors]") {
  const Row row = GENERATE(table<std::string, std::string, std::string, std::string>({
      {"listen port out of range", R"({"listen": ["127.0.0.1:70000"]})", "/listen/0",
       "has port 70000, which is out of range"},
      {"listen without port", R"({"listen": ["127.0.0.1"]})", "/listen/0", "has no port"},
      {"server port 0", R"({"upstreams": {"app": {"servers": ["127.0.0.1:0"]}}})",
       "/upstreams/app/servers/0", R"(has port 0, which only "listen" accepts)"},
      {"server port out of range", R"({"upstreams": {"app": {"servers": ["a:1", "b:65536"]}}})",
       "/upstreams/app/servers/1", "use \"host:port\" with a port from 1 to 65535"},
  }));
  checkOneError(row);
}

TEST_CASE("conf: listen takes IP addresses, IPv6 in brackets, each once; servers take host names",
          "[conf][errors]") {
  const Row row = GENERATE(table<std::string, std::string, std::string, std::string>({
      {"listen needs an IP", R"({"listen": ["localhost:8080"]})", "/listen/0",
       "does not start with an IP address"},
      {"listen IPv6 without brackets", R"({"listen": ["::1:8080"]})", "/listen/0",
       R"(without brackets (write "[::1]:8080"))"},
      {"listen twice", R"({"listen": ["127.0.0.1:8080", "127.0.0.1:8080"]})", "/listen/1",
       "is listed twice"},
      {"server bad host", R"({"upstreams": {"app": {"servers": ["bad host:80"]}}})",
       "/upstreams/app/servers/0", "not a host name or IP address"},
  }));
  checkOneError(row);
}

TEST_CASE("conf: empty listen, upstreams, servers and routes are errors", "[conf][errors]") {
  const Row row = GENERATE(table<std::string, std::string, std::string, std::string>({
      {"empty listen", R"({"listen": []})", "/listen", "no addresses; list at least one"},
      {"no upstreams",
       R"(={"listen": ["127.0.0.1:1"], "upstreams": {}, "routes": [{"upstream": "app"}]})",
       "/upstreams", "no upstreams; define at least one"},
      {"empty servers", R"({"upstreams": {"app": {"servers": []}}})", "/upstreams/app/servers",
       "no servers; list at least one"},
      {"no routes", R"({"routes": []})", "/routes", "no routes; add at least one"},
  }));
  checkOneError(row);
}

TEST_CASE("conf: required sections, keys and names are present", "[conf][errors]") {
  const Row row = GENERATE(table<std::string, std::string, std::string, std::string>({
      {"missing listen", R"({"listen": null})", "", R"(missing "listen")"},
      {"missing upstreams", R"({"upstreams": null, "routes": [{"upstream": "x"}]})", "",
       R"(missing "upstreams")"},
      {"missing routes", R"({"routes": null})", "", R"(missing "routes")"},
      {"missing servers", R"({"upstreams": {"app": {"servers": null, "keepalive": 1}}})",
       "/upstreams/app", R"(missing "servers"; add it, e.g. "servers": ["127.0.0.1:3001"])"},
      {"route without upstream", R"({"routes": [{"path_prefix": "/"}]})", "/routes/0",
       R"(missing "upstream")"},
      {"empty upstream name", R"({"upstreams": {"": {"servers": ["a:1"]}}})", "/upstreams/",
       "non-empty name"},
  }));
  checkOneError(row);
}

TEST_CASE("conf: a route naming an unknown upstream lists the known ones", "[conf][errors]") {
  const Row row = GENERATE(table<std::string, std::string, std::string, std::string>({
      {"unknown upstream", R"({"routes": [{"upstream": "ap"}]})", "/routes/0/upstream",
       R"("ap" is not an upstream; did you mean "app"? The known ones are "app")"},
      {"unknown upstream, nothing near",
       R"({"upstreams": {"web": {"servers": ["a:1"]}}, "routes": [{"upstream": "billing"}]})",
       "/routes/0/upstream",
       R"("billing" is not an upstream; the known upstreams are "app", "web")"},
  }));
  checkOneError(row);
}

TEST_CASE("conf: route host and path_prefix must be patterns a request can match",
          "[conf][errors]") {
  const Row row = GENERATE(table<std::string, std::string, std::string, std::string>({
      {"route host with a port", R"({"routes": [{"upstream": "app", "host": "Example.com:8080"}]})",
       "/routes/0/host", R"(routes match the host without its port, so use "example.com")"},
      {"route host inner wildcard", R"({"routes": [{"upstream": "app", "host": "api.*.com"}]})",
       "/routes/0/host", R"(a "*" that is not a leading "*.")"},
      {"route host with a space", R"({"routes": [{"upstream": "app", "host": "a b"}]})",
       "/routes/0/host", "is not a host pattern"},
      {"path prefix without slash", R"({"routes": [{"upstream": "app", "path_prefix": "api"}]})",
       "/routes/0/path_prefix", R"("api" does not start with "/")"},
      {"path prefix with a query", R"({"routes": [{"upstream": "app", "path_prefix": "/a?b"}]})",
       "/routes/0/path_prefix", "contains a space, control character"},
  }));
  checkOneError(row);
}

TEST_CASE("conf: a bad trusted_proxies CIDR is an error, with the fix for host bits",
          "[conf][errors]") {
  const Row row = GENERATE(table<std::string, std::string, std::string, std::string>({
      {"CIDR with host bits", R"({"forwarded": {"trusted_proxies": ["10.0.0.1/8"]}})",
       "/forwarded/trusted_proxies/0",
       R"(host bits set below its /8 prefix; did you mean "10.0.0.0/8"?)"},
      {"v6 CIDR with host bits", R"({"forwarded": {"trusted_proxies": ["::1", "fd00::1/8"]}})",
       "/forwarded/trusted_proxies/1", R"(did you mean "fd00::/8"?)"},
      {"CIDR prefix too long", R"({"forwarded": {"trusted_proxies": ["10.0.0.0/33"]}})",
       "/forwarded/trusted_proxies/0", R"("10.0.0.0/33" is not a CIDR; use an IPv4 or IPv6)"},
      {"CIDR that is a name", R"({"forwarded": {"trusted_proxies": ["lb.internal"]}})",
       "/forwarded/trusted_proxies/0", "is not a CIDR"},
  }));
  checkOneError(row);
}

TEST_CASE("conf: upgrade.allow takes bare protocol names", "[conf][errors]") {
  const Row row = GENERATE(table<std::string, std::string, std::string, std::string>({
      {"protocol with a space", R"({"upgrade": {"allow": ["web socket"]}})", "/upgrade/allow/0",
       "is not a protocol name"},
      {"empty protocol", R"({"upgrade": {"allow": [""]}})", "/upgrade/allow/0",
       "is not a protocol name"},
      {"route upgrade with a version",
       R"({"routes": [{"upstream": "app", "upgrade": {"allow": ["WebSocket/13"]}}]})",
       "/routes/0/upgrade/allow/0", R"(use the protocol name alone, "websocket")"},
  }));
  checkOneError(row);
}

TEST_CASE("conf: the style guide's example error, word for word", "[conf][errors]") {
  const LoadResult result = parseConfig(R"({
    "listen": ["127.0.0.1:8080"],
    "upstreams": { "app": { "servers": ["127.0.0.1:3001"] } },
    "routes": [
      { "host": "a.example", "upstream": "app" },
      { "host": "b.example", "upstream": "app" },
      { "upstream": "app", "timeouts": { "tunnel_idle": "10 parsecs" } }
    ]
  })");
  REQUIRE(result.errors.size() == 1);
  CHECK(
      result.errors[0].toText() ==
      R"(/routes/2/timeouts/tunnel_idle: "10 parsecs" is not a duration; use a number with ms, s, m or h, or "off")");
}

TEST_CASE("conf: validation collects every error at once", "[conf][errors]") {
  const LoadResult result = parseConfig(R"({
    "listen": ["127.0.0.1:99999", "localhost:80"],
    "upstreams": { "app": { "servers": [], "keepalive": -2 } },
    "routes": [ { "upstream": "nope" }, { "upstream": "app", "path_prefix": "x" } ],
    "timeouts": { "client_idle": 60, "tunnel_idel": "1h" },
    "limits": { "max_header_bytes": 0 },
    "forwarded": { "trusted_proxies": ["10.0.0.1/8"], "via": 1 },
    "upgrade": { "allow": [1] },
    "extra": true
  })");
  CHECK_FALSE(result.config.has_value());
  std::vector<std::string> paths;
  for (const ConfigError& error : result.errors) paths.push_back(error.path);
  INFO(allErrors(result));
  CHECK(paths == std::vector<std::string>{
                     "/extra",
                     "/listen/0",
                     "/listen/1",
                     "/upstreams/app/servers",
                     "/upstreams/app/keepalive",
                     "/routes/0/upstream",
                     "/routes/1/path_prefix",
                     "/timeouts/tunnel_idel",
                     "/timeouts/client_idle",
                     "/limits/max_header_bytes",
                     "/forwarded/trusted_proxies/0",
                     "/forwarded/via",
                     "/upgrade/allow/0",
                 });
}

namespace {

// document, expected part of the one error it gives
void checkBrokenJson(const std::string& text, const std::string& mentions) {
  CAPTURE(text);
  const LoadResult result = parseConfig(text, "test.json");
  CHECK_FALSE(result.config.has_value());
  REQUIRE(result.errors.size() == 1);
  CHECK(result.errors[0].path.empty());
  CHECK_THAT(result.errors[0].toText(), Catch::Contains(mentions));
}

}  // namespace

TEST_CASE("conf: broken JSON reports its line and column", "[conf][errors][syntax]") {
  auto [text, mentions] = GENERATE(table<std::string, std::string>({
      {"{\n  \"listen\": [\"127.0.0.1:8080\"],\n}", "test.json: broken JSON at line 3, column 1"},
      {"{\"listen\": [\"a:1\",]}", "line 1, column 19"},
      {"{\n  \"listen\": [\"127.0.0.1:8080\"],\n  \"routes\" []\n}", "line 3, column 12"},
      {"", "line 1, column 1"},
      {"{\"listen\": [\"a:1\"", "broken JSON at line 1, column 18"},
      {"{\"a\": \"\xff\"}", "broken JSON at line 1"},
      {"{'listen': []}", "line 1, column 2"},
  }));
  checkBrokenJson(text, mentions);
}

TEST_CASE("conf: broken JSON names the usual mistake", "[conf][errors][syntax]") {
  auto [text, mentions] = GENERATE(table<std::string, std::string>({
      {"{\n  \"listen\": [\"127.0.0.1:8080\"],\n}", "JSON allows no comma after the last item"},
      {"{\n  // the listeners\n  \"listen\": []\n}", "JSON has no comments"},
      {"   ", "unexpected end of input"},
  }));
  checkBrokenJson(text, mentions);
}

TEST_CASE("conf: a document that is not an object is one error", "[conf][errors]") {
  auto text = GENERATE(as<std::string>{}, "[]", "null", "42", "\"listen\"");
  CAPTURE(text);
  const LoadResult result = parseConfig(text);
  REQUIRE(result.errors.size() == 1);
  CHECK(result.errors[0].path.empty());
  CHECK_THAT(result.errors[0].message, Catch::StartsWith("the config must be a JSON object"));
}

TEST_CASE("conf: duplicate keys are errors at their pointer", "[conf][errors]") {
  const LoadResult result = parseConfig(R"({
    "listen": ["127.0.0.1:8080"],
    "upstreams": { "app": { "servers": ["127.0.0.1:3001"] } },
    "routes": [ { "upstream": "app" }, { "upstream": "app", "host": "a", "host": "b" } ],
    "timeouts": { "client_idle": "1s" },
    "timeouts": { "client_idle": "2s" }
  })");
  INFO(allErrors(result));
  CHECK_FALSE(result.config.has_value());
  REQUIRE(result.errors.size() == 2);
  CHECK(result.errors[0].path == "/routes/1/host");
  CHECK(result.errors[1].path == "/timeouts");
  CHECK_THAT(result.errors[0].message, Catch::StartsWith("duplicate key"));
}

TEST_CASE("conf: no input makes the loader throw", "[conf][errors]") {
  const std::string deep(5000, '[');
  auto text = GENERATE_COPY(as<std::string>{}, deep, deep + std::string(5000, ']'),
                            std::string("{\"listen\": [\"\\ud800\"]}"),
                            std::string("{\"listen\": [\"[::1]:8080\"], \"upstreams\": 1e400}"),
                            std::string("{\"limits\": {\"max_body_bytes\": 1e30}}"),
                            std::string("\x00\x01", 2), std::string("{\"\":{\"\":{\"\":[]}}}"));
  CAPTURE(text.size());
  LoadResult result;
  CHECK_NOTHROW(result = parseConfig(text));
  CHECK_FALSE(result.config.has_value());
  CHECK_FALSE(result.errors.empty());
}

TEST_CASE("conf: syntax errors carry the source name only when given one",
          "[conf][errors][syntax]") {
  auto [sourceName, expected] = GENERATE(table<std::string, std::string>({
      {"site.json", "site.json: broken JSON at line 1, column 2"},
      {"", "broken JSON at line 1, column 2"},
  }));
  CAPTURE(sourceName);
  const LoadResult result = parseConfig("{", sourceName);
  REQUIRE(result.errors.size() == 1);
  CHECK_THAT(result.errors[0].toText(), Catch::StartsWith(expected));
}

TEST_CASE("conf: request_id is a field name hoplite leaves to it, or \"off\"", "[conf][errors]") {
  const Row row = GENERATE(table<std::string, std::string, std::string, std::string>({
      {"a number", R"({"request_id": 1})", "/request_id", "is not a string"},
      {"empty", R"({"request_id": ""})", "/request_id", "is not a header field name"},
      {"a space", R"({"request_id": "X Request"})", "/request_id", "is not a header field name"},
      {"a colon", R"({"request_id": "X-Id:"})", "/request_id", "is not a header field name"},
      {"an underscore", R"({"request_id": "X_Request_Id"})", "/request_id", "underscore"},
      {"Host", R"({"request_id": "host"})", "/request_id", "sets or removes itself"},
      {"hop-by-hop", R"({"request_id": "Connection"})", "/request_id", "sets or removes itself"},
      {"a forwarding field", R"({"request_id": "X-Forwarded-Id"})", "/request_id",
       "sets or removes itself"},
  }));
  checkOneError(row);
}

TEST_CASE("conf: log names a destination that can exist and a known format", "[conf][errors]") {
  const Row row = GENERATE(table<std::string, std::string, std::string, std::string>({
      {"not an object", R"({"log": "stdout"})", "/log", "is not an object"},
      {"an unknown key", R"({"log": {"acess": "off"}})", "/log/acess", "did you mean \"access\""},
      {"access not a string", R"({"log": {"access": true}})", "/log/access", "is not a string"},
      {"access empty", R"({"log": {"access": ""}})", "/log/access", "is not a log destination"},
      {"a missing directory", R"({"log": {"access": "/nonexistent-dir/access.log"}})",
       "/log/access", "the directory \"/nonexistent-dir\" does not exist"},
      {"a directory", R"({"log": {"access": "/tmp"}})", "/log/access", "is a directory"},
      {"an unknown format", R"({"log": {"format": "xml"}})", "/log/format",
       "is not a log format; use \"json\""},
  }));
  checkOneError(row);
}

TEST_CASE("conf: log.errors is stderr or a file, never stdout or off", "[conf][errors]") {
  const Row row = GENERATE(table<std::string, std::string, std::string, std::string>({
      {"not a string", R"({"log": {"errors": 2}})", "/log/errors",
       R"(2 is not a string; use "stderr" or a file path)"},
      {"empty", R"({"log": {"errors": ""}})", "/log/errors",
       R"("" is not a log destination; use "stderr" or a file path)"},
      {"off", R"({"log": {"errors": "off"}})", "/log/errors",
       R"("off" is not accepted: hoplite's own error lines must always go somewhere; use "stderr" or a file path)"},
      {"stdout", R"({"log": {"errors": "stdout"}})", "/log/errors",
       R"("stdout" is not accepted: stdout is for the access log)"},
      {"a missing directory", R"({"log": {"errors": "/nonexistent-dir/errors.log"}})",
       "/log/errors",
       R"("/nonexistent-dir/errors.log": the directory "/nonexistent-dir" does not exist; create it or choose another path)"},
      {"a directory", R"({"log": {"errors": "/tmp"}})", "/log/errors",
       R"("/tmp" is a directory; name a file in it)"},
      {"a typo of the key", R"({"log": {"error": "stderr"}})", "/log/error",
       R"(did you mean "errors"?)"},
  }));
  checkOneError(row);
}

TEST_CASE("conf: admin is an object whose listen is an IP address and port", "[conf][errors]") {
  const Row row = GENERATE(table<std::string, std::string, std::string, std::string>({
      {"not an object", R"({"admin": "127.0.0.1:9901"})", "/admin",
       R"("127.0.0.1:9901" is not an object; use an object such as {"listen": "127.0.0.1:9901"})"},
      {"an unknown key", R"({"admin": {"listne": "127.0.0.1:9901"}})", "/admin/listne",
       R"(did you mean "listen"?)"},
      {"a far-off key", R"({"admin": {"auth": "secret"}})", "/admin/auth",
       R"(the keys allowed here are "listen")"},
      {"listen is a list", R"({"admin": {"listen": ["127.0.0.1:9901"]}})", "/admin/listen",
       "is not a string; use an IPv4 or [IPv6] address"},
      {"listen is a host name", R"({"admin": {"listen": "localhost:9901"}})", "/admin/listen",
       "does not start with an IP address"},
      {"listen without a port", R"({"admin": {"listen": "127.0.0.1"}})", "/admin/listen",
       "has no port"},
      {"listen port out of range", R"({"admin": {"listen": "127.0.0.1:65536"}})", "/admin/listen",
       "which is out of range"},
      {"IPv6 without brackets", R"({"admin": {"listen": "::1:9901"}})", "/admin/listen",
       "without brackets"},
  }));
  checkOneError(row);
}

TEST_CASE("conf: admin.listen may not share a proxy listener's port on the same or a wildcard host",
          "[conf][errors]") {
  const Row row = GENERATE(table<std::string, std::string, std::string, std::string>({
      {"the same address",
       R"({"listen": ["127.0.0.1:8080"], "admin": {"listen": "127.0.0.1:8080"}})", "/admin/listen",
       R"("127.0.0.1:8080" collides with /listen/0, "127.0.0.1:8080" (the same address and port); pick another port for the admin listener)"},
      {"the same IPv6 address, written differently",
       R"({"listen": ["127.0.0.1:1", "[0:0::1]:8080"], "admin": {"listen": "[::1]:8080"}})",
       "/admin/listen", R"("[::1]:8080" collides with /listen/1, "[0:0::1]:8080")"},
      {"a wildcard proxy listener",
       R"({"listen": ["127.0.0.1:1", "0.0.0.0:8080"], "admin": {"listen": "127.0.0.1:8080"}})",
       "/admin/listen",
       R"("127.0.0.1:8080" collides with /listen/1, "0.0.0.0:8080" (which takes port 8080 on every address); pick another port for the admin listener)"},
      {"an IPv6 wildcard proxy listener",
       R"({"listen": ["[::]:9901"], "admin": {"listen": "127.0.0.1:9901"}})", "/admin/listen",
       R"(collides with /listen/0, "[::]:9901" (which takes port 9901 on every address))"},
      {"a wildcard admin listener",
       R"({"listen": ["127.0.0.1:8080"], "admin": {"listen": "0.0.0.0:8080"}})", "/admin/listen",
       R"("0.0.0.0:8080" collides with /listen/0, "127.0.0.1:8080" (the admin listener would take port 8080 on every address); pick another port for the admin listener)"},
      {"an IPv6 wildcard admin listener",
       R"({"listen": ["[::1]:8080"], "admin": {"listen": "[::]:8080"}})", "/admin/listen",
       R"(the admin listener would take port 8080 on every address)"},
  }));
  checkOneError(row);
}

TEST_CASE("conf: a collision names the listen entry by its index in the file", "[conf][errors]") {
  // /listen/0 has an error of its own, so the loader drops it; the collision still names
  // /listen/1, not the first address read.
  const LoadResult result = parseConfig(patched(
      R"({"listen": ["localhost:1", "127.0.0.1:8080"], "admin": {"listen": "127.0.0.1:8080"}})"));
  INFO(allErrors(result));
  REQUIRE(result.errors.size() == 2);
  CHECK(result.errors[0].path == "/listen/0");
  CHECK(result.errors[1].path == "/admin/listen");
  CHECK_THAT(result.errors[1].message, Catch::Contains("collides with /listen/1"));
}

// A route named with 65 letters, one more than allowed (built with append: GCC 12 reports a
// false -Warray-bounds for operator+ on these strings).
std::string tooLongRouteName() {
  std::string patch = R"({"routes": [{"upstream": "app", "name": ")";
  patch.append(65, 'a');
  patch.append(R"("}]})");
  return patch;
}

TEST_CASE("conf: a route's name is short, plain and its own", "[conf][errors]") {
  const Row row = GENERATE(table<std::string, std::string, std::string, std::string>({
      {"not a string", R"({"routes": [{"upstream": "app", "name": 7}]})", "/routes/0/name",
       "is not a string"},
      {"empty", R"({"routes": [{"upstream": "app", "name": ""}]})", "/routes/0/name",
       "is not a route name"},
      {"upper case", R"({"routes": [{"upstream": "app", "name": "API"}]})", "/routes/0/name",
       "is not a route name; use 1 to 64 of a-z, 0-9"},
      {"a space", R"({"routes": [{"upstream": "app", "name": "my api"}]})", "/routes/0/name",
       "is not a route name"},
      {"too long", tooLongRouteName(), "/routes/0/name", "is not a route name"},
      {"a duplicate",
       R"({"routes": [{"upstream": "app", "name": "web"}, {"upstream": "app", "name": "web"}]})",
       "/routes/1/name", "\"web\" is already the name of /routes/0; route names must be unique"},
  }));
  checkOneError(row);
}

TEST_CASE("conf: server objects, balance, hash_key and passive_health are checked",
          "[conf][errors]") {
  const Row row = GENERATE(table<std::string, std::string, std::string, std::string>({
      {"weight 0", R"({"upstreams": {"app": {"servers": [{"address": "a:1", "weight": 0}]}}})",
       "/upstreams/app/servers/0/weight", "0 is out of range; use a whole number from 1 to 1000"},
      {"weight past 1000",
       R"({"upstreams": {"app": {"servers": [{"address": "a:1", "weight": 1001}]}}})",
       "/upstreams/app/servers/0/weight", "out of range"},
      {"server object without address", R"({"upstreams": {"app": {"servers": [{"weight": 2}]}}})",
       "/upstreams/app/servers/0", R"(missing "address")"},
      {"unknown server key",
       R"({"upstreams": {"app": {"servers": [{"address": "a:1", "wieght": 2}]}}})",
       "/upstreams/app/servers/0/wieght", R"(did you mean "weight"?)"},
      {"server a number", R"({"upstreams": {"app": {"servers": [3001]}}})",
       "/upstreams/app/servers/0", "is not a server"},
      {"backup not a boolean",
       R"({"upstreams": {"app": {"servers": [{"address": "a:1", "backup": "yes"}, "b:1"]}}})",
       "/upstreams/app/servers/0/backup", "is not a boolean"},
      {"every server a backup",
       R"({"upstreams": {"app": {"servers": [{"address": "a:1", "backup": true}]}}})",
       "/upstreams/app/servers", "every server is a backup"},
      {"unknown balance", R"({"upstreams": {"app": {"balance": "least_connection"}}})",
       "/upstreams/app/balance", R"(did you mean "least_connections"?)"},
      {"hash without a key", R"({"upstreams": {"app": {"balance": "hash"}}})",
       "/upstreams/app/balance", R"(needs a "hash_key")"},
      {"hash_key without hash", R"({"upstreams": {"app": {"hash_key": "client_ip"}}})",
       "/upstreams/app/hash_key", R"(only read with "balance": "hash")"},
      {"unknown kind of hash key",
       R"({"upstreams": {"app": {"balance": "hash", "hash_key": "query:id"}}})",
       "/upstreams/app/hash_key", "is not a kind of hash key"},
      {"cookie without a name",
       R"({"upstreams": {"app": {"balance": "hash", "hash_key": "cookie:"}}})",
       "/upstreams/app/hash_key", "names no valid cookie"},
      {"max_fails 0", R"({"upstreams": {"app": {"passive_health": {"max_fails": 0}}}})",
       "/upstreams/app/passive_health/max_fails", "0 is out of range"},
      {"eject_for off", R"({"upstreams": {"app": {"passive_health": {"eject_for": "off"}}}})",
       "/upstreams/app/passive_health/eject_for", R"(cannot be "off")"},
      {"unknown passive_health key",
       R"({"upstreams": {"app": {"passive_health": {"max_fail": 2}}}})",
       "/upstreams/app/passive_health/max_fail", R"(did you mean "max_fails"?)"},
  }));
  checkOneError(row);
}

TEST_CASE("conf: health_check needs a path and sane thresholds", "[conf][errors]") {
  const Row row = GENERATE(table<std::string, std::string, std::string, std::string>({
      {"no path", R"({"upstreams": {"app": {"health_check": {"interval": "5s"}}}})",
       "/upstreams/app/health_check", R"(missing "path")"},
      {"path without a slash", R"({"upstreams": {"app": {"health_check": {"path": "healthz"}}}})",
       "/upstreams/app/health_check/path", R"(start it with "/")"},
      {"healthy_after 0",
       R"({"upstreams": {"app": {"health_check": {"path": "/h", "healthy_after": 0}}}})",
       "/upstreams/app/health_check/healthy_after", "0 is out of range"},
      {"interval off",
       R"({"upstreams": {"app": {"health_check": {"path": "/h", "interval": "off"}}}})",
       "/upstreams/app/health_check/interval", R"(cannot be "off")"},
      {"a status that is not one",
       R"({"upstreams": {"app": {"health_check": {"path": "/h", "expect_status": "2xy"}}}})",
       "/upstreams/app/health_check/expect_status", "is not a status or range"},
      {"a backwards range",
       R"({"upstreams": {"app": {"health_check": {"path": "/h", "expect_status": ["399-200"]}}}})",
       "/upstreams/app/health_check/expect_status/0", "is not a status or range"},
      {"unknown key",
       R"({"upstreams": {"app": {"health_check": {"path": "/h", "intervall": "5s"}}}})",
       "/upstreams/app/health_check/intervall", R"(did you mean "interval"?)"},
  }));
  checkOneError(row);
}
