// The loader on valid input: durations, host:port, defaults, what each key turns into, and route
// overrides. Errors are in config_loader_errors_test.cc.
#include "conf/config_loader.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <optional>
#include <string>
#include <thread>

#include "conf/host_port.h"

using hoplite::conf::Config;
using hoplite::conf::Duration;
using hoplite::conf::HostPort;
using hoplite::conf::LoadResult;
using hoplite::conf::parseConfig;
using hoplite::conf::parseDuration;
using hoplite::conf::parseHostPort;
using hoplite::conf::Timeouts;
using namespace std::chrono_literals;

namespace {

// Parses `json`, which must be valid; a failure prints every error.
Config mustParse(const std::string& json) {
  const LoadResult result = parseConfig(json);
  for (const auto& error : result.errors) UNSCOPED_INFO(error.toText());
  REQUIRE(result.errors.empty());
  REQUIRE(result.config.has_value());
  return *result.config;
}

constexpr const char* kMinimal = R"({
  "listen": ["127.0.0.1:8080"],
  "upstreams": { "app": { "servers": ["127.0.0.1:3001"] } },
  "routes": [ { "upstream": "app" } ]
})";

// text, parses, is "off", milliseconds
void checkDuration(const std::string& text, bool parses, bool off, int64_t ms) {
  CAPTURE(text);
  const std::optional<Duration> parsed = parseDuration(text);
  REQUIRE(parsed.has_value() == parses);
  if (!parses) return;
  REQUIRE(parsed->has_value() == !off);
  if (!off) CHECK((*parsed)->count() == ms);
}

// text, parses, host, port
void checkHostPort(const std::string& text, bool parses, const std::string& host, int port) {
  CAPTURE(text);
  const auto parsed = parseHostPort(text);
  REQUIRE(parsed.has_value() == parses);
  if (parses) CHECK(*parsed == HostPort{host, static_cast<uint16_t>(port)});
}

}  // namespace

TEST_CASE("conf: a duration is digits with one unit of ms, s, m or h, or \"off\"",
          "[conf][duration]") {
  auto [text, parses, off, ms] = GENERATE(table<std::string, bool, bool, int64_t>({
      {"250ms", true, false, 250},
      {"0ms", true, false, 0},
      {"10s", true, false, 10000},
      {"5m", true, false, 300000},
      {"1h", true, false, 3600000},
      {"24h", true, false, 86400000},
      {"007s", true, false, 7000},
      {"off", true, true, 0},
  }));
  checkDuration(text, parses, off, ms);
}

TEST_CASE("conf: durations refuse a missing unit, fractions, signs, spaces and overflow",
          "[conf][duration]") {
  auto [text, parses, off, ms] = GENERATE(table<std::string, bool, bool, int64_t>({
      {"10", false, false, 0},    // no unit
      {"s", false, false, 0},     // no number
      {"1.5s", false, false, 0},  // no fractions
      {"-1s", false, false, 0},   // no sign
      {"+1s", false, false, 0},
      {"10 s", false, false, 0},  // no space
      {" 10s", false, false, 0},
      {"10S", false, false, 0},  // units are lower case
      {"10sec", false, false, 0},
      {"1d", false, false, 0},
      {"1h30m", false, false, 0},  // one unit only
      {"OFF", false, false, 0},
      {"", false, false, 0},
      {"10 parsecs", false, false, 0},
      {"9999999999999999999h", false, false, 0},  // overflows
      {"9999999999999h", false, false, 0},        // fits in digits, overflows in ms
  }));
  checkDuration(text, parses, off, ms);
}

TEST_CASE("conf: host:port takes IPv4, bracketed IPv6 or a host name", "[conf][hostport]") {
  auto [text, parses, host, port] = GENERATE(table<std::string, bool, std::string, int>({
      {"127.0.0.1:8080", true, "127.0.0.1", 8080},
      {"0.0.0.0:0", true, "0.0.0.0", 0},
      {"10.0.0.1:65535", true, "10.0.0.1", 65535},
      {"[::1]:8080", true, "::1", 8080},
      {"[::]:80", true, "::", 80},
      {"[2001:db8::1]:443", true, "2001:db8::1", 443},
      {"[::ffff:10.0.0.1]:80", true, "::ffff:10.0.0.1", 80},
      {"localhost:3001", true, "localhost", 3001},
      {"app.internal:3001", true, "app.internal", 3001},
      {"App-1.Example_x.com:1", true, "App-1.Example_x.com", 1},
  }));
  checkHostPort(text, parses, host, port);
}

