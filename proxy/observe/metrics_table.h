// The counters of every worker, in memory shared by the supervisor and the workers it forks.
//
// The table is mapped before the first fork (MAP_SHARED | MAP_ANONYMOUS), so each worker writes
// its own slot and whoever serves the admin listener reads all of them, live, with no message
// passing and no lock: each slot has one writer, and every cell is a CounterCell. A worker that
// exited leaves its counts in its slot, so the sums never go backwards. nginx's
// ngx_http_stub_status keeps its counters in shared memory the same way.
//
// A reload whose labels differ from the last generation's counts into cells after the last ones
// used (observe::Generations), so each slot reserves room for kCellCapacity cells: the mapping is
// MAP_NORESERVE and its pages are touched only once cells are used, so room costs address space,
// not memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "proxy/counters.h"

namespace hoplite::proxy::observe {

class MetricsTable {
 public:
  // Labelled cells each slot has room for, over every config generation: 8 MiB of address space.
  static constexpr size_t kCellCapacity = size_t{1} << 20;

  // `slots` zeroed slots (one per worker) of the fixed Counters and room for `capacity` labelled
  // cells each, of which the first `cellCount` (the first generation's MetricLayout::cellCount)
  // are ready; null after printing why when the memory cannot be mapped. `reserved` (at least
  // `slots`) slots are mapped, for workers a reload starts later (addSlot); like the cells'
  // room, they cost address space only until used.
  static std::unique_ptr<MetricsTable> create(size_t slots, size_t cellCount,
                                              size_t capacity = kCellCapacity, size_t reserved = 0);
  ~MetricsTable();
  MetricsTable(const MetricsTable&) = delete;
  MetricsTable& operator=(const MetricsTable&) = delete;

  // The slots in use: the sums read these.
  size_t slotCount() const { return slots_; }
  // One more slot in use, its cells [0, cellCount) ready, for a worker that has not started
  // yet; its index, or nullopt when every reserved slot is taken. Slots are never reused, so
  // that a worker that exited keeps its counts in the sums.
  std::optional<size_t> addSlot(size_t cellCount);
  size_t reservedSlots() const { return reserved_; }
  size_t capacity() const { return capacity_; }
  Counters& counters(size_t slot);
  CounterCell* cells(size_t slot);
  // Makes cells [begin, end) of `slot` ready for counting (end <= capacity()). Only the process
  // that writes the slot calls it, before it counts there: the cells start at zero, and no other
  // process writes them.
  void prepare(size_t slot, size_t begin, size_t end);

  // Every slot's Counters added up.
  Counters sumCounters() const;
  // The first `count` labelled cells, each added up over the slots.
  std::vector<uint64_t> sumCells(size_t count) const;
  // The largest value of one cell over the slots (for last-seen times).
  uint64_t maxCell(size_t cell) const;

 private:
  MetricsTable(void* memory, size_t bytes, size_t slots, size_t reserved, size_t capacity);
  const Counters& countersAt(size_t slot) const;
  const CounterCell* cellsAt(size_t slot) const;

  void* memory_;
  size_t bytes_;
  size_t slots_;
  size_t reserved_;
  size_t capacity_;
  size_t slotBytes_;
};

}  // namespace hoplite::proxy::observe
