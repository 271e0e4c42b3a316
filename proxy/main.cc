// hoplite's entry point: parses the command line, loads the config, and runs or checks it.
#include <cstdio>
#include <string>
#include <vector>

#include "conf/command_line.h"
#include "conf/config_loader.h"

int main(int argc, char** argv) {
  using hoplite::conf::CommandLine;
  const CommandLine cli =
      hoplite::conf::parseCommandLine(std::vector<std::string>(argv + 1, argv + argc));
  switch (cli.action) {
    case CommandLine::Action::Help:
      std::fputs(hoplite::conf::usageText().c_str(), stdout);
      return 0;
    case CommandLine::Action::Version:
      std::printf("hoplite %s\n", HOPLITE_VERSION);
      return 0;
    case CommandLine::Action::Invalid:
      std::fprintf(stderr, "hoplite: %s\n%s", cli.error.c_str(), hoplite::conf::usageText().c_str());
      return 2;
    case CommandLine::Action::Check:
    case CommandLine::Action::Run:
      break;
  }
  const hoplite::conf::LoadResult loaded = hoplite::conf::loadConfigFile(cli.configPath);
  for (const auto& error : loaded.errors) {
    std::fprintf(stderr, "hoplite: %s: %s\n", cli.configPath.c_str(), error.toText().c_str());
  }
  if (!loaded.config) return 2;
  if (cli.action == CommandLine::Action::Check) {
    std::printf("hoplite: %s is valid\n", cli.configPath.c_str());
    return 0;
  }
  // TODO(engine): run the proxy.
  std::fprintf(stderr, "hoplite: the proxy engine is not built yet\n");
  return 1;
}
