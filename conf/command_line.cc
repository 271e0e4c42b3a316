#include "conf/command_line.h"

#include <optional>
#include <string_view>

namespace hoplite::conf {

namespace {

CommandLine invalid(std::string error) {
  CommandLine result;
  result.action = CommandLine::Action::Invalid;
  result.error = std::move(error);
  return result;
}

}  // namespace

// Contract: every argument is read before deciding, so a bad argument is reported even next to
// --help. Otherwise --help wins over --version, which wins over --check. The config path may be
// given once; a value that looks like an option ("-c --check") is refused rather than taken as a
// file name, since that is nearly always a missing FILE.
CommandLine parseCommandLine(const std::vector<std::string>& args) {
  bool help = false;
  bool version = false;
  bool check = false;
  bool configGiven = false;
  std::string configPath = CommandLine{}.configPath;

  for (size_t i = 0; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    std::optional<std::string> value;
    std::string_view option = arg;
    if (arg == "-c" || arg == "--config") {
      if (i + 1 >= args.size()) return invalid(std::string(arg) + " needs a FILE");
      value = args[++i];
    } else if (arg.starts_with("--config=")) {
      option = "--config";
      value = std::string(arg.substr(std::string_view("--config=").size()));
    } else if (arg == "--check") {
      check = true;
      continue;
    } else if (arg == "--version") {
      version = true;
      continue;
    } else if (arg == "--help" || arg == "-h") {
      help = true;
      continue;
    } else if (arg.starts_with("-")) {
      return invalid("unknown option \"" + std::string(arg) + "\"");
    } else {
      return invalid("unexpected argument \"" + std::string(arg) +
                     "\"; to use it as the config, "
                     "write -c " +
                     std::string(arg));
    }
    if (value->empty()) return invalid(std::string(option) + " needs a non-empty FILE");
    if (value->size() > 1 && value->front() == '-') {
      return invalid(std::string(option) + " needs a FILE, got the option \"" + *value +
                     "\" (for a file whose name starts with \"-\", write ./" + *value + ")");
    }
    if (configGiven) return invalid("the config file is given twice; give -c FILE once");
    configGiven = true;
    configPath = *value;
  }

  CommandLine result;
  result.configPath = configPath;
  if (help) {
    result.action = CommandLine::Action::Help;
  } else if (version) {
    result.action = CommandLine::Action::Version;
  } else if (check) {
    result.action = CommandLine::Action::Check;
  }
  return result;
}

std::string usageText() {
  return "usage: hoplite [-c FILE]           run the proxy\n"
         "       hoplite --check [-c FILE]   validate FILE, print every error, exit 0 or 2\n"
         "       hoplite --version\n"
         "       hoplite --help\n"
         "\n"
         "options:\n"
         "  -c, --config FILE  the JSON config (default: conf/hoplite.json, relative to the\n"
         "                     working directory); conf/README.md describes every key\n"
         "  --check            check the config and exit: 0 when valid, 2 otherwise\n"
         "  --version          print the version and exit\n"
         "  -h, --help         print this help and exit\n";
}

}  // namespace hoplite::conf
