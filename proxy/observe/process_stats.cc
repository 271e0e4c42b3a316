#include "proxy/observe/process_stats.h"

#include <dirent.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

namespace hoplite::proxy::observe {

namespace {

// The system's boot time in Unix seconds (/proc/stat's btime), which process start times in
// /proc/PID/stat are counted from.
double bootTimeSeconds() {
  std::ifstream stat("/proc/stat");
  std::string line;
  while (std::getline(stat, line)) {
    if (line.rfind("btime ", 0) == 0) return std::stod(line.substr(6));
  }
  return 0;
}

uint64_t countOpenFds(pid_t pid) {
  const std::string path = "/proc/" + std::to_string(pid) + "/fd";
  DIR* dir = ::opendir(path.c_str());
  if (dir == nullptr) return 0;
  uint64_t count = 0;
  while (const struct dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] != '.') ++count;
  }
  ::closedir(dir);
  return count;
}

}  // namespace

ProcessFacts readProcessFacts(std::span<const pid_t> pids) {
  ProcessFacts facts;
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  const uint64_t pageBytes = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  const double boot = bootTimeSeconds();
  const pid_t self = ::getpid();
  for (const pid_t pid : pids) {
    const std::string base = "/proc/" + std::to_string(pid);
    std::ifstream statFile(base + "/stat");
    std::string stat((std::istreambuf_iterator<char>(statFile)), std::istreambuf_iterator<char>());
    // The command name (field 2) is in parentheses and may hold spaces: count fields after the
    // last ')'. Field 3 is the state; utime, stime and starttime are fields 14, 15 and 22.
    const size_t close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream fields(stat.substr(close + 2));
    std::string field;
    double utime = 0;
    double stime = 0;
    double start = 0;
    for (int number = 3; number <= 22 && fields >> field; ++number) {
      if (number == 14) utime = std::stod(field);
      if (number == 15) stime = std::stod(field);
      if (number == 22) start = std::stod(field);
    }
    facts.cpuSeconds += (utime + stime) / ticks;
    const double started = boot + start / ticks;
    if (facts.startTimeSeconds == 0 || started < facts.startTimeSeconds) {
      facts.startTimeSeconds = started;
    }
    std::ifstream statm(base + "/statm");
    uint64_t sizePages = 0;
    uint64_t residentPages = 0;
    if (statm >> sizePages >> residentPages) facts.residentBytes += residentPages * pageBytes;
    const uint64_t fds = countOpenFds(pid);
    // Our own list includes the descriptor opendir held while reading it.
    facts.openFds += pid == self && fds > 0 ? fds - 1 : fds;
  }
  return facts;
}

}  // namespace hoplite::proxy::observe
