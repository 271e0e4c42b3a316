// The config generations one process has loaded, as its metrics see them.
//
// Each generation counts into the cells of its MetricLayout. A reload that keeps every label
// value (the usual case: timeouts, limits, a route sent to another upstream) counts into the
// cells of the generation before it; one that adds or renames a listener, route, upstream, server
// or upgrade protocol gets cells of its own, after the last ones used. Exchanges and tunnels keep
// counting into the generation they started on, so after a reload two sets of cells can be live
// at once. Whoever serves /metrics folds every set into the current layout, label by label: a
// series whose labels the current config still has goes on counting across reloads, as a
// Prometheus counter must; one it lost is no longer shown (a series that ends).
//
// Every process of a supervisor applies the same configs in the same order, so they compute the
// same layouts and agree on where each generation's cells are, with nothing sent between them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "conf/config.h"
#include "proxy/observe/metric_layout.h"
#include "proxy/observe/metrics_table.h"

namespace hoplite::proxy::observe {

class Generations {
 public:
  // Generation 1: `first`, loaded at `loadedUnixMs`.
  Generations(std::shared_ptr<const MetricLayout> first, int64_t loadedUnixMs);

  uint64_t number() const { return number_; }
  int64_t loadedUnixMs() const { return loadedUnixMs_; }
  const MetricLayout& layout() const { return *regions_.back(); }
  const std::shared_ptr<const MetricLayout>& layoutShared() const { return regions_.back(); }

  // The layout the next generation, `config` with these listener labels (one per `listen`
  // address: its bound text), would count into: the current cells when its labels are the
  // current ones, else cells after the last used. Null, with `problem` saying why, when they do
  // not fit in `capacity` cells.
  std::shared_ptr<MetricLayout> layoutFor(const conf::Config& config,
                                          const std::vector<std::string>& listenerLabels,
                                          size_t capacity, std::string& problem) const;
  // The reload succeeded: `layout` (from layoutFor) is the current generation from now on,
  // numbered `number` (a worker takes its supervisor's), or one more than the last when 0.
  void adopt(std::shared_ptr<const MetricLayout> layout, int64_t loadedUnixMs, uint64_t number = 0);

  // The cells of every generation, from `table`, summed over its slots and folded into the
  // current layout label by label; indexed as the current layout's offsets say. The server
  // last-up and last-down cells hold the latest time of any slot and generation instead.
  std::vector<uint64_t> foldedCells(const MetricsTable& table) const;

  // hoplite_config_reloads_total{result}: counted by whoever validates reloads.
  uint64_t reloadsOk = 0;
  uint64_t reloadsFailed = 0;

 private:
  // One layout per set of cells, in the order they were taken, each the latest generation that
  // counts there; the last is the current generation's.
  std::vector<std::shared_ptr<const MetricLayout>> regions_;
  uint64_t number_ = 1;
  int64_t loadedUnixMs_ = 0;
};

}  // namespace hoplite::proxy::observe