TEST_CASE("conf: host:port needs a decimal port up to 65535", "[conf][hostport]") {
  auto [text, parses, host, port] = GENERATE(table<std::string, bool, std::string, int>({
      {"127.0.0.1:65536", false, "", 0},
      {"127.0.0.1:99999999", false, "", 0},
      {"127.0.0.1", false, "", 0},
      {"127.0.0.1:", false, "", 0},
      {"127.0.0.1:http", false, "", 0},
      {"127.0.0.1:-1", false, "", 0},
  }));
  checkHostPort(text, parses, host, port);
}

TEST_CASE("conf: host:port refuses unbracketed IPv6, bad brackets and bad hosts",
          "[conf][hostport]") {
  auto [text, parses, host, port] = GENERATE(table<std::string, bool, std::string, int>({
      {":8080", false, "", 0},
      {"::1:8080", false, "", 0},  // IPv6 needs brackets
      {"[::1]", false, "", 0},
      {"[::1]8080", false, "", 0},
      {"[::1:8080", false, "", 0},
      {"[127.0.0.1]:80", false, "", 0},  // brackets are for IPv6
      {"[nothost]:80", false, "", 0},
      {"300.1.1.1:80", false, "", 0},  // all-numeric names must be IPv4 addresses
      {"bad host:80", false, "", 0},
      {"a..b:80", false, "", 0},
      {"http://a:80", false, "", 0},
      {"", false, "", 0},
  }));
  checkHostPort(text, parses, host, port);
}

TEST_CASE("conf: omitted sections take the documented defaults", "[conf][defaults]") {
  const Config config = mustParse(kMinimal);
  CHECK(config.listen == std::vector<HostPort>{{"127.0.0.1", 8080}});
  REQUIRE(config.upstreams.size() == 1);
  const auto& app = config.upstreams.at("app");
  CHECK(app.name == "app");
  CHECK(app.servers == std::vector<HostPort>{{"127.0.0.1", 3001}});
  CHECK(app.keepalive == 32);
  REQUIRE(config.routes.size() == 1);
  CHECK(config.routes[0].host == "*");
  CHECK(config.routes[0].pathPrefix == "/");
  CHECK(config.routes[0].upstream == "app");
  CHECK_FALSE(config.routes[0].upgrade.has_value());
  CHECK(config.routes[0].timeouts.applyTo(config.timeouts) == config.timeouts);

  CHECK(config.timeouts.clientHeader == Duration{10s});
  CHECK(config.timeouts.clientIdle == Duration{60s});
  CHECK(config.timeouts.clientBody == Duration{60s});
  CHECK(config.timeouts.upstreamConnect == Duration{5s});
  CHECK(config.timeouts.upstreamResponse == Duration{60s});
  CHECK(config.timeouts.tunnelIdle == Duration{1h});
  CHECK(config.timeouts.shutdownDrain == Duration{30s});
  CHECK_FALSE(config.timeouts.shutdownDelay.has_value());  // off: the drain begins at once
  CHECK(config.limits.maxHeaderBytes == 16384);
  CHECK(config.limits.maxHeaderCount == 100);
  CHECK(config.limits.maxBodyBytes == 0);
  CHECK(config.limits.maxConnections == 10000);
  CHECK(config.limits.listenBacklog == 511);
  CHECK(config.forwarded.trustedProxies.empty());
  CHECK(config.forwarded.xForwarded);
  CHECK_FALSE(config.forwarded.forwarded);
  CHECK_FALSE(config.forwarded.via);
  CHECK(config.upgrade.allow == std::vector<std::string>{"websocket"});
  CHECK(config.requestIdField == "X-Request-Id");
  CHECK(config.log.access == "stdout");
  CHECK(config.log.format == hoplite::conf::LogSettings::Format::Json);
  CHECK(config.log.errors == "stderr");
  CHECK_FALSE(config.admin.listen.has_value());
}

