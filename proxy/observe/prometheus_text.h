// /metrics: the Prometheus text exposition format, version 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/), from the summed counters.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/counters.h"
#include "proxy/observe/metric_layout.h"

namespace hoplite::proxy::observe {

inline constexpr std::string_view kPrometheusContentType = "text/plain; version=0.0.4";

// The process families, summed over the supervisor and its workers (or the one process).
struct ProcessFacts {
  uint64_t residentBytes = 0;
  uint64_t openFds = 0;
  double cpuSeconds = 0;
  double startTimeSeconds = 0;  // the oldest of the processes: the supervisor's start
};

// What the exposition says about this hoplite beyond its counters.
struct RuntimeFacts {
  std::string_view version;
  double startTimeSeconds = 0;     // Unix time the process (the supervisor) started serving
  double configLoadedSeconds = 0;  // Unix time its config was loaded
  uint64_t configGeneration = 1;   // 1 at start, one more for each successful reload
  uint64_t reloadsOk = 0;
  uint64_t reloadsFailed = 0;
  uint32_t workers = 1;
};

// Every family, with HELP and TYPE lines, series in the layout's label order. `cells` is
// Generations::foldedCells(), `counters` the table's sumCounters(); both come from one table, so
// that the exposition and the exit line agree.
std::string renderPrometheus(const MetricLayout& layout, const Counters& counters,
                             const std::vector<uint64_t>& cells, const RuntimeFacts& runtime,
                             const ProcessFacts& process);

}  // namespace hoplite::proxy::observe
