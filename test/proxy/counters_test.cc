// The counters line: what a worker sends its supervisor and what the supervisor prints as the
// sum. Reading a line back must give every counter, and anything else must be refused.
#include "proxy/counters.h"

#include <catch2/catch.hpp>
#include <string>

namespace hoplite::proxy {
namespace {

// Every counter set to a different value (1, 2, 3, ...), so that a field printed or read under
// another's name shows up.
Counters distinctCounters(uint64_t start) {
  Counters counters;
  uint64_t value = start;
  for (const Counters::Field& field : Counters::fields()) counters.*field.member = value++;
  return counters;
}

TEST_CASE("proxy: a counters line reads back as the same counters", "[proxy][counters]") {
  const Counters counters = distinctCounters(1);
  const std::string text = counters.toText();
  CHECK(text.starts_with("accepted=1 requests=2 upstream_connects=3 "));
  CHECK(text.ends_with(" upstream_connect_failures=17 log_lines_dropped=18"));
  const std::optional<Counters> parsed = Counters::fromText(text);
  REQUIRE(parsed.has_value());
  CHECK(*parsed == counters);

  const Counters large = distinctCounters(UINT64_MAX - Counters::kFieldCount);
  CHECK(Counters::fromText(large.toText()) == large);
}

TEST_CASE("proxy: counters add up field by field", "[proxy][counters]") {
  Counters sum = distinctCounters(1);
  sum += distinctCounters(100);
  uint64_t expected = 101;
  for (const Counters::Field& field : Counters::fields()) {
    CHECK(sum.*field.member == expected);
    expected += 2;
  }
}

TEST_CASE("proxy: a counters line that is not whole or not ours is refused", "[proxy][counters]") {
  const std::string whole = distinctCounters(1).toText();
  const std::string first = "accepted=1 ";
  const auto [name, text] = GENERATE_REF(table<std::string, std::string>({
      {"empty", ""},
      {"cut short", whole.substr(0, whole.size() - 3)},
      {"a key missing", whole.substr(first.size())},
      {"a key repeated", first + whole},
      {"an unknown key", whole + " bogus=1"},
      {"no value", "accepted= " + whole.substr(first.size())},
      {"a negative value", "accepted=-1 " + whole.substr(first.size())},
      {"a value with a sign", "accepted=+1 " + whole.substr(first.size())},
      {"a value past 64 bits", "accepted=18446744073709551616 " + whole.substr(first.size())},
      {"a trailing space", whole + " "},
      {"two spaces", "accepted=1  " + whole.substr(first.size())},
      {"no equals sign", "accepted " + whole.substr(first.size())},
  }));
  INFO(name << ": \"" << text << "\"");
  CHECK_FALSE(Counters::fromText(text).has_value());
}

TEST_CASE("proxy: counters since a copy are what was counted after it", "[proxy][counters]") {
  // A worker started in a retired worker's slot reports only its own counts.
  Counters slot = distinctCounters(10);
  const Counters inherited = slot;
  slot += distinctCounters(1);
  CHECK(slot.since(inherited) == distinctCounters(1));
  CHECK(slot.since(slot) == Counters());
}

}  // namespace
}  // namespace hoplite::proxy