TEST_CASE("conf: the issue's full example equals the defaults", "[conf][defaults]") {
  const Config full = mustParse(R"({
    "listen": ["127.0.0.1:8080"],
    "upstreams": { "app": { "servers": ["127.0.0.1:3001"], "keepalive": 32 } },
    "routes": [ { "host": "*", "path_prefix": "/", "upstream": "app" } ],
    "timeouts": {
      "client_header": "10s", "client_idle": "60s", "client_body": "60s",
      "upstream_connect": "5s", "upstream_response": "60s",
      "tunnel_idle": "1h", "shutdown_drain": "30s", "shutdown_delay": "off"
    },
    "limits": { "max_header_bytes": 16384, "max_header_count": 100, "max_body_bytes": 0,
                "max_connections": 10000, "listen_backlog": 511 },
    "forwarded": { "trusted_proxies": [], "x_forwarded": true, "forwarded": false, "via": false },
    "upgrade": { "allow": ["websocket"] },
    "workers": 1,
    "request_id": "X-Request-Id",
    "log": { "access": "stdout", "format": "json", "errors": "stderr" }
  })");
  const Config minimal = mustParse(kMinimal);
  CHECK(full.log == minimal.log);
  CHECK(full.workers == minimal.workers);
  CHECK(full.requestIdField == minimal.requestIdField);
  CHECK(minimal.workers == 1);
  CHECK(full.timeouts == minimal.timeouts);
  CHECK(full.limits == minimal.limits);
  CHECK(full.upgrade == minimal.upgrade);
  CHECK(full.forwarded.xForwarded == minimal.forwarded.xForwarded);
  CHECK(full.routes[0].host == minimal.routes[0].host);
  CHECK(full.routes[0].pathPrefix == minimal.routes[0].pathPrefix);
}

TEST_CASE("conf: every key is read into its member", "[conf]") {
  const Config config = mustParse(R"({
    "listen": ["0.0.0.0:80", "[::]:80", "127.0.0.1:0", "127.0.0.1:0"],
    "upstreams": {
      "api": { "servers": ["10.0.0.11:8000", "api.internal:8001", "[fd00::1]:8002"],
               "keepalive": 0 },
      "web": { "servers": ["10.0.0.31:3000"], "keepalive": 4294967295 }
    },
    "routes": [
      { "host": "API.Example.COM", "upstream": "api", "upgrade": { "allow": [] } },
      { "host": "*.Example.com", "path_prefix": "/ws", "upstream": "web",
        "upgrade": { "allow": ["WebSocket", "websocket", "x-custom"] } },
      { "host": "[::1]", "upstream": "web" },
      { "host": "192.168.1.1", "path_prefix": "/a/b%20c", "upstream": "web" }
    ],
    "timeouts": { "client_header": "250ms", "tunnel_idle": "off", "shutdown_drain": "5m",
                  "shutdown_delay": "15s" },
    "limits": { "max_header_bytes": 1, "max_header_count": 7, "max_body_bytes": 1048576,
                "max_connections": 18446744073709551615, "listen_backlog": 65535 },
    "forwarded": { "trusted_proxies": ["10.0.0.0/8", "::1", "fd00::/8"], "x_forwarded": false,
                   "forwarded": true, "via": true },
    "upgrade": { "allow": [] }
  })");
  // Port 0 may repeat: each asks the kernel for a fresh port.
  CHECK(config.listen ==
        std::vector<HostPort>{{"0.0.0.0", 80}, {"::", 80}, {"127.0.0.1", 0}, {"127.0.0.1", 0}});
  CHECK(config.upstreams.at("api").servers ==
        std::vector<HostPort>{{"10.0.0.11", 8000}, {"api.internal", 8001}, {"fd00::1", 8002}});
  CHECK(config.upstreams.at("api").keepalive == 0);
  CHECK(config.upstreams.at("web").keepalive == 4294967295u);
  REQUIRE(config.routes.size() == 4);
  CHECK(config.routes[0].host == "api.example.com");
  REQUIRE(config.routes[0].upgrade.has_value());
  CHECK(config.routes[0].upgrade->allow.empty());
  CHECK(config.routes[1].host == "*.example.com");
  CHECK(config.routes[1].pathPrefix == "/ws");
  REQUIRE(config.routes[1].upgrade.has_value());
  CHECK(config.routes[1].upgrade->allow == std::vector<std::string>{"websocket", "x-custom"});
  CHECK(config.routes[2].host == "[::1]");
  CHECK(config.routes[3].host == "192.168.1.1");
  CHECK(config.routes[3].pathPrefix == "/a/b%20c");
  CHECK(config.timeouts.clientHeader == Duration{250ms});
  CHECK_FALSE(config.timeouts.tunnelIdle.has_value());
  CHECK(config.timeouts.shutdownDrain == Duration{5min});
  CHECK(config.timeouts.shutdownDelay == Duration{15s});
  CHECK(config.timeouts.clientIdle == Duration{60s});  // untouched keys keep their default
  CHECK(config.limits.maxHeaderBytes == 1);
  CHECK(config.limits.maxHeaderCount == 7);
  CHECK(config.limits.maxBodyBytes == 1048576);
  CHECK(config.limits.maxConnections == 18446744073709551615u);
  CHECK(config.limits.listenBacklog == 65535);
  REQUIRE(config.forwarded.trustedProxies.size() == 3);
  CHECK(config.forwarded.trustedProxies[0].toText() == "10.0.0.0/8");
  CHECK(config.forwarded.trustedProxies[1].toText() == "::1/128");
  CHECK(config.forwarded.trustedProxies[2].toText() == "fd00::/8");
  CHECK_FALSE(config.forwarded.xForwarded);
  CHECK(config.forwarded.forwarded);
  CHECK(config.forwarded.via);
  CHECK(config.upgrade.allow.empty());
}

