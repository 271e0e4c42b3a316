// The command line: -c/--config, --check, --version, --help and the errors.
#include "conf/command_line.h"

#include <catch2/catch.hpp>
#include <sstream>
#include <string>
#include <vector>

using hoplite::conf::CommandLine;
using hoplite::conf::parseCommandLine;
using Action = CommandLine::Action;

namespace {
std::vector<std::string> split(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> words;
  for (std::string word; in >> word;) words.push_back(word);
  return words;
}
}  // namespace

namespace {

// argv without argv[0], space-separated; the action and config path it gives
void checkParses(const std::string& line, Action action, const std::string& path) {
  CAPTURE(line);
  const CommandLine cli = parseCommandLine(split(line));
  CHECK(cli.action == action);
  CHECK(cli.configPath == path);
  CHECK(cli.error.empty());
}

// argv without argv[0], space-separated; part of the error it gives
void checkRefused(const std::string& line, const std::string& errorMentions) {
  CAPTURE(line);
  const CommandLine cli = parseCommandLine(split(line));
  CHECK(cli.action == Action::Invalid);
  CHECK_THAT(cli.error, Catch::Contains(errorMentions));
}

}  // namespace

TEST_CASE("conf: -c and --config name the config file, conf/hoplite.json by default",
          "[conf][cli]") {
  auto [line, action, path] = GENERATE(table<std::string, Action, std::string>({
      {"", Action::Run, "conf/hoplite.json"},
      {"-c my.json", Action::Run, "my.json"},
      {"--config my.json", Action::Run, "my.json"},
      {"--config=my.json", Action::Run, "my.json"},
      {"-c ./-odd.json", Action::Run, "./-odd.json"},
      {"-c -", Action::Run, "-"},
  }));
  checkParses(line, action, path);
}

TEST_CASE("conf: --check, --version and --help pick the action, --help first", "[conf][cli]") {
  auto [line, action, path] = GENERATE(table<std::string, Action, std::string>({
      {"--check", Action::Check, "conf/hoplite.json"},
      {"--check -c a.json", Action::Check, "a.json"},
      {"-c a.json --check", Action::Check, "a.json"},
      {"--config=/etc/hoplite/x.json --check", Action::Check, "/etc/hoplite/x.json"},
      {"--version", Action::Version, "conf/hoplite.json"},
      {"--help", Action::Help, "conf/hoplite.json"},
      {"-h", Action::Help, "conf/hoplite.json"},
      {"--check --help", Action::Help, "conf/hoplite.json"},
      {"--version --help", Action::Help, "conf/hoplite.json"},
      {"--check --version", Action::Version, "conf/hoplite.json"},
  }));
  checkParses(line, action, path);
}

TEST_CASE("conf: unknown options are refused by name", "[conf][cli]") {
  auto [line, errorMentions] = GENERATE(table<std::string, std::string>({
      {"--bogus", "unknown option \"--bogus\""},
      {"-x", "unknown option \"-x\""},
      {"--Check", "unknown option"},
      {"--help --bogus", "unknown option"},  // a bad argument is reported even beside --help
  }));
  checkRefused(line, errorMentions);
}

TEST_CASE("conf: -c and --config take exactly one FILE", "[conf][cli]") {
  auto [line, errorMentions] = GENERATE(table<std::string, std::string>({
      {"-c", "-c needs a FILE"},
      {"--config", "--config needs a FILE"},
      {"--config=", "--config needs a non-empty FILE"},
      {"-c --check", "got the option \"--check\""},
      {"my.json", "write -c my.json"},
      {"-c a.json -c b.json", "given twice"},
      {"-c a.json --config=b.json", "given twice"},
  }));
  checkRefused(line, errorMentions);
}

TEST_CASE("conf: usage text names every option", "[conf][cli]") {
  const std::string usage = hoplite::conf::usageText();
  for (const char* option :
       {"-c", "--config", "--check", "--version", "--help", "-h", "conf/hoplite.json"}) {
    CAPTURE(option);
    CHECK_THAT(usage, Catch::Contains(option));
  }
}
