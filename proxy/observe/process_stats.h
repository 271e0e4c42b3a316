// The standard process_* metrics, read from Linux's /proc for a set of processes.
#pragma once

#include <sys/types.h>

#include <span>

#include "proxy/observe/prometheus_text.h"

namespace hoplite::proxy::observe {

// Resident memory, open descriptors and CPU time summed over `pids`, and the earliest start
// time among them. A process that cannot be read (it just exited) adds nothing.
ProcessFacts readProcessFacts(std::span<const pid_t> pids);

}  // namespace hoplite::proxy::observe
