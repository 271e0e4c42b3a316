// Loading and validating hoplite's JSON configuration.
//
// Validation never stops at the first problem: every error is collected, each naming the JSON
// pointer of the offending value and what would be valid there, e.g.
//   /routes/2/timeouts/tunnel_idle: "10 parsecs" is not a duration; use a number with ms, s, m or
//   h, or "off"
// Unknown keys are errors (they are usually typos). Broken JSON reports its line and column.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "conf/config.h"

namespace hoplite::conf {

struct ConfigError {
  std::string path;            // JSON pointer ("/timeouts/client_idle"), "" for the whole document
  std::string message;         // what is wrong and what would be valid
  std::string toText() const;  // "path: message" (or just the message for the whole document)
};

struct LoadResult {
  std::optional<Config> config;  // set only when `errors` is empty
  std::vector<ConfigError> errors;
};

// Parses and validates a JSON document. `sourceName` prefixes syntax errors ("hoplite.json").
LoadResult parseConfig(std::string_view jsonText, std::string_view sourceName = "config");

// Reads the file and calls parseConfig. An unreadable file is one error naming the path.
LoadResult loadConfigFile(const std::string& path);

// "250ms", "10s", "5m", "1h" -> milliseconds; "off" -> Duration{} (no timeout). Returns
// std::nullopt for anything else (callers turn that into a ConfigError).
std::optional<Duration> parseDuration(std::string_view text);

// "host:port" / "[v6]:port" with a port in 0..65535. std::nullopt when malformed. Port 0 is valid
// only in "listen" (the kernel picks a free port, which hoplite logs; tests rely on it); the
// validator rejects it for "servers".
std::optional<HostPort> parseHostPort(std::string_view text);

}  // namespace hoplite::conf
