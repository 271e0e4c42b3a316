// Which config changes a reload applies in place and which need a restart (reloadNeedsRestart),
// for a single process and under a supervisor: one row per rule.
#include <catch2/catch.hpp>
#include <functional>
#include <string>

#include "conf/config.h"
#include "conf/config_loader.h"
#include "proxy/reload.h"

namespace hoplite::proxy {
namespace {

conf::Config baseConfig() {
  const conf::LoadResult loaded = conf::parseConfig(R"({
    "listen": ["127.0.0.1:8080", "127.0.0.1:0"],
    "upstreams": { "app": { "servers": ["127.0.0.1:3001"] } },
    "routes": [ { "upstream": "app" } ],
    "workers": 2
  })",
                                                    "test");
  REQUIRE(loaded.config);
  return *loaded.config;
}

struct Row {
  const char* change;
  std::function<void(conf::Config&)> apply;
  bool withWorkers;
  const char* refusal;  // empty: applied in place
};

TEST_CASE("proxy: what a reload applies and what needs a restart", "[proxy][reload]") {
  const conf::HostPort added{"127.0.0.2", 9000};
  const conf::HostPort addedPortZero{"127.0.0.2", 0};
  const Row rows[] = {
      {"nothing", [](conf::Config&) {}, true, ""},
      {"more workers", [](conf::Config& c) { c.workers = 4; }, true, ""},
      {"one worker under the supervisor", [](conf::Config& c) { c.workers = 1; }, true, ""},
      {"workers in a single process", [](conf::Config& c) { c.workers = 4; }, false,
       "/workers: hoplite runs as one process; starting workers needs a restart"},
      {"a listener added on a fixed port", [&](conf::Config& c) { c.listen.push_back(added); },
       true, ""},
      {"a listener added on port 0, single process",
       [&](conf::Config& c) { c.listen.push_back(addedPortZero); }, false, ""},
      {"a listener added on port 0, with workers",
       [&](conf::Config& c) { c.listen.push_back(addedPortZero); }, true,
       "/listen/2: with workers, a listener added by a reload needs a fixed port, not 0"},
      {"the port-0 listener kept, another removed",
       [](conf::Config& c) { c.listen.erase(c.listen.begin()); }, true, ""},
      {"admin",
       [](conf::Config& c) {
         c.admin.listen = conf::HostPort{"127.0.0.1", 9901};
       },
       true, "/admin/listen: changing it needs a restart"},
      {"log.access", [](conf::Config& c) { c.log.access = "off"; }, false,
       "/log/access: changing it needs a restart"},
      {"log.errors", [](conf::Config& c) { c.log.errors = "/tmp/errors.log"; }, true,
       "/log/errors: changing it needs a restart"},
  };
  for (const Row& row : rows) {
    conf::Config running = baseConfig();
    if (!row.withWorkers) running.workers = 1;
    conf::Config next = running;
    row.apply(next);
    INFO(row.change);
    CHECK(reloadNeedsRestart(running, next, row.withWorkers) == row.refusal);
  }
}

}  // namespace
}  // namespace hoplite::proxy
