// The JSON config loader: nlohmann/json for syntax, then one validating pass that builds a Config
// and collects every error with its JSON pointer (RFC 6901) and a fix.
//
// Exceptions: nlohmann throws on broken JSON; that is caught here and turned into a ConfigError.
// Nothing escapes parseConfig or loadConfigFile (the style guide allows exceptions inside conf/
// only).
#include "conf/config_loader.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <span>
#include <sstream>
#include <thread>

#include "conf/host_port.h"
#include "conf/suggest.h"

namespace hoplite::conf {

namespace {

// ordered_json keeps the document's key order, so errors come out in the order the user wrote.
using Json = nlohmann::ordered_json;

// ------------------------------------------------------------------------------------------
// Small text helpers.

std::string lowerCase(std::string_view text) {
  std::string result(text);
  for (char& c : result) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return result;
}

bool isDigit(char c) {
  return c >= '0' && c <= '9';
}

// One reference token of a JSON pointer: "~" becomes "~0" and "/" becomes "~1" (RFC 6901 §3).
std::string pointerToken(std::string_view key) {
  std::string token;
  for (char c : key) {
    if (c == '~') {
      token += "~0";
    } else if (c == '/') {
      token += "~1";
    } else {
      token += c;
    }
  }
  return token;
}

std::string child(const std::string& path, std::string_view key) {
  return path + "/" + pointerToken(key);
}
std::string child(const std::string& path, size_t index) {
  return path + "/" + std::to_string(index);
}

// A JSON string literal for `text`, as it would appear in the config.
std::string quote(std::string_view text) {
  return Json(std::string(text)).dump(-1, ' ', false, Json::error_handler_t::replace);
}

// A value as the user wrote it, cut short (at a UTF-8 boundary) so one error stays one line.
std::string show(const Json& value) {
  constexpr size_t kMaxShown = 60;
  std::string text = value.dump(-1, ' ', false, Json::error_handler_t::replace);
  if (text.size() <= kMaxShown) return text;
  size_t cut = kMaxShown - 3;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return text.substr(0, cut) + "...";
}

std::string joinQuoted(std::span<const std::string_view> words) {
  std::string result;
  for (std::string_view word : words) {
    if (!result.empty()) result += ", ";
    result += quote(word);
  }
  return result;
}

// RFC 9110 §5.6.2 tchar.
bool isTokenChar(char c) {
  if (std::isalnum(static_cast<unsigned char>(c)) != 0) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// ------------------------------------------------------------------------------------------
// Key tables: one place names every key, its member and (for numbers) what is valid.

constexpr std::string_view kTopKeys[] = {"listen",     "upstreams", "routes",  "timeouts",
                                         "limits",     "forwarded", "upgrade", "workers",
                                         "request_id", "log",       "admin"};
constexpr std::string_view kLogKeys[] = {"access", "format", "errors"};
constexpr std::string_view kAdminKeys[] = {"listen"};
constexpr std::string_view kUpstreamKeys[] = {"servers",  "keepalive",      "balance",
                                              "hash_key", "passive_health", "health_check"};
constexpr std::string_view kHealthCheckKeys[] = {
    "path", "interval", "timeout", "healthy_after", "unhealthy_after", "expect_status", "host"};
constexpr std::string_view kServerKeys[] = {"address", "weight", "backup", "max_connections"};
constexpr std::string_view kPassiveHealthKeys[] = {"max_fails", "fail_window", "eject_for"};
constexpr std::string_view kBalanceNames[] = {"round_robin", "least_connections", "random_two",
                                              "hash"};
constexpr std::string_view kRouteKeys[] = {"host",     "path_prefix", "upstream",
                                           "timeouts", "upgrade",     "name"};
constexpr std::string_view kForwardedKeys[] = {"trusted_proxies", "x_forwarded", "forwarded",
                                               "via"};
constexpr std::string_view kUpgradeKeys[] = {"allow"};

struct TimeoutKey {
  std::string_view key;
  Duration Timeouts::*global;
  // nullptr: a global-only key, which a route may not override.
  std::optional<Duration> TimeoutOverrides::*override;
};
constexpr TimeoutKey kTimeoutTable[] = {
    {"client_header", &Timeouts::clientHeader, &TimeoutOverrides::clientHeader},
    {"client_idle", &Timeouts::clientIdle, &TimeoutOverrides::clientIdle},
    {"client_body", &Timeouts::clientBody, &TimeoutOverrides::clientBody},
    {"upstream_connect", &Timeouts::upstreamConnect, &TimeoutOverrides::upstreamConnect},
    {"upstream_response", &Timeouts::upstreamResponse, &TimeoutOverrides::upstreamResponse},
    {"tunnel_idle", &Timeouts::tunnelIdle, &TimeoutOverrides::tunnelIdle},
    {"shutdown_drain", &Timeouts::shutdownDrain, &TimeoutOverrides::shutdownDrain},
    {"shutdown_delay", &Timeouts::shutdownDelay, nullptr},
};
constexpr std::string_view kTimeoutKeys[] = {"client_header",    "client_idle",       "client_body",
                                             "upstream_connect", "upstream_response", "tunnel_idle",
                                             "shutdown_drain",   "shutdown_delay"};

struct LimitKey {
  std::string_view key;
  uint64_t Limits::*member;
  uint64_t minimum;  // 1 where 0 would refuse everything, 0 where 0 means "unlimited"
  uint64_t maximum = std::numeric_limits<uint64_t>::max();
};
constexpr LimitKey kLimitTable[] = {
    {"max_header_bytes", &Limits::maxHeaderBytes, 1},
    {"max_header_count", &Limits::maxHeaderCount, 1},
    {"max_body_bytes", &Limits::maxBodyBytes, 0},
    {"max_connections", &Limits::maxConnections, 1},
    // Linux silently lowers a backlog to net.core.somaxconn; 65535 is the most that every
    // kernel keeps (older ones store it in 16 bits).
    {"listen_backlog", &Limits::listenBacklog, 1, 65535},
};
constexpr std::string_view kLimitKeys[] = {"max_header_bytes", "max_header_count", "max_body_bytes",
                                           "max_connections", "listen_backlog"};

constexpr std::string_view kDurationHelp = "use a number with ms, s, m or h, or \"off\"";

// ------------------------------------------------------------------------------------------
// The validating reader. Each method reads one kind of value at one JSON pointer; on a problem it
// records an error and returns nothing, and the caller carries on with the next value, so one
// pass reports every error.

class Reader {
 public:
  explicit Reader(std::vector<ConfigError>& errors) : errors_(errors) {}

  void fail(const std::string& path, std::string message) {
    errors_.push_back({path, std::move(message)});
  }

  // True when `value` is an object. `example` shows the user what belongs there.
  bool expectObject(const Json& value, const std::string& path, std::string_view example) {
    if (value.is_object()) return true;
    fail(path, show(value) + " is not an object; use an object such as " + std::string(example));
    return false;
  }

  // True when `value` is an array (empty ones included).
  bool expectArray(const Json& value, const std::string& path, std::string_view example) {
    if (value.is_array()) return true;
    fail(path, show(value) + " is not a list; use a list such as " + std::string(example));
    return false;
  }

  // Reports every key of `object` that is not in `known`, suggesting the nearest known key.
  void rejectUnknownKeys(const Json& object, const std::string& path,
                         std::span<const std::string_view> known) {
    for (const auto& [key, value] : object.items()) {
      if (std::find(known.begin(), known.end(), key) != known.end()) continue;
      if (const auto suggestion = closestWord(key, known)) {
        fail(child(path, key), "unknown key; did you mean " + quote(*suggestion) + "?");
      } else {
        fail(child(path, key), "unknown key; the keys allowed here are " + joinQuoted(known));
      }
    }
  }

  // Reports a required key that is absent from `object` (whose pointer is `path`).
  bool require(const Json& object, const std::string& path, std::string_view key,
               std::string_view example) {
    if (object.contains(key)) return true;
    fail(path,
         "missing " + quote(key) + "; add it, e.g. " + quote(key) + ": " + std::string(example));
    return false;
  }

  std::optional<std::string> string(const Json& value, const std::string& path,
                                    std::string_view valid) {
    if (value.is_string()) return value.get<std::string>();
    fail(path, show(value) + " is not a string; " + std::string(valid));
    return std::nullopt;
  }

  std::optional<bool> flag(const Json& value, const std::string& path) {
    if (value.is_boolean()) return value.get<bool>();
    fail(path, show(value) + " is not a boolean; use true or false (without quotes)");
    return std::nullopt;
  }

  // A whole number in [minimum, maximum]. JSON has one number type; nlohmann tells us whether the
  // text was a non-negative integer, a negative one, or had a fraction or exponent.
  std::optional<uint64_t> count(const Json& value, const std::string& path, uint64_t minimum,
                                uint64_t maximum) {
    std::string valid;
    if (maximum != std::numeric_limits<uint64_t>::max()) {
      valid =
          "use a whole number from " + std::to_string(minimum) + " to " + std::to_string(maximum);
    } else if (minimum == 0) {
      valid = "use a whole number, 0 or more";
    } else {
      valid = "use a whole number greater than " + std::to_string(minimum - 1);
    }
    if (value.is_number_unsigned()) {
      const uint64_t number = value.get<uint64_t>();
      if (number >= minimum && number <= maximum) return number;
      fail(path, show(value) + " is out of range; " + valid);
    } else if (value.is_number_integer()) {
      fail(path, show(value) + " is negative; " + valid);
    } else if (value.is_number_float()) {
      fail(path, show(value) + " is not a whole number; " + valid);
    } else {
      fail(path, show(value) + " is not a number; " + valid);
    }
    return std::nullopt;
  }

  std::optional<Duration> duration(const Json& value, const std::string& path) {
    if (value.is_number()) {
      const std::string example =
          value.is_number_unsigned() ? quote(value.dump() + "s") : std::string("\"10s\"");
      fail(path, show(value) + " has no unit; add one, e.g. " + example +
                     " (ms, s, m or h), or use \"off\"");
      return std::nullopt;
    }
    if (!value.is_string()) {
      fail(path, show(value) + " is not a duration; " + std::string(kDurationHelp));
      return std::nullopt;
    }
    const std::string text = value.get<std::string>();
    const std::optional<Duration> parsed = parseDuration(text);
    if (!parsed) {
      fail(path, show(value) + " is not a duration; " + std::string(kDurationHelp));
      return std::nullopt;
    }
    if (*parsed && (*parsed)->count() == 0) {
      // A zero timer would expire at once; "off" is almost certainly what was meant.
      fail(path, show(value) +
                     " would expire at once; use a positive duration, or \"off\" for "
                     "no timeout");
      return std::nullopt;
    }
    return parsed;
  }

  // "host:port". Listen addresses must be IP literals (hoplite binds them without a resolver) and
  // may use port 0; servers may be host names and need a real port.
  std::optional<HostPort> hostPort(const Json& value, const std::string& path, bool listen) {
    const std::string valid =
        listen ? "use an IPv4 or [IPv6] address and a port from 0 to 65535, e.g. "
                 "\"127.0.0.1:8080\" or \"[::1]:8080\""
               : "use \"host:port\" with a port from 1 to 65535, e.g. \"127.0.0.1:3001\" or "
                 "\"app.internal:3001\"";
    const auto text = string(value, path, valid);
    if (!text) return std::nullopt;
    HostPortParse parsed = splitHostPort(*text);
    if (!parsed.value) {
      fail(path, quote(*text) + " " + parsed.problem + "; " + valid);
      return std::nullopt;
    }
    if (listen && !IpAddress::fromText(parsed.value->host)) {
      fail(path, quote(*text) + " does not start with an IP address; " + valid);
      return std::nullopt;
    }
    if (!listen && parsed.value->port == 0) {
      fail(path, quote(*text) + " has port 0, which only \"listen\" accepts; " + valid);
      return std::nullopt;
    }
    return parsed.value;
  }

  std::optional<Cidr> cidr(const Json& value, const std::string& path) {
    static constexpr std::string_view kValid =
        "use an IPv4 or IPv6 address with an optional /prefix, e.g. \"10.0.0.0/8\", "
        "\"192.168.1.10\" or \"fd00::/8\"";
    const auto text = string(value, path, kValid);
    if (!text) return std::nullopt;
    if (auto parsed = Cidr::fromText(*text)) return parsed;
    // Tell "host bits set" apart from plain garbage, and offer the network the user likely meant.
    const size_t slash = text->find('/');
    const auto address = IpAddress::fromText(std::string_view(*text).substr(0, slash));
    uint32_t prefix = 0;
    if (address && slash != std::string::npos) {
      const std::string digits = text->substr(slash + 1);
      const size_t maxBits = address->family == IpAddress::Family::V4 ? 32 : 128;
      const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
      if (ec == std::errc() && end == digits.data() + digits.size() && !digits.empty() &&
          prefix <= maxBits) {
        IpAddress network = *address;
        for (size_t bit = prefix; bit < maxBits; ++bit) {
          network.bytes[bit / 8] &= static_cast<uint8_t>(~(0x80u >> (bit % 8)));
        }
        const std::string meant = network.toText() + "/" + std::to_string(prefix);
        if (Cidr::fromText(meant)) {
          fail(path, quote(*text) + " has host bits set below its /" + std::to_string(prefix) +
                         " prefix; did you mean " + quote(meant) + "?");
          return std::nullopt;
        }
      }
    }
    fail(path, quote(*text) + " is not a CIDR; " + std::string(kValid));
    return std::nullopt;
  }

 private:
  std::vector<ConfigError>& errors_;
};

// ------------------------------------------------------------------------------------------
// Sections.

std::vector<HostPort> readListen(Reader& reader, const Json& value, const std::string& path) {
  std::vector<HostPort> result;
  if (!reader.expectArray(value, path, "[\"127.0.0.1:8080\"]")) return result;
  if (value.empty()) {
    reader.fail(path, "no addresses; list at least one, e.g. [\"127.0.0.1:8080\"]");
    return result;
  }
  std::vector<std::pair<IpAddress, uint16_t>> seen;
  for (size_t i = 0; i < value.size(); ++i) {
    const std::string itemPath = child(path, i);
    auto address = reader.hostPort(value[i], itemPath, /*listen=*/true);
    if (!address) continue;
    // Port 0 asks the kernel for a fresh port each time, so only fixed ports can collide.
    const IpAddress ip = *IpAddress::fromText(address->host);
    if (address->port != 0) {
      const auto same = std::find(seen.begin(), seen.end(), std::pair(ip, address->port));
      if (same != seen.end()) {
        reader.fail(itemPath,
                    quote(value[i].get<std::string>()) + " is listed twice; remove one of them");
        continue;
      }
      seen.emplace_back(ip, address->port);
    }
    result.push_back(std::move(*address));
  }
  return result;
}

// A "servers" entry: "host:port", or {"address": "host:port", "weight": 3, "backup": true,
// "max_connections": 100}.
void readServer(Reader& reader, const Json& value, const std::string& path, Upstream& upstream) {
  ServerOptions options;
  std::optional<HostPort> address;
  if (value.is_object()) {
    reader.rejectUnknownKeys(value, path, kServerKeys);
    if (reader.require(value, path, "address", "\"127.0.0.1:3001\"")) {
      address = reader.hostPort(value["address"], child(path, "address"), false);
    }
    if (value.contains("weight")) {
      if (auto weight = reader.count(value["weight"], child(path, "weight"), 1, kMaxServerWeight)) {
        options.weight = static_cast<uint32_t>(*weight);
      }
    }
    if (value.contains("backup")) {
      if (auto backup = reader.flag(value["backup"], child(path, "backup"))) {
        options.backup = *backup;
      }
    }
    if (value.contains("max_connections")) {
      if (auto most = reader.count(value["max_connections"], child(path, "max_connections"), 0,
                                   std::numeric_limits<uint32_t>::max())) {
        options.maxConnections = static_cast<uint32_t>(*most);
      }
    }
  } else if (value.is_string()) {
    address = reader.hostPort(value, path, false);
  } else {
    reader.fail(path, show(value) +
                          " is not a server; use \"host:port\", e.g. \"127.0.0.1:3001\", or an "
                          "object such as {\"address\": \"127.0.0.1:3001\", \"weight\": 2}");
  }
  if (!address) return;
  upstream.servers.push_back(std::move(*address));
  upstream.serverOptions.push_back(options);
}

// "balance" and "hash_key", which only "balance": "hash" reads.
void readBalance(Reader& reader, const Json& body, const std::string& upstreamPath,
                 Upstream& upstream) {
  const std::string valid = "use one of " + joinQuoted(kBalanceNames);
  bool balanceRead = !body.contains("balance");
  if (body.contains("balance")) {
    const std::string path = child(upstreamPath, "balance");
    if (auto name = reader.string(body["balance"], path, valid)) {
      const auto* found = std::find(std::begin(kBalanceNames), std::end(kBalanceNames), *name);
      if (found == std::end(kBalanceNames)) {
        if (const auto suggestion = closestWord(*name, kBalanceNames)) {
          reader.fail(path,
                      quote(*name) + " is not a balance; did you mean " + quote(*suggestion) + "?");
        } else {
          reader.fail(path, quote(*name) + " is not a balance; " + valid);
        }
      } else {
        upstream.balance = static_cast<Balance>(found - std::begin(kBalanceNames));
        balanceRead = true;
      }
    }
  }
  const std::string keyPath = child(upstreamPath, "hash_key");
  static constexpr std::string_view kKeyValid =
      "use \"client_ip\", \"header:NAME\" or \"cookie:NAME\", e.g. \"cookie:session\"";
  if (body.contains("hash_key")) {
    if (auto text = reader.string(body["hash_key"], keyPath, kKeyValid)) {
      const size_t colon = text->find(':');
      const std::string kind = text->substr(0, colon);
      const std::string name = colon == std::string::npos ? "" : text->substr(colon + 1);
      if (*text == "client_ip") {
        upstream.hashKey.kind = HashKey::Kind::ClientIp;
      } else if ((kind == "header" || kind == "cookie") && colon != std::string::npos) {
        if (name.empty() || !std::all_of(name.begin(), name.end(), isTokenChar)) {
          reader.fail(keyPath, quote(*text) + " names no valid " + kind + " after the colon; " +
                                   std::string(kKeyValid));
        } else {
          upstream.hashKey.kind = kind == "header" ? HashKey::Kind::Header : HashKey::Kind::Cookie;
          upstream.hashKey.name = name;
          if (kind == "header") {
            std::transform(upstream.hashKey.name.begin(), upstream.hashKey.name.end(),
                           upstream.hashKey.name.begin(),
                           [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
          }
        }
      } else {
        reader.fail(keyPath,
                    quote(*text) + " is not a kind of hash key; " + std::string(kKeyValid));
      }
      if (balanceRead && upstream.balance != Balance::Hash) {
        reader.fail(keyPath,
                    "is only read with \"balance\": \"hash\"; add that, or remove "
                    "hash_key");
      }
    }
  } else if (upstream.balance == Balance::Hash) {
    reader.fail(child(upstreamPath, "balance"),
                "\"hash\" needs a \"hash_key\" beside it, e.g. \"hash_key\": \"cookie:session\"");
  }
}

void readPassiveHealth(Reader& reader, const Json& value, const std::string& path,
                       PassiveHealth& health) {
  if (!reader.expectObject(
          value, path, "{\"max_fails\": 3, \"fail_window\": \"10s\", \"eject_for\": \"30s\"}")) {
    return;
  }
  reader.rejectUnknownKeys(value, path, kPassiveHealthKeys);
  if (value.contains("max_fails")) {
    if (auto fails = reader.count(value["max_fails"], child(path, "max_fails"), 1,
                                  std::numeric_limits<uint32_t>::max())) {
      health.maxFails = static_cast<uint32_t>(*fails);
    }
  }
  for (const auto& [key, field] : {std::pair{"fail_window", &PassiveHealth::failWindow},
                                   std::pair{"eject_for", &PassiveHealth::ejectFor}}) {
    if (!value.contains(key)) continue;
    const std::string keyPath = child(path, key);
    if (auto duration = reader.duration(value[key], keyPath)) {
      if (!*duration) {
        reader.fail(keyPath, "cannot be \"off\"; use a duration such as \"10s\"");
      } else {
        health.*field = **duration;
      }
    }
  }
}

// One "expect_status" entry: "2xx", "200-399" or 204 (a number or its text). nullopt after an
// error.
std::optional<std::pair<uint16_t, uint16_t>> readStatusRange(Reader& reader, const Json& value,
                                                             const std::string& path) {
  static constexpr std::string_view kValid =
      "use \"2xx\", a range such as \"200-399\", a status such as 204, or a list of them";
  const auto parse = [](std::string_view text) -> std::optional<uint16_t> {
    unsigned number = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
    if (ec != std::errc() || end != text.data() + text.size() || number < 100 || number > 599) {
      return std::nullopt;
    }
    return static_cast<uint16_t>(number);
  };
  std::optional<std::pair<uint16_t, uint16_t>> range;
  if (value.is_number_unsigned()) {
    const uint64_t number = value.get<uint64_t>();
    if (number >= 100 && number <= 599) {
      range = std::pair{static_cast<uint16_t>(number), static_cast<uint16_t>(number)};
    }
  } else if (value.is_string()) {
    const std::string text = value.get<std::string>();
    if (text.size() == 3 && text[0] >= '1' && text[0] <= '5' && text.substr(1) == "xx") {
      const auto hundreds = static_cast<uint16_t>((text[0] - '0') * 100);
      range = std::pair{hundreds, static_cast<uint16_t>(hundreds + 99)};
    } else if (const size_t dash = text.find('-'); dash != std::string::npos) {
      const auto low = parse(std::string_view(text).substr(0, dash));
      const auto high = parse(std::string_view(text).substr(dash + 1));
      if (low && high && *low <= *high) range = std::pair{*low, *high};
    } else if (const auto single = parse(text)) {
      range = std::pair{*single, *single};
    }
  }
  if (!range) reader.fail(path, show(value) + " is not a status or range; " + std::string(kValid));
  return range;
}

std::optional<HealthCheck> readHealthCheck(Reader& reader, const Json& value,
                                           const std::string& path) {
  if (!reader.expectObject(value, path, "{\"path\": \"/healthz\", \"interval\": \"5s\"}")) {
    return std::nullopt;
  }
  reader.rejectUnknownKeys(value, path, kHealthCheckKeys);
  HealthCheck check;
  bool valid = true;
  if (reader.require(value, path, "path", "\"/healthz\"")) {
    const std::string pathPath = child(path, "path");
    if (auto text = reader.string(value["path"], pathPath, "use a path such as \"/healthz\"")) {
      const bool safe = std::all_of(text->begin(), text->end(),
                                    [](unsigned char c) { return c > 0x20 && c < 0x7f; });
      if (!text->starts_with('/') || !safe) {
        reader.fail(pathPath, quote(*text) +
                                  " is not an origin-form path; start it with \"/\" and use no "
                                  "spaces or control characters, e.g. \"/healthz\"");
        valid = false;
      } else {
        check.path = *text;
      }
    } else {
      valid = false;
    }
  } else {
    valid = false;
  }
  for (const auto& [key, field] : {std::pair{"interval", &HealthCheck::interval},
                                   std::pair{"timeout", &HealthCheck::timeout}}) {
    if (!value.contains(key)) continue;
    const std::string keyPath = child(path, key);
    if (auto duration = reader.duration(value[key], keyPath)) {
      if (!*duration) {
        reader.fail(keyPath, "cannot be \"off\"; use a duration such as \"5s\"");
      } else {
        check.*field = **duration;
      }
    }
  }
  for (const auto& [key, field] : {std::pair{"healthy_after", &HealthCheck::healthyAfter},
                                   std::pair{"unhealthy_after", &HealthCheck::unhealthyAfter}}) {
    if (!value.contains(key)) continue;
    if (auto count = reader.count(value[key], child(path, key), 1, 1000)) {
      check.*field = static_cast<uint32_t>(*count);
    }
  }
  if (value.contains("expect_status")) {
    const std::string statusPath = child(path, "expect_status");
    const Json& statuses = value["expect_status"];
    check.expectStatus.clear();
    if (statuses.is_array()) {
      if (statuses.empty()) reader.fail(statusPath, "an empty list passes nothing; use \"2xx\"");
      for (size_t i = 0; i < statuses.size(); ++i) {
        if (auto range = readStatusRange(reader, statuses[i], child(statusPath, i))) {
          check.expectStatus.push_back(*range);
        }
      }
    } else if (auto range = readStatusRange(reader, statuses, statusPath)) {
      check.expectStatus.push_back(*range);
    }
  }
  if (value.contains("host")) {
    const std::string hostPath = child(path, "host");
    if (auto host =
            reader.string(value["host"], hostPath, "use a host name such as \"app.internal\"")) {
      if (host->empty() || !std::all_of(host->begin(), host->end(),
                                        [](unsigned char c) { return c > 0x20 && c < 0x7f; })) {
        reader.fail(hostPath, quote(*host) + " is not a host; use a name such as \"app.internal\"");
      } else {
        check.host = *host;
      }
    }
  }
  if (!valid) return std::nullopt;
  return check;
}

std::map<std::string, Upstream> readUpstreams(Reader& reader, const Json& value,
                                              const std::string& path) {
  std::map<std::string, Upstream> result;
  static constexpr std::string_view kExample = "{\"app\": {\"servers\": [\"127.0.0.1:3001\"]}}";
  if (!reader.expectObject(value, path, kExample)) return result;
  if (value.empty()) {
    reader.fail(path, "no upstreams; define at least one, e.g. " + std::string(kExample));
    return result;
  }
  for (const auto& [name, body] : value.items()) {
    const std::string upstreamPath = child(path, name);
    if (name.empty()) {
      reader.fail(upstreamPath, "an upstream needs a non-empty name, e.g. \"app\"");
      continue;
    }
    if (!reader.expectObject(body, upstreamPath, "{\"servers\": [\"127.0.0.1:3001\"]}")) continue;
    reader.rejectUnknownKeys(body, upstreamPath, kUpstreamKeys);
    Upstream upstream;
    upstream.name = name;
    if (reader.require(body, upstreamPath, "servers", "[\"127.0.0.1:3001\"]")) {
      const std::string serversPath = child(upstreamPath, "servers");
      const Json& servers = body["servers"];
      if (reader.expectArray(servers, serversPath, "[\"127.0.0.1:3001\"]")) {
        if (servers.empty()) {
          reader.fail(serversPath, "no servers; list at least one, e.g. [\"127.0.0.1:3001\"]");
        }
        for (size_t i = 0; i < servers.size(); ++i) {
          readServer(reader, servers[i], child(serversPath, i), upstream);
        }
        const bool allBackups =
            !upstream.serverOptions.empty() &&
            std::all_of(upstream.serverOptions.begin(), upstream.serverOptions.end(),
                        [](const ServerOptions& options) { return options.backup; });
        if (allBackups) {
          reader.fail(serversPath,
                      "every server is a backup, so none would ever be used first; make at "
                      "least one \"backup\": false");
        }
      }
    }
    if (body.contains("keepalive")) {
      if (auto keepalive = reader.count(body["keepalive"], child(upstreamPath, "keepalive"), 0,
                                        std::numeric_limits<uint32_t>::max())) {
        upstream.keepalive = static_cast<uint32_t>(*keepalive);
      }
    }
    readBalance(reader, body, upstreamPath, upstream);
    if (body.contains("passive_health")) {
      readPassiveHealth(reader, body["passive_health"], child(upstreamPath, "passive_health"),
                        upstream.passiveHealth);
    }
    if (body.contains("health_check")) {
      upstream.healthCheck =
          readHealthCheck(reader, body["health_check"], child(upstreamPath, "health_check"));
    }
    result.emplace(name, std::move(upstream));
  }
  return result;
}

// Reads "timeouts" into `global` (top level) or `overrides` (a route); exactly one is non-null.
void readTimeouts(Reader& reader, const Json& value, const std::string& path, Timeouts* global,
                  TimeoutOverrides* overrides) {
  if (!reader.expectObject(value, path, "{\"client_idle\": \"60s\", \"tunnel_idle\": \"1h\"}")) {
    return;
  }
  reader.rejectUnknownKeys(value, path, kTimeoutKeys);
  for (const TimeoutKey& entry : kTimeoutTable) {
    if (!value.contains(entry.key)) continue;
    if (overrides && entry.override == nullptr) {
      // Known, so not "unknown key": but it applies to the whole process, not to one route.
      reader.fail(child(path, entry.key),
                  "applies to the whole process, not to one route; set "
                  "it under /timeouts instead");
      continue;
    }
    const auto parsed = reader.duration(value[std::string(entry.key)], child(path, entry.key));
    if (!parsed) continue;
    if (global) global->*entry.global = *parsed;
    if (overrides) overrides->*entry.override = *parsed;
  }
}

Limits readLimits(Reader& reader, const Json& value, const std::string& path) {
  Limits limits;
  if (!reader.expectObject(value, path, "{\"max_header_bytes\": 16384}")) return limits;
  reader.rejectUnknownKeys(value, path, kLimitKeys);
  for (const LimitKey& entry : kLimitTable) {
    if (!value.contains(entry.key)) continue;
    if (auto number = reader.count(value[std::string(entry.key)], child(path, entry.key),
                                   entry.minimum, entry.maximum)) {
      limits.*entry.member = *number;
    }
  }
  return limits;
}

// A count of processes, or "auto" for one per CPU (at least one, at most kMaxWorkers).
std::optional<uint32_t> readWorkers(Reader& reader, const Json& value, const std::string& path) {
  if (value.is_string() && value.get<std::string>() == "auto") {
    const unsigned cpus = std::thread::hardware_concurrency();
    return std::clamp<uint32_t>(cpus, 1, kMaxWorkers);
  }
  if (value.is_string()) {
    reader.fail(path, show(value) + " is not a worker count; use a whole number from 1 to " +
                          std::to_string(kMaxWorkers) + ", or \"auto\" for one per CPU");
    return std::nullopt;
  }
  if (auto number = reader.count(value, path, 1, kMaxWorkers)) {
    return static_cast<uint32_t>(*number);
  }
  return std::nullopt;
}

// "request_id": a field name, or "off". Not a field that hoplite writes or removes itself, and
// without '_' (the forwarding rules drop such names).
std::optional<std::string> readRequestId(Reader& reader, const Json& value,
                                         const std::string& path) {
  constexpr std::string_view kValid =
      "use a header field name such as \"X-Request-Id\", or \"off\"";
  std::optional<std::string> name = reader.string(value, path, kValid);
  if (!name) return std::nullopt;
  if (*name == "off") return std::string();
  if (name->empty() || !std::all_of(name->begin(), name->end(), isTokenChar)) {
    reader.fail(path, quote(*name) + " is not a header field name; " + std::string(kValid));
    return std::nullopt;
  }
  if (name->find('_') != std::string::npos) {
    reader.fail(path, quote(*name) + " has an underscore, and hoplite drops such fields; " +
                          std::string(kValid));
    return std::nullopt;
  }
  static constexpr std::string_view kOwnFields[] = {
      "host",    "content-length", "transfer-encoding", "connection",
      "upgrade", "keep-alive",     "proxy-connection",  "te",
      "trailer", "http2-settings", "forwarded",         "via"};
  const std::string lower = lowerCase(*name);
  if (std::find(std::begin(kOwnFields), std::end(kOwnFields), lower) != std::end(kOwnFields) ||
      lower.starts_with("x-forwarded-")) {
    reader.fail(
        path, quote(*name) + " is a field hoplite sets or removes itself; " + std::string(kValid));
    return std::nullopt;
  }
  return name;
}

// A log file path: its directory must exist, so a typo there is found by --check, not at the
// first line written; and it may not be a directory itself.
std::optional<std::string> readLogFile(Reader& reader, const std::string& file,
                                       const std::string& path) {
  const std::filesystem::path name(file);
  const std::filesystem::path directory =
      name.has_parent_path() ? name.parent_path() : std::filesystem::path(".");
  std::error_code ignored;
  if (!std::filesystem::is_directory(directory, ignored)) {
    reader.fail(path, quote(file) + ": the directory " + quote(directory.string()) +
                          " does not exist; create it or choose another path");
    return std::nullopt;
  }
  if (std::filesystem::is_directory(name, ignored)) {
    reader.fail(path, quote(file) + " is a directory; name a file in it");
    return std::nullopt;
  }
  return file;
}

// "log": {"access": "stdout" | "stderr" | "off" | path, "format": "json",
// "errors": "stderr" | path}.
LogSettings readLog(Reader& reader, const Json& value, const std::string& path) {
  LogSettings settings;
  if (!reader.expectObject(value, path, "{\"access\": \"/var/log/hoplite/access.log\"}")) {
    return settings;
  }
  reader.rejectUnknownKeys(value, path, kLogKeys);
  if (value.contains("access")) {
    const std::string accessPath = child(path, "access");
    constexpr std::string_view kValid = "use \"stdout\", \"stderr\", \"off\" or a file path";
    if (std::optional<std::string> access = reader.string(value["access"], accessPath, kValid)) {
      if (access->empty()) {
        reader.fail(accessPath, "\"\" is not a log destination; " + std::string(kValid));
      } else if (*access == "stdout" || *access == "stderr" || *access == "off") {
        settings.access = *access;
      } else if (auto file = readLogFile(reader, *access, accessPath)) {
        settings.access = *file;
      }
    }
  }
  if (value.contains("errors")) {
    const std::string errorsPath = child(path, "errors");
    constexpr std::string_view kValid = "use \"stderr\" or a file path";
    if (std::optional<std::string> errors = reader.string(value["errors"], errorsPath, kValid)) {
      if (errors->empty()) {
        reader.fail(errorsPath, "\"\" is not a log destination; " + std::string(kValid));
      } else if (*errors == "off") {
        reader.fail(errorsPath,
                    "\"off\" is not accepted: hoplite's own error lines must always go "
                    "somewhere; " +
                        std::string(kValid));
      } else if (*errors == "stdout") {
        reader.fail(errorsPath,
                    "\"stdout\" is not accepted: stdout is for the access log, and hoplite's "
                    "own error lines are kept apart from it; " +
                        std::string(kValid));
      } else if (*errors == "stderr") {
        settings.errors = *errors;
      } else if (auto file = readLogFile(reader, *errors, errorsPath)) {
        settings.errors = *file;
      }
    }
  }
  if (value.contains("format")) {
    const std::string formatPath = child(path, "format");
    constexpr std::string_view kValid = "use \"json\" or \"elb\"";
    if (std::optional<std::string> format = reader.string(value["format"], formatPath, kValid)) {
      if (*format == "json") {
        settings.format = LogSettings::Format::Json;
      } else if (*format == "elb") {
        settings.format = LogSettings::Format::Elb;
      } else {
        reader.fail(formatPath, quote(*format) + " is not a log format; " + std::string(kValid));
      }
    }
  }
  return settings;
}

// "admin": {"listen": "127.0.0.1:9901"}. {} (or no "admin" at all) leaves the admin listener off.
AdminSettings readAdmin(Reader& reader, const Json& value, const std::string& path) {
  AdminSettings settings;
  if (!reader.expectObject(value, path, "{\"listen\": \"127.0.0.1:9901\"}")) return settings;
  reader.rejectUnknownKeys(value, path, kAdminKeys);
  if (value.contains("listen")) {
    settings.listen = reader.hostPort(value["listen"], child(path, "listen"), /*listen=*/true);
  }
  return settings;
}

bool isWildcard(const IpAddress& address) {
  return std::all_of(address.bytes.begin(), address.bytes.end(),
                     [](uint8_t byte) { return byte == 0; });
}

// The admin listener may not take a proxy listener's socket: same fixed port, and the same host
// or a wildcard on either side. Reads the "listen" entries as written, so the error names the
// right index even when other entries have errors of their own (reported at their pointers).
void checkAdminCollision(Reader& reader, const Json& listen, const Json& adminText,
                         const HostPort& admin, const std::string& path) {
  if (admin.port == 0 || !listen.is_array()) return;
  const IpAddress adminIp = *IpAddress::fromText(admin.host);
  const std::string port = std::to_string(admin.port);
  for (size_t i = 0; i < listen.size(); ++i) {
    if (!listen[i].is_string()) continue;
    const std::string text = listen[i].get<std::string>();
    const HostPortParse parsed = splitHostPort(text);
    if (!parsed.value || parsed.value->port != admin.port) continue;
    const auto ip = IpAddress::fromText(parsed.value->host);
    if (!ip) continue;
    std::string why;
    if (*ip == adminIp) {
      why = "the same address and port";
    } else if (isWildcard(*ip)) {
      why = "which takes port " + port + " on every address";
    } else if (isWildcard(adminIp)) {
      why = "the admin listener would take port " + port + " on every address";
    } else {
      continue;
    }
    reader.fail(path, quote(adminText.get<std::string>()) + " collides with " +
                          child("/listen", i) + ", " + quote(text) + " (" + why +
                          "); pick another port for the admin listener");
    return;
  }
}

ForwardedSettings readForwarded(Reader& reader, const Json& value, const std::string& path) {
  ForwardedSettings settings;
  if (!reader.expectObject(value, path, "{\"trusted_proxies\": [\"10.0.0.0/8\"]}")) {
    return settings;
  }
  reader.rejectUnknownKeys(value, path, kForwardedKeys);
  if (value.contains("trusted_proxies")) {
    const std::string listPath = child(path, "trusted_proxies");
    const Json& list = value["trusted_proxies"];
    if (reader.expectArray(list, listPath, "[\"10.0.0.0/8\", \"fd00::/8\"]")) {
      for (size_t i = 0; i < list.size(); ++i) {
        if (auto cidr = reader.cidr(list[i], child(listPath, i))) {
          settings.trustedProxies.push_back(*cidr);
        }
      }
    }
  }
  const std::pair<std::string_view, bool ForwardedSettings::*> flags[] = {
      {"x_forwarded", &ForwardedSettings::xForwarded},
      {"forwarded", &ForwardedSettings::forwarded},
      {"via", &ForwardedSettings::via},
  };
  for (const auto& [key, member] : flags) {
    if (!value.contains(key)) continue;
    if (auto flag = reader.flag(value[std::string(key)], child(path, key))) {
      settings.*member = *flag;
    }
  }
  return settings;
}

std::optional<UpgradeSettings> readUpgrade(Reader& reader, const Json& value,
                                           const std::string& path) {
  if (!reader.expectObject(value, path, "{\"allow\": [\"websocket\"]}")) return std::nullopt;
  reader.rejectUnknownKeys(value, path, kUpgradeKeys);
  UpgradeSettings settings;
  if (!value.contains("allow")) return settings;
  const std::string listPath = child(path, "allow");
  const Json& list = value["allow"];
  if (!reader.expectArray(list, listPath, "[\"websocket\"]")) return std::nullopt;
  settings.allow.clear();
  bool ok = true;
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string itemPath = child(listPath, i);
    static constexpr std::string_view kValid =
        "use a protocol name from the Upgrade header, e.g. \"websocket\"";
    const auto name = reader.string(list[i], itemPath, std::string(kValid));
    if (!name) {
      ok = false;
      continue;
    }
    const size_t slash = name->find('/');
    if (slash != std::string::npos && slash > 0) {
      reader.fail(itemPath, quote(*name) + " has a version; use the protocol name alone, " +
                                quote(lowerCase(name->substr(0, slash))));
      ok = false;
      continue;
    }
    if (name->empty() || !std::all_of(name->begin(), name->end(), isTokenChar)) {
      reader.fail(itemPath, quote(*name) + " is not a protocol name; " + std::string(kValid));
      ok = false;
      continue;
    }
    std::string token = lowerCase(*name);
    if (std::find(settings.allow.begin(), settings.allow.end(), token) == settings.allow.end()) {
      settings.allow.push_back(std::move(token));
    }
  }
  if (!ok) return std::nullopt;
  return settings;
}

// A route's host pattern, lower-cased: "*", "*.example.com", a host name, an IPv4 address or a
// bracketed IPv6 address. Hosts are compared without their port, so a port here is a mistake.
std::optional<std::string> readHostPattern(Reader& reader, const Json& value,
                                           const std::string& path) {
  static constexpr std::string_view kValid =
      "use \"*\", a host name such as \"example.com\", or \"*.example.com\"";
  const auto text = reader.string(value, path, kValid);
  if (!text) return std::nullopt;
  const std::string host = lowerCase(*text);
  if (host == "*") return host;
  if (host.size() > 2 && host.front() == '[' && host.back() == ']' &&
      isIpv6Literal(std::string_view(host).substr(1, host.size() - 2))) {
    return host;
  }
  const std::string_view name = host.starts_with("*.") ? std::string_view(host).substr(2) : host;
  if (isHostName(name)) return host;
  const HostPortParse withPort = splitHostPort(host);
  if (withPort.value) {
    reader.fail(path, quote(*text) +
                          " has a port; routes match the host without its port, so "
                          "use " +
                          quote(withPort.value->host));
  } else if (name.find('*') != std::string_view::npos) {
    reader.fail(path,
                quote(*text) + " has a \"*\" that is not a leading \"*.\"; " + std::string(kValid));
  } else {
    reader.fail(path, quote(*text) + " is not a host pattern; " + std::string(kValid));
  }
  return std::nullopt;
}

std::optional<std::string> readPathPrefix(Reader& reader, const Json& value,
                                          const std::string& path) {
  static constexpr std::string_view kValid = "use a path that starts with \"/\", e.g. \"/api\"";
  const auto text = reader.string(value, path, kValid);
  if (!text) return std::nullopt;
  if (text->empty() || text->front() != '/') {
    reader.fail(path, quote(*text) + " does not start with \"/\"; " + std::string(kValid));
    return std::nullopt;
  }
  for (char c : *text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte == 0x7f || c == '?' || c == '#') {
      // Requests never carry these in the path that routing compares (the query is not matched).
      reader.fail(path, quote(*text) + " contains a space, control character, \"?\" or \"#\"; " +
                            std::string(kValid));
      return std::nullopt;
    }
  }
  return text;
}

std::vector<Route> readRoutes(Reader& reader, const Json& value, const std::string& path,
                              const Json* upstreams) {
  std::vector<Route> result;
  static constexpr std::string_view kExample = "[{\"path_prefix\": \"/\", \"upstream\": \"app\"}]";
  if (!reader.expectArray(value, path, kExample)) return result;
  if (value.empty()) {
    reader.fail(path, "no routes; add at least one, e.g. " + std::string(kExample));
    return result;
  }
  // The names a route may use: every key of "upstreams", even one whose body has errors, so a
  // typo inside an upstream does not also flag every route that uses it.
  std::vector<std::string> names;
  if (upstreams && upstreams->is_object()) {
    for (const auto& [name, body] : upstreams->items()) names.push_back(name);
  }
  std::vector<std::string_view> nameViews(names.begin(), names.end());
  std::map<std::string, size_t> routeNames;  // name -> the index of the route that has it
  for (size_t i = 0; i < value.size(); ++i) {
    const std::string routePath = child(path, i);
    const Json& body = value[i];
    if (!reader.expectObject(body, routePath, "{\"path_prefix\": \"/\", \"upstream\": \"app\"}")) {
      continue;
    }
    reader.rejectUnknownKeys(body, routePath, kRouteKeys);
    Route route;
    if (body.contains("name")) {
      // Names label log lines and, later, metrics: a small fixed alphabet keeps them safe in
      // both, and unique, so that one name means one route.
      const std::string namePath = child(routePath, "name");
      constexpr std::string_view kValid = "use 1 to 64 of a-z, 0-9, '_' and '-', e.g. \"api\"";
      if (auto name = reader.string(body["name"], namePath, kValid)) {
        const bool wellFormed =
            !name->empty() && name->size() <= 64 &&
            std::all_of(name->begin(), name->end(), [](char c) {
              return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
            });
        if (!wellFormed) {
          reader.fail(namePath, quote(*name) + " is not a route name; " + std::string(kValid));
        } else if (auto [it, added] = routeNames.emplace(*name, i); !added) {
          reader.fail(namePath, quote(*name) + " is already the name of " +
                                    child(path, it->second) + "; route names must be unique");
        } else {
          route.name = *name;
        }
      }
    }
    if (body.contains("host")) {
      if (auto host = readHostPattern(reader, body["host"], child(routePath, "host"))) {
        route.host = *host;
      }
    }
    if (body.contains("path_prefix")) {
      if (auto prefix =
              readPathPrefix(reader, body["path_prefix"], child(routePath, "path_prefix"))) {
        route.pathPrefix = *prefix;
      }
    }
    const std::string knownList = joinQuoted(nameViews);
    const std::string known =
        names.empty() ? std::string("name an upstream") : "use one of " + knownList;
    if (reader.require(body, routePath, "upstream",
                       names.empty() ? std::string("\"app\"") : quote(names.front()))) {
      const std::string upstreamPath = child(routePath, "upstream");
      if (auto name = reader.string(body["upstream"], upstreamPath, known)) {
        // With no upstreams at all, "/upstreams" already carries the error.
        if (!names.empty() && std::find(names.begin(), names.end(), *name) == names.end()) {
          std::string message = quote(*name) + " is not an upstream; ";
          if (const auto suggestion = closestWord(*name, nameViews)) {
            message += "did you mean " + quote(*suggestion) + "? The known ones are " + knownList;
          } else {
            message += "the known upstreams are " + knownList;
          }
          reader.fail(upstreamPath, message);
        }
        route.upstream = *name;
      }
    }
    if (body.contains("timeouts")) {
      readTimeouts(reader, body["timeouts"], child(routePath, "timeouts"), nullptr,
                   &route.timeouts);
    }
    if (body.contains("upgrade")) {
      route.upgrade = readUpgrade(reader, body["upgrade"], child(routePath, "upgrade"));
    }
    result.push_back(std::move(route));
  }
  return result;
}

// ------------------------------------------------------------------------------------------
// Syntax: nlohmann collapses duplicate keys to the last one without a word. This parse callback
// tracks where the parser is, so each duplicate is reported by its JSON pointer.

class DuplicateKeyFinder {
 public:
  std::vector<std::string> duplicates;

  bool onEvent(Json::parse_event_t event, const Json& parsed) {
    switch (event) {
      case Json::parse_event_t::object_start:
        enterElement();
        frames_.push_back({false, 0, {}, {}});
        break;
      case Json::parse_event_t::array_start:
        enterElement();
        frames_.push_back({true, 0, {}, {}});
        break;
      case Json::parse_event_t::object_end:
      case Json::parse_event_t::array_end:
        if (!frames_.empty()) frames_.pop_back();
        break;
      case Json::parse_event_t::key:
        if (!frames_.empty() && parsed.is_string()) {
          Frame& top = frames_.back();
          top.key = parsed.get<std::string>();
          if (!top.keys.insert(top.key).second) duplicates.push_back(currentPath());
        }
        break;
      case Json::parse_event_t::value:
        enterElement();
        break;
    }
    return true;  // keep every value; duplicates are reported, not dropped here
  }

 private:
  struct Frame {
    bool isArray;
    size_t count;     // arrays: elements seen so far (the current one is count - 1)
    std::string key;  // objects: the key being read
    std::set<std::string> keys;
  };

  void enterElement() {
    if (!frames_.empty() && frames_.back().isArray) ++frames_.back().count;
  }

  std::string currentPath() const {
    std::string path;
    for (const Frame& frame : frames_) {
      path = frame.isArray ? child(path, frame.count - 1) : child(path, frame.key);
    }
    return path;
  }

  std::vector<Frame> frames_;
};

// "line L, column C" of the 1-based byte offset nlohmann reports (the character it choked on).
std::string lineAndColumn(std::string_view text, size_t byte) {
  const size_t index = std::min(byte == 0 ? 0 : byte - 1, text.size());
  size_t line = 1;
  size_t lineStart = 0;
  for (size_t i = 0; i < index; ++i) {
    if (text[i] == '\n') {
      ++line;
      lineStart = i + 1;
    }
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(index - lineStart + 1);
}

std::string syntaxError(std::string_view text, std::string_view sourceName,
                        const nlohmann::json::parse_error& error) {
  // nlohmann's own position is off by its look-ahead, so compute it from the byte offset, and keep
  // only its description ("syntax error while parsing ... - unexpected '}'; ...").
  std::string detail = error.what();
  const size_t column = detail.find("column ");
  const size_t colon = detail.find(": ", column == std::string::npos ? 0 : column);
  if (colon != std::string::npos) detail = detail.substr(colon + 2);
  std::string message = "broken JSON at " + lineAndColumn(text, error.byte) + ": " + detail;
  if (!sourceName.empty()) message = std::string(sourceName) + ": " + message;
  // Two mistakes account for most broken configs; name them.
  const size_t index = std::min(error.byte == 0 ? 0 : error.byte - 1, text.size());
  const std::string_view before = text.substr(0, index);
  const size_t last = before.find_last_not_of(" \t\r\n");
  const char next = index < text.size() ? text[index] : '\0';
  if (last != std::string_view::npos && before[last] == ',' && (next == '}' || next == ']')) {
    message += " (JSON allows no comma after the last item)";
  } else if (detail.find('/') != std::string::npos || next == '/') {
    message += " (JSON has no comments; conf/README.md describes every key)";
  }
  return message;
}

LoadResult validate(const Json& root) {
  LoadResult result;
  Reader reader(result.errors);
  Config config;
  if (!root.is_object()) {
    reader.fail("",
                "the config must be a JSON object, e.g. {\"listen\": [\"127.0.0.1:8080\"], "
                "\"upstreams\": {...}, \"routes\": [...]}");
    return result;
  }
  reader.rejectUnknownKeys(root, "", kTopKeys);
  if (reader.require(root, "", "listen", "[\"127.0.0.1:8080\"]")) {
    config.listen = readListen(reader, root["listen"], "/listen");
  }
  const Json* upstreams = nullptr;
  if (reader.require(root, "", "upstreams", "{\"app\": {\"servers\": [\"127.0.0.1:3001\"]}}")) {
    upstreams = &root["upstreams"];
    config.upstreams = readUpstreams(reader, *upstreams, "/upstreams");
  }
  if (reader.require(root, "", "routes", "[{\"path_prefix\": \"/\", \"upstream\": \"app\"}]")) {
    config.routes = readRoutes(reader, root["routes"], "/routes", upstreams);
  }
  if (root.contains("timeouts")) {
    readTimeouts(reader, root["timeouts"], "/timeouts", &config.timeouts, nullptr);
  }
  if (root.contains("limits")) config.limits = readLimits(reader, root["limits"], "/limits");
  if (root.contains("forwarded")) {
    config.forwarded = readForwarded(reader, root["forwarded"], "/forwarded");
  }
  if (root.contains("upgrade")) {
    if (auto upgrade = readUpgrade(reader, root["upgrade"], "/upgrade")) config.upgrade = *upgrade;
  }
  if (root.contains("workers")) {
    if (auto workers = readWorkers(reader, root["workers"], "/workers")) config.workers = *workers;
  }
  if (root.contains("log")) config.log = readLog(reader, root["log"], "/log");
  if (root.contains("request_id")) {
    if (auto field = readRequestId(reader, root["request_id"], "/request_id")) {
      config.requestIdField = *field;
    }
  }
  if (root.contains("admin")) {
    config.admin = readAdmin(reader, root["admin"], "/admin");
    if (config.admin.listen && root.contains("listen")) {
      checkAdminCollision(reader, root["listen"], root["admin"]["listen"], *config.admin.listen,
                          "/admin/listen");
    }
  }
  if (result.errors.empty()) result.config = std::move(config);
  return result;
}

}  // namespace

std::string ConfigError::toText() const {
  return path.empty() ? message : path + ": " + message;
}

// Contract: never throws; `config` is set exactly when `errors` is empty.
LoadResult parseConfig(std::string_view jsonText, std::string_view sourceName) {
  try {
    DuplicateKeyFinder finder;
    Json root;
    try {
      root = Json::parse(
          jsonText.begin(), jsonText.end(),
          [&finder](int /*depth*/, Json::parse_event_t event, Json& parsed) {
            return finder.onEvent(event, parsed);
          },
          /*allow_exceptions=*/true, /*ignore_comments=*/false);
    } catch (const nlohmann::json::parse_error& error) {
      LoadResult result;
      result.errors.push_back({"", syntaxError(jsonText, sourceName, error)});
      return result;
    }
    LoadResult result = validate(root);
    if (!finder.duplicates.empty()) {
      std::vector<ConfigError> duplicates;
      for (const std::string& path : finder.duplicates) {
        duplicates.push_back(
            {path, "duplicate key; JSON keeps only the last one, so remove or merge the others"});
      }
      result.errors.insert(result.errors.begin(), duplicates.begin(), duplicates.end());
      result.config.reset();
    }
    return result;
  } catch (const std::exception& error) {
    // Not expected (every access above is checked), but the loader promises not to throw.
    LoadResult result;
    result.errors.push_back(
        {"", std::string("internal error while reading the config: ") + error.what()});
    return result;
  }
}

// Contract: never throws; a missing or unreadable file is one error naming the path. Syntax
// errors are not prefixed with the path (see below).
LoadResult loadConfigFile(const std::string& path) {
  try {
    std::ifstream file(path, std::ios::binary);
    if (!file) {
      LoadResult result;
      result.errors.push_back(
          {"", "cannot read " + quote(path) + "; check the path, or name a file with -c FILE"});
      return result;
    }
    std::ostringstream contents;
    contents << file.rdbuf();
    if (file.bad()) {
      LoadResult result;
      result.errors.push_back({"", "cannot read " + quote(path) + ": read error"});
      return result;
    }
    // Callers print the file's path before each error (main does), so syntax errors do not
    // repeat it.
    return parseConfig(contents.str(), "");
  } catch (const std::exception& error) {
    LoadResult result;
    result.errors.push_back({"", "cannot read " + quote(path) + ": " + error.what()});
    return result;
  }
}

// Contract: digits then exactly one of ms, s, m, h (lower case), or "off". No sign, no fraction,
// no spaces; values too large for milliseconds in an int64 are refused.
std::optional<Duration> parseDuration(std::string_view text) {
  if (text == "off") return Duration{};
  size_t digits = 0;
  while (digits < text.size() && isDigit(text[digits])) ++digits;
  if (digits == 0 || digits > 18) return std::nullopt;
  const std::string_view unit = text.substr(digits);
  int64_t perUnit = 0;
  if (unit == "ms") {
    perUnit = 1;
  } else if (unit == "s") {
    perUnit = 1000;
  } else if (unit == "m") {
    perUnit = 60 * 1000;
  } else if (unit == "h") {
    perUnit = 60 * 60 * 1000;
  } else {
    return std::nullopt;
  }
  int64_t value = 0;
  std::from_chars(text.data(), text.data() + digits, value);
  if (value > std::numeric_limits<int64_t>::max() / perUnit) return std::nullopt;
  return Duration{std::chrono::milliseconds(value * perUnit)};
}

}  // namespace hoplite::conf
