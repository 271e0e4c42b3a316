// IpAddress and Cidr: parsing, canonical text and matching.
#include "conf/cidr.h"

#include <catch2/catch.hpp>
#include <string>
#include <tuple>

using hoplite::conf::Cidr;
using hoplite::conf::IpAddress;

TEST_CASE("conf: IP addresses parse to their family and canonical text", "[conf][cidr]") {
  // text, parses, is IPv4, canonical text
  auto [text, parses, isV4, canonical] = GENERATE(table<std::string, bool, bool, std::string>({
      {"127.0.0.1", true, true, "127.0.0.1"},
      {"0.0.0.0", true, true, "0.0.0.0"},
      {"255.255.255.255", true, true, "255.255.255.255"},
      {"::1", true, false, "::1"},
      {"2001:DB8:0:0:0:0:0:1", true, false, "2001:db8::1"},
      {"fe80::1:2", true, false, "fe80::1:2"},
      // A dual-stack listener reports IPv4 peers as v4-mapped; they are the IPv4 peer.
      {"::ffff:10.1.2.3", true, true, "10.1.2.3"},
      {"256.0.0.1", false, false, ""},
      {"1.2.3", false, false, ""},
      {"[::1]", false, false, ""},
      {"", false, false, ""},
      {"localhost", false, false, ""},
      {" 127.0.0.1", false, false, ""},
      {"1:2:3:4:5:6:7:8:9", false, false, ""},
  }));
  CAPTURE(text);
  const auto address = IpAddress::fromText(text);
  REQUIRE(address.has_value() == parses);
  if (parses) {
    CHECK((address->family == IpAddress::Family::V4) == isV4);
    CHECK(address->toText() == canonical);
  }
}

TEST_CASE("conf: CIDR blocks parse, refuse host bits and print canonically", "[conf][cidr]") {
  auto [text, canonical] = GENERATE(table<std::string, std::string>({
      {"10.0.0.0/8", "10.0.0.0/8"},
      {"192.168.1.10", "192.168.1.10/32"},
      {"0.0.0.0/0", "0.0.0.0/0"},
      {"172.16.0.0/12", "172.16.0.0/12"},
      {"fd00::/8", "fd00::/8"},
      {"::1", "::1/128"},
      {"::/0", "::/0"},
      {"2001:db8::/32", "2001:db8::/32"},
      // failures: canonical "" means "refused"
      {"10.0.0.1/8", ""},     // host bits set
      {"fd00::1/8", ""},      // host bits set, v6
      {"10.0.0.0/33", ""},    // prefix too long for v4
      {"::/129", ""},         // prefix too long for v6
      {"10.0.0.0/", ""},      // empty prefix
      {"10.0.0.0/-1", ""},    // sign
      {"10.0.0.0/8x", ""},    // junk after prefix
      {"10.0.0.0/0008", ""},  // too many digits
      {"not-an-ip/8", ""},
      {"/8", ""},
      {"::ffff:10.0.0.0/104", ""},  // v4-mapped with a prefix is refused, not guessed
  }));
  CAPTURE(text);
  const auto cidr = Cidr::fromText(text);
  if (canonical.empty()) {
    CHECK_FALSE(cidr.has_value());
  } else {
    REQUIRE(cidr.has_value());
    CHECK(cidr->toText() == canonical);
  }
}

namespace {

// CIDR block, address, whether the block contains it
void checkContains(const std::string& block, const std::string& address, bool inside) {
  CAPTURE(block, address);
  const auto cidr = Cidr::fromText(block);
  const auto ip = IpAddress::fromText(address);
  REQUIRE(cidr.has_value());
  REQUIRE(ip.has_value());
  CHECK(cidr->contains(*ip) == inside);
}

}  // namespace

TEST_CASE("conf: CIDR contains exactly the addresses under its prefix", "[conf][cidr]") {
  auto [block, address, inside] = GENERATE(table<std::string, std::string, bool>({
      {"10.0.0.0/8", "10.255.255.255", true},
      {"10.0.0.0/8", "11.0.0.0", false},
      {"10.0.0.0/8", "9.255.255.255", false},
      {"192.168.0.0/16", "192.168.77.1", true},
      {"172.16.0.0/12", "172.31.255.255", true},
      {"172.16.0.0/12", "172.32.0.0", false},  // prefix not on a byte boundary
      {"203.0.113.7", "203.0.113.7", true},
      {"203.0.113.7", "203.0.113.8", false},
      {"0.0.0.0/0", "8.8.8.8", true},
      {"::/0", "2001:db8::1", true},
      {"fd00::/8", "fdff:1::2", true},
      {"fd00::/8", "fe00::1", false},
      {"2001:db8::/33", "2001:db8:7fff::1", true},
      {"2001:db8::/33", "2001:db8:8000::1", false},
      {"::1", "::1", true},
  }));
  checkContains(block, address, inside);
}

TEST_CASE("conf: CIDR families never mix, and a v4-mapped address is IPv4", "[conf][cidr]") {
  auto [block, address, inside] = GENERATE(table<std::string, std::string, bool>({
      {"0.0.0.0/0", "::1", false},
      {"::/0", "127.0.0.1", false},
      // A v4-mapped peer is matched by the IPv4 block, not by an IPv6 one.
      {"10.0.0.0/8", "::ffff:10.1.2.3", true},
      {"::/0", "::ffff:10.1.2.3", false},
  }));
  checkContains(block, address, inside);
}
