// log.errors: hoplite's own lines (start-up, warnings, errors, counters) go to standard error,
// which is pointed at a file when the config names one. Every process writes through its fd 2,
// each line in one write (stdio's line-sized fprintf on an O_APPEND file), so lines from the
// supervisor and its workers do not interleave within a line.
#pragma once

#include <string>

namespace hoplite::proxy::observe {

// Points fd 2 at `destination` ("stderr" leaves it as it is; else a path, appended to, created
// 0640). False with `error` set ("/var/log/x: Permission denied") when the file cannot be opened;
// fd 2 is then unchanged. Used at start and again on SIGUSR1 (after logrotate renamed it).
bool openErrorLog(const std::string& destination, std::string& error);

}  // namespace hoplite::proxy::observe