TEST_CASE("conf: route timeouts override the global ones key by key", "[conf][timeouts]") {
  const Config config = mustParse(R"({
    "listen": ["127.0.0.1:8080"],
    "upstreams": { "app": { "servers": ["127.0.0.1:3001"] } },
    "routes": [
      { "path_prefix": "/socket", "upstream": "app",
        "timeouts": { "tunnel_idle": "24h", "upstream_response": "off" } },
      { "upstream": "app", "timeouts": {} }
    ],
    "timeouts": { "client_idle": "30s", "tunnel_idle": "10m", "shutdown_delay": "5s" }
  })");
  // route index, expected effective timeouts (shutdown_delay, global only, is the global value)
  auto [index, expected] = GENERATE(table<size_t, Timeouts>({
      {0, Timeouts{Duration{10s}, Duration{30s}, Duration{60s}, Duration{5s}, Duration{},
                   Duration{24h}, Duration{30s}, Duration{5s}}},
      {1, Timeouts{Duration{10s}, Duration{30s}, Duration{60s}, Duration{5s}, Duration{60s},
                   Duration{10min}, Duration{30s}, Duration{5s}}},
  }));
  CAPTURE(index);
  const Timeouts effective = config.routes.at(index).timeouts.applyTo(config.timeouts);
  CHECK(effective == expected);
  // Only the named keys are set on the route itself.
  if (index == 0) {
    CHECK(config.routes[0].timeouts.tunnelIdle == std::optional<Duration>{Duration{24h}});
    CHECK(config.routes[0].timeouts.upstreamResponse == std::optional<Duration>{Duration{}});
    CHECK_FALSE(config.routes[0].timeouts.clientIdle.has_value());
  }
}

TEST_CASE("conf: loadConfigFile reads a file and reports a missing one", "[conf]") {
  const LoadResult shipped = hoplite::conf::loadConfigFile(HOPLITE_SOURCE_DIR "/conf/hoplite.json");
  for (const auto& error : shipped.errors) UNSCOPED_INFO(error.toText());
  REQUIRE(shipped.config.has_value());
  // The shipped config turns the admin listener on, on loopback; the rest is the defaults.
  CHECK(shipped.config->admin.listen == HostPort{"127.0.0.1", 9901});
  CHECK(shipped.config->log.errors == "stderr");

  const LoadResult missing = hoplite::conf::loadConfigFile("/nonexistent/hoplite.json");
  CHECK_FALSE(missing.config.has_value());
  REQUIRE(missing.errors.size() == 1);
  CHECK(missing.errors[0].path.empty());
  CHECK_THAT(missing.errors[0].toText(),
             Catch::StartsWith("cannot read \"/nonexistent/hoplite.json\""));
}

