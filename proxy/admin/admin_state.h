// What the admin listener reports, from whichever process serves it: the one process, or the
// supervisor of several workers (which reads the workers' counters from the shared table).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "proxy/observe/generations.h"
#include "proxy/observe/metrics_table.h"

namespace hoplite::proxy::admin {

class AdminState {
 public:
  struct Sources {
    std::string configPath;
    int64_t startUnixMs = 0;
    uint32_t workers = 1;
    // The processes whose resource use process_* sums (this one first).
    std::function<std::vector<pid_t>()> processes;
    // Whether a shutdown has started (then /healthz answers 503).
    std::function<bool()> draining;
    // With workers: each one's number, pid and the config generation it last said it serves
    // (/status "worker_generations"); empty for a single process.
    struct WorkerGeneration {
      uint32_t number = 0;
      pid_t pid = 0;
      uint64_t generation = 0;
      uint64_t loadedUnixMs = 0;  // when it said it serves that generation (0: not yet)
    };
    std::function<std::vector<WorkerGeneration>()> workerGenerations = nullptr;
    // With workers: how many serve now (a reload changes it); `workers` when unset.
    std::function<uint32_t()> workerCount = nullptr;
  };

  // `generations`: the config generations of the process that serves the admin listener (the
  // current one's layout, and every one's cells to fold into it).
  AdminState(const observe::Generations& generations, const observe::MetricsTable& table,
             Sources sources);

  bool draining() const { return sources_.draining(); }
  // The Prometheus exposition of the counters summed over every slot, read now.
  std::string metricsText() const;
  // Client connections (tunnels' included) and tunnels open now, summed over the workers.
  struct OpenCounts {
    uint64_t connections = 0;
    uint64_t tunnels = 0;
  };
  OpenCounts openCounts() const;
  // /status: one JSON object (docs: README.md, "Admin listener").
  std::string statusJson() const;

 private:
  const observe::Generations& generations_;
  const observe::MetricsTable& table_;
  Sources sources_;
};

}  // namespace hoplite::proxy::admin
