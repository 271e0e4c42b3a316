#include "proxy/observe/metrics_table.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <new>

namespace hoplite::proxy::observe {

std::unique_ptr<MetricsTable> MetricsTable::create(size_t slots, size_t cellCount) {
  const size_t slotBytes = sizeof(Counters) + cellCount * sizeof(CounterCell);
  const size_t bytes = slots * slotBytes;
  // Anonymous shared memory is zeroed, which is what a CounterCell starts as.
  void* memory = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) {
    std::fprintf(stderr, "hoplite: cannot map %zu bytes for the metrics: %s\n", bytes,
                 std::strerror(errno));
    return nullptr;
  }
  return std::unique_ptr<MetricsTable>(new MetricsTable(memory, bytes, slots, cellCount));
}

MetricsTable::MetricsTable(void* memory, size_t bytes, size_t slots, size_t cellCount)
    : memory_(memory),
      bytes_(bytes),
      slots_(slots),
      cellCount_(cellCount),
      slotBytes_(sizeof(Counters) + cellCount * sizeof(CounterCell)) {
  static_assert(alignof(Counters) == alignof(CounterCell));
  for (size_t slot = 0; slot < slots_; ++slot) {
    char* base = static_cast<char*>(memory_) + slot * slotBytes_;
    new (base) Counters();
    CounterCell* cells = reinterpret_cast<CounterCell*>(base + sizeof(Counters));
    for (size_t i = 0; i < cellCount_; ++i) new (cells + i) CounterCell();
  }
}

MetricsTable::~MetricsTable() {
  // The cells are trivially destructible atomics: unmapping is enough.
  ::munmap(memory_, bytes_);
}

Counters& MetricsTable::counters(size_t slot) {
  return *std::launder(
      reinterpret_cast<Counters*>(static_cast<char*>(memory_) + slot * slotBytes_));
}

CounterCell* MetricsTable::cells(size_t slot) {
  return std::launder(reinterpret_cast<CounterCell*>(static_cast<char*>(memory_) +
                                                     slot * slotBytes_ + sizeof(Counters)));
}

const Counters& MetricsTable::countersAt(size_t slot) const {
  return const_cast<MetricsTable*>(this)->counters(slot);
}

const CounterCell* MetricsTable::cellsAt(size_t slot) const {
  return const_cast<MetricsTable*>(this)->cells(slot);
}

Counters MetricsTable::sumCounters() const {
  Counters sum;
  for (size_t slot = 0; slot < slots_; ++slot) sum += countersAt(slot);
  return sum;
}

std::vector<uint64_t> MetricsTable::sumCells() const {
  std::vector<uint64_t> sum(cellCount_, 0);
  for (size_t slot = 0; slot < slots_; ++slot) {
    const CounterCell* cells = cellsAt(slot);
    for (size_t i = 0; i < cellCount_; ++i) sum[i] += cells[i].load();
  }
  return sum;
}

uint64_t MetricsTable::maxCell(size_t cell) const {
  uint64_t most = 0;
  for (size_t slot = 0; slot < slots_; ++slot) most = std::max(most, cellsAt(slot)[cell].load());
  return most;
}

}  // namespace hoplite::proxy::observe