TEST_CASE("conf: host names are dot-separated labels of up to 63 characters", "[conf][hostport]") {
  auto [host, valid] = GENERATE(table<std::string, bool>({
      {"example.com", true},
      {"a", true},
      {"app_1.internal", true},
      {"xn--bcher-kva.example", true},
      {std::string(63, 'a') + ".com", true},
      {std::string(64, 'a') + ".com", false},  // label longer than 63
      {"example.com.", false},
      {".example.com", false},
      {"a..b", false},
      {"", false},
      {"ex ample.com", false},
  }));
  CAPTURE(host);
  CHECK(hoplite::conf::isHostName(host) == valid);
}

TEST_CASE("conf: an all-numeric host name must be an IPv4 address, and no IPv6 or pattern",
          "[conf][hostport]") {
  auto [host, valid] = GENERATE(table<std::string, bool>({
      {"10.0.0.1", true},
      {"300.1.1.1", false},
      {"1.2.3", false},
      {"::1", false},
      {"*.example.com", false},  // a pattern, not a name
  }));
  CAPTURE(host);
  CHECK(hoplite::conf::isHostName(host) == valid);
}

TEST_CASE("conf: log.access takes stdout, stderr, off or a file in a directory that exists",
          "[conf]") {
  constexpr std::string_view kBase =
      R"({"listen": ["127.0.0.1:0"], "upstreams": {"app": {"servers": ["127.0.0.1:1"]}},
          "routes": [{"upstream": "app"}], "log": {"access": )";
  for (const char* access :
       {"stdout", "stderr", "off", "/tmp/hoplite-access.log", "relative.log"}) {
    CAPTURE(access);
    CHECK(mustParse(std::string(kBase) + "\"" + access + "\"}}").log.access == access);
  }
}

TEST_CASE("conf: routes may have names", "[conf]") {
  const hoplite::conf::Config config = mustParse(
      R"({"listen": ["127.0.0.1:0"], "upstreams": {"app": {"servers": ["127.0.0.1:1"]}},
          "routes": [{"upstream": "app", "name": "ws_chat-2"}, {"upstream": "app"}]})");
  CHECK(config.routes[0].name == "ws_chat-2");
  CHECK(config.routes[1].name.empty());
}

TEST_CASE("conf: log.format is json or elb", "[conf]") {
  constexpr std::string_view kBase =
      R"({"listen": ["127.0.0.1:0"], "upstreams": {"app": {"servers": ["127.0.0.1:1"]}},
          "routes": [{"upstream": "app"}], "log": {"format": )";
  CHECK(mustParse(std::string(kBase) + R"("json"}})").log.format ==
        hoplite::conf::LogSettings::Format::Json);
  CHECK(mustParse(std::string(kBase) + R"("elb"}})").log.format ==
        hoplite::conf::LogSettings::Format::Elb);
}

TEST_CASE("conf: request_id names the ID's field, or is off", "[conf]") {
  constexpr std::string_view kBase =
      R"({"listen": ["127.0.0.1:0"], "upstreams": {"app": {"servers": ["127.0.0.1:1"]}},
          "routes": [{"upstream": "app"}], "request_id": )";
  CHECK(mustParse(std::string(kBase) + R"("X-Correlation-Id"})").requestIdField ==
        "X-Correlation-Id");
  CHECK(mustParse(std::string(kBase) + R"("off"})").requestIdField.empty());
}

