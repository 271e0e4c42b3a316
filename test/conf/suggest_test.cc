// "Did you mean": which typos find which key, and which words are too far to guess.
#include "conf/suggest.h"

#include <catch2/catch.hpp>
#include <string>
#include <string_view>

using hoplite::conf::closestWord;

namespace {
constexpr std::string_view kTimeoutKeys[] = {"client_header",    "client_idle",       "client_body",
                                             "upstream_connect", "upstream_response", "tunnel_idle",
                                             "shutdown_drain",   "shutdown_delay"};
constexpr std::string_view kTopKeys[] = {"listen", "upstreams", "routes", "timeouts",
                                         "limits", "forwarded", "upgrade"};
}  // namespace

namespace {

// typo, among the top-level keys (else timeouts), expected suggestion ("" = none)
void checkSuggestion(const std::string& typo, bool topLevel, const std::string& expected) {
  CAPTURE(typo, topLevel);
  const auto suggestion = topLevel ? closestWord(typo, kTopKeys) : closestWord(typo, kTimeoutKeys);
  CHECK(std::string(suggestion.value_or("")) == expected);
}

}  // namespace

TEST_CASE("conf: did-you-mean finds typos, case, dashes and camelCase", "[conf][suggest]") {
  auto [typo, topLevel, expected] = GENERATE(table<std::string, bool, std::string>({
      {"client_idel", false, "client_idle"},   // transposition
      {"clientIdle", false, "client_idle"},    // camelCase
      {"Client-Idle", false, "client_idle"},   // case and dash
      {"client_iddle", false, "client_idle"},  // insertion
      {"tunel_idle", false, "tunnel_idle"},    // deletion
      {"upstream_respons", false, "upstream_response"},
      {"shutdown_dely", false, "shutdown_delay"},
      {"shutdown_drian", false, "shutdown_drain"},
      {"timeout", true, "timeouts"},
      {"Listen", true, "listen"},
      {"lsiten", true, "listen"},
      {"route", true, "routes"},
      {"upstream", true, "upstreams"},
      {"limit", true, "limits"},
      {"upgrades", true, "upgrade"},
      {"forward", true, "forwarded"},
  }));
  checkSuggestion(typo, topLevel, expected);
}

TEST_CASE("conf: did-you-mean stays silent when no key is near", "[conf][suggest]") {
  auto [typo, topLevel, expected] = GENERATE(table<std::string, bool, std::string>({
      {"shutdown", false, ""},  // too far from shutdown_drain and shutdown_delay
      {"idle", false, ""},
      {"servers", true, ""},
      {"x", true, ""},
      {"", true, ""},
  }));
  checkSuggestion(typo, topLevel, expected);
}
