// hoplite's command line: `hoplite [-c FILE]`, `hoplite --check [-c FILE]`, `--version`, `--help`.
#pragma once

#include <string>
#include <vector>

namespace hoplite::conf {

struct CommandLine {
  enum class Action { Run, Check, Version, Help, Invalid };
  Action action = Action::Run;
  std::string configPath = "conf/hoplite.json";  // relative to the working directory
  std::string error;                             // for Invalid: what was wrong
};

// Parses argv (argv[0] excluded). Accepts "-c FILE", "--config FILE", "--config=FILE".
CommandLine parseCommandLine(const std::vector<std::string>& args);

// The --help text.
std::string usageText();

}  // namespace hoplite::conf