TEST_CASE("conf: workers takes a count, or auto for one per CPU", "[conf]") {
  CHECK(mustParse(R"({"listen": ["127.0.0.1:0"], "upstreams": {"app": {"servers": ["127.0.0.1:1"]}},
                      "routes": [{"upstream": "app"}], "workers": 4})")
            .workers == 4);
  CHECK(mustParse(R"({"listen": ["127.0.0.1:0"], "upstreams": {"app": {"servers": ["127.0.0.1:1"]}},
                      "routes": [{"upstream": "app"}], "workers": 256})")
            .workers == 256);
  const uint32_t cpus = std::max(1u, std::thread::hardware_concurrency());
  CHECK(mustParse(R"({"listen": ["127.0.0.1:0"], "upstreams": {"app": {"servers": ["127.0.0.1:1"]}},
                      "routes": [{"upstream": "app"}], "workers": "auto"})")
            .workers == std::min(cpus, hoplite::conf::kMaxWorkers));
}

TEST_CASE("conf: log.errors takes stderr or a file in a directory that exists", "[conf]") {
  constexpr std::string_view kBase =
      R"({"listen": ["127.0.0.1:0"], "upstreams": {"app": {"servers": ["127.0.0.1:1"]}},
          "routes": [{"upstream": "app"}], "log": {"errors": )";
  for (const char* errors : {"stderr", "/tmp/hoplite-errors.log", "relative-errors.log"}) {
    CAPTURE(errors);
    CHECK(mustParse(std::string(kBase) + "\"" + errors + "\"}}").log.errors == errors);
  }
}

TEST_CASE("conf: admin.listen is an IP address and port, off when absent or {}", "[conf]") {
  constexpr std::string_view kBase =
      R"({"listen": ["127.0.0.1:8080", "[::1]:8080"],
          "upstreams": {"app": {"servers": ["127.0.0.1:1"]}}, "routes": [{"upstream": "app"}],
          "admin": )";
  // admin section, expected listen address ("" for off)
  auto [admin, host, port] = GENERATE(table<std::string, std::string, int>({
      {R"({})", "", 0},
      {R"({"listen": "127.0.0.1:9901"})", "127.0.0.1", 9901},
      {R"({"listen": "[::1]:9901"})", "::1", 9901},
      {R"({"listen": "0.0.0.0:9901"})", "0.0.0.0", 9901},
      {R"({"listen": "[::]:9901"})", "::", 9901},
      // The proxy's port on another host, with neither host a wildcard, does not collide.
      {R"({"listen": "10.0.0.1:8080"})", "10.0.0.1", 8080},
      // Port 0 never collides: each listener gets a fresh port from the kernel.
      {R"({"listen": "127.0.0.1:0"})", "127.0.0.1", 0},
  }));
  CAPTURE(admin);
  const Config config = mustParse(std::string(kBase) + admin + "}");
  if (host.empty()) {
    CHECK_FALSE(config.admin.listen.has_value());
  } else {
    CHECK(config.admin.listen == HostPort{host, static_cast<uint16_t>(port)});
  }
}

TEST_CASE("conf: port 0 for both the proxy and the admin listener is no collision", "[conf]") {
  const Config config = mustParse(
      R"({"listen": ["0.0.0.0:0", "127.0.0.1:0"], "upstreams": {"app": {"servers": ["a:1"]}},
          "routes": [{"upstream": "app"}], "admin": {"listen": "127.0.0.1:0"}})");
  CHECK(config.admin.listen == HostPort{"127.0.0.1", 0});
}

TEST_CASE("conf: every shipped example turns the admin listener on at 127.0.0.1:9901", "[conf]") {
  auto name = GENERATE(as<std::string>{}, "behind_load_balancer", "ipv6", "one_app",
                       "routes_by_host_and_path");
  CAPTURE(name);
  const LoadResult result =
      hoplite::conf::loadConfigFile(HOPLITE_SOURCE_DIR "/conf/examples/" + name + ".json");
  for (const auto& error : result.errors) UNSCOPED_INFO(error.toText());
  REQUIRE(result.config.has_value());
  CHECK(result.config->admin.listen == HostPort{"127.0.0.1", 9901});
}

