// Which IPv6 listen addresses bind IPv6-only: those sharing a port with an IPv4 address.
#include "conf/host_port.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

using hoplite::conf::HostPort;
using hoplite::conf::listensIpv6Only;

TEST_CASE("conf: an IPv6 listener is IPv6-only exactly when IPv4 shares its port", "[conf]") {
  using List = std::vector<HostPort>;
  struct Row {
    std::string what;
    List listen;
    std::vector<bool> expected;
  };
  const Row row = GENERATE(values<Row>({
      {"IPv6 wildcard alone is dual stack", List{{"::", 80}}, {false}},
      {"both wildcards on one port", List{{"0.0.0.0", 80}, {"::", 80}}, {false, true}},
      {"IPv6 first, IPv4 second", List{{"::", 80}, {"0.0.0.0", 80}}, {true, false}},
      {"IPv4 loopback and IPv6 wildcard", List{{"127.0.0.1", 80}, {"::", 80}}, {false, true}},
      {"other ports do not count", List{{"0.0.0.0", 80}, {"::", 443}}, {false, false}},
      {"port 0 is a fresh port each", List{{"0.0.0.0", 0}, {"::", 0}}, {false, false}},
      {"two IPv6 addresses", List{{"::1", 80}, {"::", 80}}, {false, false}},
  }));
  CAPTURE(row.what);
  for (size_t i = 0; i < row.listen.size(); ++i) {
    CHECK(listensIpv6Only(row.listen, i) == row.expected[i]);
  }
}
