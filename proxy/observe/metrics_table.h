// The counters of every worker, in memory shared by the supervisor and the workers it forks.
//
// The table is mapped before the first fork (MAP_SHARED | MAP_ANONYMOUS), so each worker writes
// its own slot and whoever serves the admin listener reads all of them, live, with no message
// passing and no lock: each slot has one writer, and every cell is a CounterCell. A worker that
// exited leaves its counts in its slot, so the sums never go backwards. nginx's
// ngx_http_stub_status keeps its counters in shared memory the same way.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "proxy/counters.h"

namespace hoplite::proxy::observe {

class MetricsTable {
 public:
  // `slots` zeroed slots (one per worker) of the fixed Counters and `cellCount` labelled cells
  // each (MetricLayout::cellCount); null after printing why when the memory cannot be mapped.
  static std::unique_ptr<MetricsTable> create(size_t slots, size_t cellCount);
  ~MetricsTable();
  MetricsTable(const MetricsTable&) = delete;
  MetricsTable& operator=(const MetricsTable&) = delete;

  size_t slotCount() const { return slots_; }
  size_t cellCount() const { return cellCount_; }
  Counters& counters(size_t slot);
  CounterCell* cells(size_t slot);

  // Every slot's Counters added up.
  Counters sumCounters() const;
  // Every labelled cell added up over the slots.
  std::vector<uint64_t> sumCells() const;
  // The largest value of one cell over the slots (for last-seen times).
  uint64_t maxCell(size_t cell) const;

 private:
  MetricsTable(void* memory, size_t bytes, size_t slots, size_t cellCount);
  const Counters& countersAt(size_t slot) const;
  const CounterCell* cellsAt(size_t slot) const;

  void* memory_;
  size_t bytes_;
  size_t slots_;
  size_t cellCount_;
  size_t slotBytes_;
};

}  // namespace hoplite::proxy::observe
