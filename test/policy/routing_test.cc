// Route selection: first match on host pattern and segment-aware path prefix.
#include "policy/routing.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <string>

namespace hoplite::policy {
namespace {

conf::Route route(std::string host, std::string prefix, std::string upstream) {
  conf::Route r;
  r.host = std::move(host);
  r.pathPrefix = std::move(prefix);
  r.upstream = std::move(upstream);
  return r;
}

// The routes the tables below are matched against, in this order.
const std::vector<conf::Route>& sampleRoutes() {
  static const std::vector<conf::Route> routes = {
      route("api.example.com", "/v1", "api-v1"), route("*.example.com", "/static/", "static"),
      route("[::1]", "/", "loopback6"),          route("example.com", "/api", "apex-api"),
      route("*.example.com", "/", "subdomains"), route("*", "/admin", "admin"),
  };
  return routes;
}

// effective host, target, expected upstream of sampleRoutes() ("" = no route)
void checkSelected(const std::string& host, const std::string& target,
                   const std::string& expected) {
  CAPTURE(host, target);
  const conf::Route* selected = selectRoute(sampleRoutes(), host, target);
  CHECK((selected == nullptr ? std::string() : selected->upstream) == expected);
}

TEST_CASE("policy: route hosts compare without port or trailing dot, case-insensitively",
          "[policy][routing]") {
  auto [host, target, expected] = GENERATE(table<std::string, std::string, std::string>({
      {"api.example.com", "/v1/users", "api-v1"},
      {"API.Example.COM:8443", "/v1", "api-v1"},
      {"EXAMPLE.com.", "/api", "apex-api"},
      {"example.com:80", "/api", "apex-api"},
      // IPv6 literals come bracketed, with or without a port.
      {"[::1]:8080", "/anything", "loopback6"},
      {"[::1]", "/", "loopback6"},
      {"[::2]", "/admin", "admin"},
  }));
  checkSelected(host, target, expected);
}

TEST_CASE("policy: a *. host matches one or more labels in front, never the bare suffix",
          "[policy][routing]") {
  auto [host, target, expected] = GENERATE(table<std::string, std::string, std::string>({
      {"a.example.com", "/static/app.js", "static"},
      {"a.b.example.com", "/static/x", "static"},
      // "*.example.com" never matches example.com itself, nor a name that merely ends alike.
      {"example.com", "/static/x", ""},
      {"notexample.com", "/x", ""},
  }));
  checkSelected(host, target, expected);
}

TEST_CASE("policy: path prefixes match whole segments, byte for byte, without the query",
          "[policy][routing]") {
  auto [host, target, expected] = GENERATE(table<std::string, std::string, std::string>({
      // The query never takes part in prefix matching.
      {"api.example.com", "/v1?page=2", "api-v1"},
      // "/v1" is a segment: "/v10" is another path (it falls through to the wildcard route).
      {"api.example.com", "/v10", "subdomains"},
      // A prefix ending in "/" is a plain prefix: "/static" itself does not match "/static/".
      {"a.example.com", "/static", "subdomains"},
      {"example.com", "/api", "apex-api"},
      {"example.com", "/api/", "apex-api"},
      {"example.com", "/api/x?y=1", "apex-api"},
      {"example.com", "/api?y=1", "apex-api"},
      {"example.com", "/apix", ""},
      // Paths are compared byte for byte: case-sensitive, never normalised or decoded.
      {"other.net", "/Admin", ""},
      {"other.net", "/admin/../x", "admin"},
      {"other.net", "/%61dmin", ""},
  }));
  checkSelected(host, target, expected);
}

TEST_CASE("policy: a * host matches any host, also an absent one", "[policy][routing]") {
  auto [host, target, expected] = GENERATE(table<std::string, std::string, std::string>({
      // Also a suffix trick, and an absent Host (HTTP/1.0).
      {"example.com.evil.net", "/admin/users", "admin"},
      {"", "/admin", "admin"},
      {"", "/x", ""},
  }));
  checkSelected(host, target, expected);
}

TEST_CASE("policy: OPTIONS * is matched by a / prefix only", "[policy][routing]") {
  auto [host, target, expected] = GENERATE(table<std::string, std::string, std::string>({
      {"a.example.com", "*", "subdomains"},
      {"other.net", "*", ""},
  }));
  checkSelected(host, target, expected);
}

TEST_CASE("policy: route order and defaults", "[policy][routing]") {
  // routes as "host prefix upstream;..." , host, target, expected upstream
  auto [table_routes, host, target, expected] =
      GENERATE(table<std::string, std::string, std::string, std::string>({
          {"", "example.com", "/", ""},
          {"* / all", "anything", "/x", "all"},
          {"* / first;* / second", "anything", "/x", "first"},
          {"* /a narrow;* / broad", "h", "/a/b", "narrow"},
          {"* / broad;* /a narrow", "h", "/a/b", "broad"},
          {"::1 / bare6", "[::1]:1", "/", "bare6"},
          {"*.b.c /x/ deep", "a.b.c", "/x/y", "deep"},
      }));
  std::vector<conf::Route> routes;
  std::string_view rest = table_routes;
  while (!rest.empty()) {
    const std::string_view one = rest.substr(0, rest.find(';'));
    const size_t s1 = one.find(' ');
    const size_t s2 = one.find(' ', s1 + 1);
    routes.push_back(route(std::string(one.substr(0, s1)),
                           std::string(one.substr(s1 + 1, s2 - s1 - 1)),
                           std::string(one.substr(s2 + 1))));
    rest.remove_prefix(std::min(rest.size(), one.size() + 1));
  }
  CAPTURE(table_routes, host, target);
  const conf::Route* selected = selectRoute(routes, host, target);
  CHECK((selected == nullptr ? std::string() : selected->upstream) == expected);
}

}  // namespace
}  // namespace hoplite::policy