TEST_CASE("conf: servers as objects, balance, hash_key and passive_health", "[conf][upstreams]") {
  const Config config = mustParse(R"({
    "listen": ["127.0.0.1:8080"],
    "upstreams": {
      "ws": {
        "servers": ["10.0.0.11:8000", {"address": "10.0.0.12:8000", "weight": 3},
                    {"address": "10.0.0.13:8000", "backup": true, "max_connections": 100}],
        "balance": "least_connections",
        "passive_health": {"max_fails": 3, "fail_window": "5s", "eject_for": "30s"}
      },
      "poll": {"servers": ["a:1", "b:1"], "balance": "hash", "hash_key": "cookie:session"},
      "plain": {"servers": ["c:1"]}
    },
    "routes": [ { "upstream": "ws" } ]
  })");
  const auto& ws = config.upstreams.at("ws");
  REQUIRE(ws.servers.size() == 3);
  REQUIRE(ws.serverOptions.size() == 3);
  CHECK(ws.servers[1] == HostPort{"10.0.0.12", 8000});
  CHECK(ws.serverOptions[0] == hoplite::conf::ServerOptions{});
  CHECK(ws.serverOptions[1].weight == 3);
  CHECK(ws.serverOptions[2].backup);
  CHECK(ws.serverOptions[2].maxConnections == 100);
  CHECK(ws.balance == hoplite::conf::Balance::LeastConnections);
  CHECK(ws.passiveHealth.maxFails == 3);
  CHECK(ws.passiveHealth.failWindow == 5s);
  CHECK(ws.passiveHealth.ejectFor == 30s);

  // "Header:" is not a kind: kinds are lower-case, so this is an error...
  CHECK_FALSE(parseConfig(R"({"listen": ["127.0.0.1:8080"],
    "upstreams": {"p": {"servers": ["a:1"], "balance": "hash", "hash_key": "Header:X-User"}},
    "routes": [{"upstream": "p"}]})")
                  .config.has_value());
  // ...but the header's name is case-insensitive, kept lower-case.
  const Config hashed = mustParse(R"({"listen": ["127.0.0.1:8080"],
    "upstreams": {"p": {"servers": ["a:1"], "balance": "hash", "hash_key": "header:X-User"}},
    "routes": [{"upstream": "p"}]})");
  CHECK(hashed.upstreams.at("p").hashKey ==
        hoplite::conf::HashKey{hoplite::conf::HashKey::Kind::Header, "x-user"});

  const auto& plain = config.upstreams.at("plain");
  CHECK(plain.balance == hoplite::conf::Balance::RoundRobin);
  CHECK(plain.passiveHealth == hoplite::conf::PassiveHealth{});
  CHECK(plain.passiveHealth.maxFails == 1);
  CHECK(plain.passiveHealth.ejectFor == 10s);
}

TEST_CASE("conf: health_check with its defaults and every form of expect_status",
          "[conf][upstreams]") {
  const Config config = mustParse(R"({
    "listen": ["127.0.0.1:8080"],
    "upstreams": {
      "a": {"servers": ["a:1"], "health_check": {"path": "/healthz"}},
      "b": {"servers": ["b:1"], "health_check": {"path": "/ready?full=1", "interval": "2s",
            "timeout": "500ms", "healthy_after": 1, "unhealthy_after": 5,
            "expect_status": ["200-399", 418, "5xx"], "host": "app.internal"}}
    },
    "routes": [ { "upstream": "a" } ]
  })");
  const auto& a = *config.upstreams.at("a").healthCheck;
  CHECK(a.path == "/healthz");
  CHECK(a.interval == 5s);
  CHECK(a.timeout == 2s);
  CHECK(a.healthyAfter == 2);
  CHECK(a.unhealthyAfter == 3);
  CHECK(a.expectStatus == std::vector<std::pair<uint16_t, uint16_t>>{{200, 299}});
  CHECK(a.host.empty());
  const auto& b = *config.upstreams.at("b").healthCheck;
  CHECK(b.path == "/ready?full=1");
  CHECK(b.interval == 2s);
  CHECK(b.timeout == 500ms);
  CHECK(b.expectStatus ==
        std::vector<std::pair<uint16_t, uint16_t>>{{200, 399}, {418, 418}, {500, 599}});
  CHECK(b.host == "app.internal");
  CHECK_FALSE(mustParse(R"({"listen": ["127.0.0.1:8080"], "upstreams": {"a": {"servers": ["a:1"]}},
    "routes": [{"upstream": "a"}]})")
                  .upstreams.at("a")
                  .healthCheck.has_value());
}
